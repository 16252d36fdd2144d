"""Observation product: the last stage's cube in the notebook's layout (time, column, row), DQ, metadata."""

from arielcal import threads

threads.limit(snakemake.threads)

import numpy as np

from arielcal import calib, dq as dqflags, formats, workflow
from arielcal.errors import InputError
from arielcal.instruments import AIRS

with workflow.step(snakemake, "product") as step:
    cube = formats.load_npy(snakemake.input.cube)
    dq = step.input_dq()
    axis = formats.read_axis_info(snakemake.input.axis_info)
    frame_times = formats.axis_times_h(axis, step.instrument)
    times = calib.bin_times(frame_times, step.params["frames_per_bin"])
    if times.size < cube.shape[-1]:
        raise InputError(
            snakemake.input.axis_info,
            f"at least {2 * cube.shape[-1] * step.params['frames_per_bin']} "
            f"{step.instrument.name} time stamps",
            f"{frame_times.size}",
        )
    start, stop = step.columns
    wavelength = (
        axis[formats.AXIS_WAVELENGTH][start:stop].tolist() if step.instrument is AIRS else None
    )
    # The binned cube is small; an unbinned one is the opt-in debug product.
    formats.save_npy(snakemake.output.calibrated, np.ascontiguousarray(cube.transpose(2, 1, 0)))
    formats.save_npy(snakemake.output.dq, np.ascontiguousarray(dq.T))
    if "nvalid" in snakemake.output.keys():
        n_valid = formats.load_npy(snakemake.input.nvalid)
        formats.save_npy(snakemake.output.nvalid, np.ascontiguousarray(n_valid.transpose(2, 1, 0)))
    step.extra.update(
        axes=["time", "column", "row"],
        shape=[cube.shape[2], cube.shape[1], cube.shape[0]],
        units="e- summed over the frames of each bin (ADC-inverted units)",
        columns=[start, stop],
        wavelength_um=wavelength,
        wavelength_order="detector columns; AIRS wavelength decreases with column index",
        time_h=times[: cube.shape[-1]].tolist(),
        dq_flags={flag.name: int(flag) for flag in dqflags.DQ},
        dq_counts=dqflags.counts(dq),
        excluded_pixels=int(np.count_nonzero(dqflags.excluded(dq))),
        stages={
            meta["stage"]: meta
            for meta in map(formats.load_json, snakemake.input.stage_meta)
        },
    )
