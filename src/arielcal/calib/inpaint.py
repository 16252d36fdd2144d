"""In-painting for machine-learning inputs: excluded (NaN) values filled from their neighbours.

The calibrated product keeps excluded pixels NaN, which most learning code cannot take. The
in-painted copy fills every non-finite value of a product (time, column, row) by linear
interpolation along the column axis, between the nearest finite values of the same row and time
bin (the nearest one past an edge). Along the columns the AIRS trace changes slowly (the
spectrum), across the rows it is sharply peaked, so the same row is the better neighbour; FGS1
is treated the same way. A row of a time bin without any finite value stays NaN. The DQ map is
unchanged: in-painted pixels are those with DO_NOT_USE (and bins with nvalid 0).
"""

from __future__ import annotations

import numpy as np


def inpaint_columns(calibrated: np.ndarray) -> np.ndarray:
    """A float32 copy of a (time, column, row) product with non-finite values interpolated
    along the column axis (see the module docstring)."""
    calibrated = np.asarray(calibrated)
    if calibrated.ndim != 3:
        raise ValueError(f"calibrated: expected a (time, column, row) product, got shape {calibrated.shape}")
    out = np.array(calibrated, dtype=np.float32)
    columns = np.arange(out.shape[1], dtype=np.float64)
    missing = ~np.isfinite(out)
    for t, r in zip(*np.nonzero(missing.any(axis=1)), strict=True):
        line = out[t, :, r]
        good = ~missing[t, :, r]
        if good.any():
            line[~good] = np.interp(columns[~good], columns[good], line[good].astype(np.float64))
    return out
