"""Temporal outliers: CDS frames far from their block's median (cosmic rays) become NaN, flagged JUMP_DET."""

from arielcal import calib, formats, steps

with steps.step(snakemake, "outliers") as step:
    cds = formats.load_npy(snakemake.input.cube)
    cube, rejected = calib.reject_outliers(
        cds,
        step.calibration("read"),
        threshold=step.params["threshold"],
        window=step.params["window"],
        out=step.cube_out(cds.shape),
    )
    step.extra["rejected_frames"] = int(rejected.sum())
    step.write_cube(cube, step.input_dq() | calib.outlier_dq(rejected))
