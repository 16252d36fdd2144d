"""Stack the products of one split and instrument into (N, time, column, row), rows as in observations.csv.

An observation whose instrument has no signal file gets a NaN slab, so the rows of both
instruments stay aligned.
"""

import numpy as np

from arielcal import formats, steps

with steps.step(snakemake, "stack") as step:
    slots = snakemake.params.slots
    shape = (len(slots), *formats.load_npy(snakemake.input[0]).shape)
    with formats.npy_writer(snakemake.output[0], shape, np.float32) as stacked:
        for row, (_, _, path) in enumerate(slots):
            stacked[row] = formats.load_npy(path) if path else np.nan
    missing = [[planet, visit] for planet, visit, path in slots if not path]
    steps.log.info("stacked %s, NaN rows for missing observations: %s", shape, missing)
