"""In-painted product for machine learning: excluded (NaN) values filled along the column axis."""

from arielcal import calib, formats, steps

with steps.step(snakemake, "inpaint"):
    calibrated = formats.load_npy(snakemake.input.calibrated)
    formats.save_npy(snakemake.output.inpainted, calib.inpaint_columns(calibrated))
