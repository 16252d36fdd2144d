"""Dark current: integration times of each read, the dark subtracted per frame, pixels with no usable dark."""

from __future__ import annotations

import numpy as np

from ..dq import DQ, DQ_DTYPE
from ._blocks import F64, _block_pixels, _check_cube, _check_map, _output, _tiles


def integration_times(
    n_frames: int, first_read_s: float, second_read_s: float, second_read_extra_s: float = 0.0
) -> np.ndarray:
    """Per-frame integration times (float64): even frames ``first_read_s``, odd frames
    ``second_read_s + second_read_extra_s`` (the 29 Aug 2024 notebook adds 0.1 s to odd frames).
    """
    n_frames = int(n_frames)
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    dt = np.empty(n_frames, dtype=F64)
    dt[0::2] = first_read_s
    dt[1::2] = second_read_s
    dt[1::2] += second_read_extra_s
    return dt


def integration_times_from_axis(axis_dt, second_read_extra_s: float = 0.0) -> np.ndarray:
    """Integration times from axis_info's ``AIRS-CH0-integration_time`` (0.1, 4.5, 0.1, ...).

    Accepts a numpy array or a polars/pandas series (copied: their arrays may be read-only,
    notebook quirk 5). Trailing null/NaN padding is removed; a NaN inside the series is an
    error. ``second_read_extra_s`` is added to odd frames, as the 29 Aug 2024 notebook does.
    """
    if hasattr(axis_dt, "to_numpy"):
        axis_dt = axis_dt.to_numpy()
    dt = np.array(axis_dt, dtype=F64, copy=True).ravel()
    finite = np.isfinite(dt)
    n_valid = int(np.flatnonzero(finite)[-1]) + 1 if finite.any() else 0
    if not finite[:n_valid].all():
        raise ValueError("integration times: non-finite values inside the series (only trailing padding allowed)")
    dt = dt[:n_valid].copy()
    dt[1::2] += second_read_extra_s
    return dt


def usable_dark(dark: np.ndarray) -> np.ndarray:
    """The dark as float64 with non-finite values replaced by 0 (no correction; see :func:`dark_dq`)."""
    dark = np.array(dark, dtype=F64, copy=True)
    dark[~np.isfinite(dark)] = 0.0
    return dark


def subtract_dark(
    cube: np.ndarray,
    dark: np.ndarray,
    dt: np.ndarray,
    out: np.ndarray | None = None,
    block_pixels: int | None = None,
) -> np.ndarray:
    """cube - dark * dt per pixel and frame, in float64.

    ``dark`` is the dark current per second (rows, cols); ``dt`` the integration time of each
    frame (frames,). Non-finite dark values are treated as 0 (no correction); :func:`dark_dq`
    flags them UNRELIABLE_DARK and DO_NOT_USE.
    """
    _check_cube(cube)
    rows, cols, n_frames = cube.shape
    dark = usable_dark(_check_map(dark, (rows, cols), "dark"))
    dt = np.asarray(dt, dtype=F64)
    if dt.shape != (n_frames,):
        raise ValueError(f"dt: expected one integration time per frame ({n_frames},), got {dt.shape}")
    out = _output(out, cube.shape)
    if n_frames == 0:
        return out
    for idx in _tiles(rows, cols, _block_pixels(n_frames, block_pixels)):
        current = np.multiply.outer(dark[idx], dt)
        np.subtract(cube[idx], current, out=current)
        out[idx] = current
    return out


def dark_dq(dark: np.ndarray) -> np.ndarray:
    """Pixels whose dark is not finite: not dark-corrected (see :func:`subtract_dark`), so excluded."""
    unusable = ~np.isfinite(np.asarray(dark, dtype=F64))
    return np.where(unusable, DQ_DTYPE(DQ.UNRELIABLE_DARK | DQ.DO_NOT_USE), DQ_DTYPE(0))
