"""Flat field: divide by the flat; dead pixels and unusable flats (NaN, <= 0) are flagged, not divided."""

from arielcal import calib, formats, steps

with steps.step(snakemake, "flat") as step:
    cube, dq = calib.flat_field(formats.load_npy(snakemake.input.cube), step.calibration("flat"), step.input_dq())
    step.write_cube(cube, dq)
