"""Bad-pixel DQ map: dead pixels from dead.parquet, hot pixels by sigma-clipping the (cut) dark."""

from arielcal import calib, steps

with steps.step(snakemake, "mask") as step:
    pixel_flags = calib.pixel_dq(
        step.calibration("dead"),
        step.calibration("dark"),
        sigma=step.params["sigma"],
        maxiters=step.params["maxiters"],
        hot_action=step.params["hot"],
        dead_action=step.params["dead"],
    )
    dq = step.input_dq()
    step.write_dq(dq | pixel_flags | calib.saturated_dq(dq, step.params["saturated"]))
