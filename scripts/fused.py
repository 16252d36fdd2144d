"""Fused mode: every enabled stage of one observation in memory, straight to the products."""

from arielcal import threads

threads.limit(snakemake.threads)

from arielcal import formats, pipeline, workflow

with workflow.step(snakemake, "fused") as step:
    params = step.params
    raw, gain, offset = step.read_raw()
    axis = formats.read_axis_info(snakemake.input.axis_info)
    dt = workflow.integration_times(
        step.instrument, axis, raw.shape[-1], params["second_read_extra_s"], snakemake.input.axis_info
    )
    maps = {kind: step.calibration(kind) for kind in ("dead", "dark", "flat", "linear_corr")}
    settings = pipeline.Settings(
        stages=frozenset(params["stages"]),
        frames_per_bin=params["frames_per_bin"],
        sigma=params["sigma"],
        maxiters=params["maxiters"],
        hot_action=params["hot"],
        dead_action=params["dead"],
    )
    if settings.stages >= {"bin"}:
        workflow.require_cds_frames(snakemake.input.signal, step.instrument, raw.shape[-1] // 2, settings.frames_per_bin)
    cube, dq, n_valid = pipeline.calibrate(raw, gain, offset, dt, maps, settings, threads=snakemake.threads)
    workflow.write_product(
        step,
        cube=cube,
        dq=dq,
        n_valid=n_valid,
        axis=axis,
        frames_per_bin=params["frames_per_bin"] if "bin" in params["stages"] else 1,
        stages=[{"stage": name, "mode": "fused"} for name in params["stages"]],
    )
