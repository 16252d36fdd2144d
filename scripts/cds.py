"""Correlated double sampling: second minus first read of each pair."""

from arielcal import calib, formats, steps

with steps.step(snakemake, "cds") as step:
    step.write_cube(calib.cds(formats.load_npy(snakemake.input.cube)), step.input_dq())
