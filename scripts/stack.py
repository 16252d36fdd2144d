"""Stack the products of one split and instrument into (N, time, column, row), rows as in observations.csv.

A row is NaN where the observation has no product (an instrument without a signal file, a
rejected observation): the rows of both instruments stay aligned. A damaged product (truncated
by hand) fails the job with its name and is removed, so the next run recalibrates it; the stack
is written complete or not at all (arielcal.stacks).
"""

from arielcal import stacks, steps

with steps.step(snakemake, "stack") as step:
    split, instrument = snakemake.wildcards.split, snakemake.wildcards.instrument
    rows = stacks.build(snakemake.output[0], snakemake.params.slots, split, instrument)
    nan_rows = [[row.planet, row.visit] for row in rows if not row.real]
    steps.log.info("stacked %d rows, NaN rows for observations without a product: %s", len(rows), nan_rows)
