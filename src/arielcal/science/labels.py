"""Competition labels of the channels, and injection-recovery statistics."""

from __future__ import annotations

import numpy as np

from ..instruments import AIRS_LABELLED_COLUMNS as LABELLED_AIRS_COLUMNS

F64 = np.float64

#: The FGS1 channel is label wl_1.
FGS1_LABEL = 1


def label_of_columns(detector_columns) -> np.ndarray:
    """Label index j (wl_j, 1-based) of AIRS detector columns: j = 322 - c for c in 39..320,
    0 for columns without a label (outside the competition's crop)."""
    c = np.asarray(detector_columns, dtype=np.int64)
    start, stop = LABELLED_AIRS_COLUMNS
    return np.where((c >= start) & (c < stop), stop + 1 - c, 0)


def recovery_statistics(estimate, sigma, truth) -> dict[str, float]:
    """Residuals over sigma, z = (estimate - truth) / sigma, over the finite entries.

    Returns n, median |z| (0.674 for Gaussian z), chi2/dof = sum z^2 / n (the truth is given,
    no parameter is fitted: dof = n), mean z (bias in sigma units) and the median |residual|.
    """
    estimate, sigma, truth = (np.asarray(a, dtype=F64).ravel() for a in (estimate, sigma, truth))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (estimate - truth) / sigma
    ok = np.isfinite(z) & (sigma > 0)
    z = z[ok]
    n = int(z.size)
    if n == 0:
        return {"n": 0, "median_abs_z": np.nan, "chi2_dof": np.nan, "mean_z": np.nan, "median_abs_residual": np.nan}
    return {
        "n": n,
        "median_abs_z": float(np.median(np.abs(z))),
        "chi2_dof": float(np.sum(z * z) / n),
        "mean_z": float(np.mean(z)),
        "median_abs_residual": float(np.median(np.abs(estimate[ok] - truth[ok]))),
    }
