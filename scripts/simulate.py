"""Write one simulated observation (signal and calibration maps) or the top-level tables."""

from arielcal import threads

threads.limit(snakemake.threads)

from arielcal import config, simulate, steps  # noqa: E402 (after threads.limit, before numpy starts its pools)

with steps.step(snakemake, "simulate") as step:
    settings = config.simulation({"simulation": snakemake.params.simulation})
    out_dir = snakemake.params.simulation["out_dir"]
    wildcards = snakemake.wildcards
    if "signal" in snakemake.output.keys():  # noqa: SIM118 (a Namedlist: `in` tests values)
        simulate.write_observation(
            settings,
            out_dir,
            wildcards.split,
            int(wildcards.planet),
            int(getattr(wildcards, "visit", 0)),
            wildcards.instrument,
        )
    else:
        simulate.write_tables(settings, out_dir)
