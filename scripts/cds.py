"""Correlated double sampling: second minus first read of each pair."""

from arielcal import calib, formats, steps

with steps.step(snakemake, "cds") as step:
    reads = formats.load_npy(snakemake.input.cube)
    rows, cols, frames = reads.shape
    step.write_cube(calib.cds(reads, out=step.cube_out((rows, cols, frames // 2))), step.input_dq())
