"""Stack the products of one split and instrument into (N, time, column, row), rows as in observations.csv.

A row is NaN where the observation has no product (an instrument without a signal file, a
rejected observation): the rows of both instruments stay aligned; with no product at all the
stack is all NaN, of the shape the products would have (from axis_info). A damaged product
(truncated by hand) fails the job with its name and is removed, so the next run recalibrates it
(the run start rebuilds one it finds damaged, rules/collect_inputs.smk); the stack is written
complete or not at all (arielcal.stacks).
"""

from arielcal import stacks, steps

with steps.step(snakemake, "stack") as step:
    split, instrument = snakemake.wildcards.split, snakemake.wildcards.instrument
    params = snakemake.params
    rows = stacks.build(
        snakemake.output[0],
        params.slots,
        split,
        instrument,
        shape_of=lambda: stacks.nan_shape(snakemake.input.axis_info, instrument, params.columns, params.frames_per_bin),
    )
    nan_rows = [[row.planet, row.visit] for row in rows if not row.real]
    if len(nan_rows) == len(rows):
        steps.log.warning("no %s observation of %s calibrated: every row is NaN %s", instrument, split, nan_rows)
    steps.log.info("stacked %d rows, NaN rows for observations without a product: %s", len(rows), nan_rows)
