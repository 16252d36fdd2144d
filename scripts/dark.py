"""Dark subtraction: dark current map times the integration time of each frame."""

from arielcal import calib, formats, observation, steps

with steps.step(snakemake, "dark") as step:
    cube = formats.load_npy(snakemake.input.cube)
    dt = observation.integration_times(
        step.instrument,
        formats.read_axis_info(snakemake.input.axis_info),
        cube.shape[-1],
        step.params["second_read_extra_s"],
        snakemake.input.axis_info,
    )
    step.extra["integration_time_s"] = {"even": float(dt[0]), "odd": float(dt[1])}
    dark = step.calibration("dark")
    corrected = calib.subtract_dark(cube, dark, dt, out=step.cube_out(cube.shape))
    step.write_cube(corrected, step.input_dq() | calib.dark_dq(dark))
