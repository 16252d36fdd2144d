"""Observation product from the last stage: the notebook's layout (time, column, row), DQ, metadata."""

from arielcal import formats, steps

with steps.step(snakemake, "product") as step:
    steps.write_product(
        step,
        cube=formats.load_npy(snakemake.input.cube),
        dq=step.input_dq(),
        # `in` on Snakemake's Namedlist tests the values, not the names
        n_valid=formats.load_npy(snakemake.input.nvalid) if "nvalid" in snakemake.input.keys() else None,  # noqa: SIM118
        axis=formats.read_axis_info(snakemake.input.axis_info),
        frames_per_bin=step.params["frames_per_bin"],
        stages=[formats.load_json(path) for path in snakemake.input.stage_meta],
    )
