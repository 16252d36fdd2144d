"""Non-linearity correction: the per-pixel polynomial of linear_corr; unusable coefficients fall back to identity."""

from arielcal import calib, formats, steps

with steps.step(snakemake, "linearity") as step:
    coeffs, lin_flags = calib.clean_linearity_coefficients(step.calibration("linear_corr"))
    cube_in = formats.load_npy(snakemake.input.cube)
    cube = calib.apply_linearity(cube_in, coeffs, out=step.cube_out(cube_in.shape))
    step.write_cube(cube, step.input_dq() | lin_flags)
