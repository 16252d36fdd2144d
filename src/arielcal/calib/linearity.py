"""Non-linearity correction: the per-pixel polynomial of linear_corr, constant term first."""

from __future__ import annotations

import numpy as np

from ..dq import DQ, DQ_DTYPE
from ._blocks import F64, _block_pixels, _check_cube, _output, _tiles


def clean_linearity_coefficients(coeffs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Defuse unusable linearity coefficients (stcal convention).

    ``coeffs`` is (degree + 1, rows, cols), constant term first. Pixels with any non-finite
    coefficient or a zero linear term get the identity polynomial (0, 1, 0, ...) and
    NO_LIN_CORR. Returns ``(coeffs as a new float64 array, dq)``.
    """
    coeffs = np.array(coeffs, dtype=F64, copy=True)
    if coeffs.ndim != 3 or coeffs.shape[0] < 2:
        raise ValueError(f"coeffs: expected (degree + 1 >= 2, rows, cols), got shape {coeffs.shape}")
    bad = ~np.all(np.isfinite(coeffs), axis=0) | (coeffs[1] == 0)
    coeffs[:, bad] = 0.0
    coeffs[1, bad] = 1.0
    dq = np.where(bad, DQ_DTYPE(DQ.NO_LIN_CORR), DQ_DTYPE(0)).astype(DQ_DTYPE)
    return coeffs, dq


def apply_linearity(
    cube: np.ndarray,
    coeffs: np.ndarray,
    out: np.ndarray | None = None,
    block_pixels: int | None = None,
) -> np.ndarray:
    """P(x) = sum_k c_k x**k per pixel (constant first), by Horner's rule in float64.

    The operation order is that of ``np.polyval`` (the notebook's ``np.poly1d``), so a float64
    input gives the notebook's values bit for bit. NaN samples stay NaN. Use
    :func:`clean_linearity_coefficients` first to defuse bad coefficients.
    """
    _check_cube(cube)
    rows, cols, n_frames = cube.shape
    coeffs = np.asarray(coeffs, dtype=F64)
    if coeffs.ndim != 3 or coeffs.shape[1:] != (rows, cols) or coeffs.shape[0] < 1:
        raise ValueError(f"coeffs: expected (degree + 1, {rows}, {cols}), got shape {coeffs.shape}")
    out = _output(out, cube.shape)
    if n_frames == 0:
        return out
    degree = coeffs.shape[0] - 1
    for idx in _tiles(rows, cols, _block_pixels(n_frames, block_pixels)):
        c = coeffs[(slice(None), *idx)][..., None]
        x = np.asarray(cube[idx], dtype=F64)
        if degree == 0:
            y = x * 0.0
            y += c[0]
        else:
            y = x * c[degree]
            y += c[degree - 1]
            for k in range(degree - 2, -1, -1):
                y *= x
                y += c[k]
        out[idx] = y
    return out
