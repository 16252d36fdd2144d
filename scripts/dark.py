"""Dark subtraction: dark current map times the integration time of each frame."""

from arielcal import threads

threads.limit(snakemake.threads)

from arielcal import calib, formats, workflow
from arielcal.errors import InputError
from arielcal.instruments import AIRS, FGS1_FRAME_S

with workflow.step(snakemake, "dark") as step:
    cube = formats.load_npy(snakemake.input.cube)
    extra = step.params["second_read_extra_s"]
    if step.instrument is AIRS:
        axis = formats.read_axis_info(snakemake.input.axis_info)
        dt = calib.integration_times_from_axis(axis[formats.AXIS_INTEGRATION], extra)
    else:
        # axis_info has no FGS1 integration time: the notebook's constant frame time.
        dt = calib.integration_times(cube.shape[-1], FGS1_FRAME_S, FGS1_FRAME_S, extra)
    if dt.size != cube.shape[-1]:
        raise InputError(
            snakemake.input.axis_info,
            f"{cube.shape[-1]} {step.instrument.name} integration times (one per raw frame)",
            f"{dt.size}",
        )
    step.extra["integration_time_s"] = {"even": float(dt[0]), "odd": float(dt[1])}
    step.write_cube(calib.subtract_dark(cube, step.calibration("dark"), dt), step.input_dq())
