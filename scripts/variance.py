"""Per-pixel variance of an observation product: variance.npy next to calibrated.npy (docs/science.md).

The model needs what the product was made with: its column cut ("columns"), the stages that ran
("stages") and the CDS frames per bin ("params.frames_per_bin"), all from the product's meta.json.
"""

from arielcal import threads

threads.limit(snakemake.threads)

import numpy as np

from arielcal import formats, science, workflow
from arielcal.dq import DQ

with workflow.step(snakemake, "variance") as step:
    inputs = snakemake.input
    meta = formats.load_json(inputs.meta)
    stages = [stage["stage"] for stage in meta["stages"]]
    frames_per_bin = int(meta["params"]["frames_per_bin"]) if "bin" in stages else 1
    step.columns = meta["columns"]
    # Calibration maps are (row, column); the product is (time, column, row).
    read = step.calibration("read").T
    dark = step.calibration("dark").T if "dark" in stages else None
    divisor = None
    if "flat" in stages:
        dq = formats.load_npy(inputs.dq, mmap=False)
        divisor = np.where((dq & DQ.NO_FLAT_FIELD) != 0, 1.0, step.calibration("flat").T)
    calibrated = formats.load_npy(inputs.calibrated, mmap=False)
    n_valid = formats.load_npy(inputs.nvalid, mmap=False) if "nvalid" in inputs.keys() else None
    variance = science.product_variance(
        calibrated,
        read,
        frames_per_bin,
        n_valid=n_valid,
        dark=dark,
        accumulation_s=step.instrument.long_read_s - step.instrument.short_read_s,
        divisor=divisor,
    )
    formats.save_npy(snakemake.output[0], variance)
    workflow.log.info(
        "variance %s: frames per bin %d, dark term %s, flat %s, median %.4g e-^2",
        variance.shape,
        frames_per_bin,
        dark is not None,
        divisor is not None,
        float(np.nanmedian(variance)) if np.isfinite(variance).any() else float("nan"),
    )
