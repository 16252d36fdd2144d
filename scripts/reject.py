"""Fail, with its reason, for an observation rejected before the run (missing file, no ADC row).

The failure makes the run exit non-zero and lists the observation in the failure summary,
while every other observation still runs under --keep-going.
"""

from arielcal import steps

with steps.step(snakemake, "reject"):
    raise steps.Rejected(snakemake.params.reason)
