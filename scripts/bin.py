"""Time binning: N consecutive CDS frames per bin (trailing frames dropped), with a count of valid frames."""

from arielcal import calib, formats, observation, steps

with steps.step(snakemake, "bin") as step:
    cube = formats.load_npy(snakemake.input.cube)
    frames_per_bin = step.params["frames_per_bin"]
    observation.require_cds_frames(snakemake.input.cube, step.instrument, cube.shape[-1], frames_per_bin)
    binned, n_valid = calib.bin_frames(cube, frames_per_bin)
    step.extra["dropped_frames"] = cube.shape[-1] % frames_per_bin
    formats.save_npy(snakemake.output.nvalid, n_valid)
    step.write_cube(binned, step.input_dq())
