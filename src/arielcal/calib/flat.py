"""Flat field: the divisor a flat gives (bad flats flagged, not divided), and exclusion of flagged pixels."""

from __future__ import annotations

import numpy as np

from ..dq import DQ, DQ_DTYPE
from ._blocks import F64, _block_pixels, _check_cube, _check_map, _output, _tiles


def flat_divisor(flat: np.ndarray, dq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The float64 divisor of each pixel and the DQ with the flat's flags (see :func:`flat_field`)."""
    flat = np.asarray(flat, dtype=F64)
    if flat.ndim != 2:
        raise ValueError(f"flat: expected a (rows, cols) map, got shape {flat.shape}")
    dq = np.asarray(_check_map(dq, flat.shape, "dq"), dtype=DQ_DTYPE)
    with np.errstate(invalid="ignore"):
        unusable = ~(np.isfinite(flat) & (flat > 0))
    dead = (dq & DQ.DEAD) != 0
    skip = unusable | dead
    dq_out = dq.copy()
    dq_out[skip] |= DQ_DTYPE(DQ.NO_FLAT_FIELD)
    dq_out[unusable] |= DQ_DTYPE(DQ.DO_NOT_USE)
    return np.where(skip, 1.0, flat), dq_out


def flat_field(
    cube: np.ndarray,
    flat: np.ndarray,
    dq: np.ndarray,
    out: np.ndarray | None = None,
    block_pixels: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Divide each pixel by its flat (float64 arithmetic). The flat is never normalised.

    Pixels that are DEAD in ``dq``, or whose flat is NaN, inf, 0 or negative, are not divided
    (divisor 1) and get NO_FLAT_FIELD; an unusable flat (non-finite or <= 0) also gets
    DO_NOT_USE. Dead pixels with a good flat keep their value undivided, as in the notebook
    (quirk 3); they normally carry DO_NOT_USE already. Returns ``(cube, dq | new flags)``.
    """
    _check_cube(cube)
    rows, cols, n_frames = cube.shape
    divisor, dq_out = flat_divisor(_check_map(flat, (rows, cols), "flat"), dq)
    out = _output(out, cube.shape)
    if n_frames == 0:
        return out, dq_out
    for idx in _tiles(rows, cols, _block_pixels(n_frames, block_pixels)):
        np.divide(cube[idx], divisor[idx][..., None], out=out[idx], casting="same_kind")
    return out, dq_out


def exclude_flagged(cube: np.ndarray, dq: np.ndarray) -> np.ndarray:
    """Set every frame of the DO_NOT_USE pixels to NaN, in place (the cube must be writable)."""
    _check_cube(cube)
    dq = _check_map(dq, cube.shape[:2], "dq")
    bad = (dq & DQ.DO_NOT_USE) != 0
    if bad.any():
        cube[bad] = np.nan
    return cube
