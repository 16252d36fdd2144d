"""Fused mode: every enabled stage of one observation in memory, straight to the products."""

from arielcal import fused, observation, steps

with steps.step(snakemake, "fused") as step:
    params, inputs = step.params, snakemake.input
    settings = fused.Settings.from_params(params)
    stats = {}
    result = observation.calibrate_fused(
        inputs.signal,
        inputs.adc_info,
        inputs.axis_info,
        {kind: inputs[kind] for kind in observation.FUSED_MAPS},
        int(snakemake.wildcards.planet),
        step.instrument,
        step.columns,
        settings,
        params["second_read_extra_s"],
        threads=snakemake.threads,
        stats=stats,
    )
    step.extra.update(gain=result.gain, offset=result.offset, raw_frames=result.raw_frames)
    steps.write_product(
        step,
        cube=result.cube,
        dq=result.dq,
        n_valid=result.n_valid,
        axis=result.axis,
        frames_per_bin=params["frames_per_bin"] if "bin" in params["stages"] else 1,
        stages=[{"stage": name, "mode": "fused", **stats.get(name, {})} for name in params["stages"]],
    )
