"""Temporal outliers: CDS frames far from their block's median (cosmic rays) become NaN, flagged JUMP_DET."""

from arielcal import calib, formats, steps

with steps.step(snakemake, "outliers") as step:
    cube, rejected = calib.reject_outliers(
        formats.load_npy(snakemake.input.cube),
        step.calibration("read"),
        threshold=step.params["threshold"],
        window=step.params["window"],
    )
    step.extra["rejected_frames"] = int(rejected.sum())
    step.write_cube(cube, step.input_dq() | calib.outlier_dq(rejected))
