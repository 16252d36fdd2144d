"""Per-pixel variance of a calibrated product, from the noise model of the stages that made it."""

from __future__ import annotations

import numpy as np

F64 = np.float64


def time_median(cube: np.ndarray) -> np.ndarray:
    """Median over axis 0 of each pixel, ignoring NaN; NaN for all-NaN pixels (no warning).

    np.median where a pixel has no NaN (most do: numpy's nanmedian of small axes goes through
    numpy.ma, ~5x slower), np.nanmedian on the others only; the values are the same."""
    finite = np.isfinite(cube)
    complete = finite.all(axis=0)
    partial = finite.any(axis=0) & ~complete
    median = np.full(cube.shape[1:], np.nan)
    median[complete] = np.median(cube[:, complete], axis=0)
    if partial.any():
        median[partial] = np.nanmedian(cube[:, partial], axis=0)
    return median


def signal_per_frame(calibrated: np.ndarray, frames_per_bin: int, divisor: np.ndarray | None = None) -> np.ndarray:
    """Robust charge per CDS frame (e-, before the flat) of each pixel, (column, row).

    The per-pixel median over time bins of the calibrated sums, times the flat that divided it,
    over the frames per bin, clipped at 0. A median of the data, not each bin's own noisy value,
    so the variance does not correlate with the noise (a low fluctuation must not get a low
    variance, hence a high weight). All-NaN pixels give NaN.
    """
    cube = np.asarray(calibrated)
    if cube.ndim != 3:
        raise ValueError(f"calibrated: expected (time, column, row), got shape {cube.shape}")
    median = time_median(cube.astype(F64, copy=False))
    if divisor is not None:
        median = median * np.asarray(divisor, dtype=F64)
    return np.maximum(median / float(frames_per_bin), 0.0, where=np.isfinite(median), out=np.full_like(median, np.nan))


def product_variance(
    calibrated: np.ndarray,
    read: np.ndarray,
    frames_per_bin: int,
    n_valid: np.ndarray | None = None,
    dark: np.ndarray | None = None,
    accumulation_s: float = 0.0,
    divisor: np.ndarray | None = None,
) -> np.ndarray:
    """Variance (e-^2) of every value of a calibrated product, float32 (time, column, row).

    Per CDS frame, before the flat: ``v = 2 read^2 + S + dark * accumulation_s`` with ``read`` the
    per-read noise sigma (column, row), S = :func:`signal_per_frame` and ``dark`` the dark
    current (e-/s) that was *subtracted* (pass None when the dark stage did not run: the dark
    charge is then inside S already; non-finite values count as 0). A bin is the mean of its
    ``n_valid`` valid frames times ``frames_per_bin`` = n, so its variance is ``v * n^2 /
    n_valid`` (= n v for a full bin). ``divisor`` is the flat each pixel was divided by (1 where
    it was not; None = no flat stage): the variance is divided by its square. ``n_valid`` None
    means every bin is full. NaN where the product is NaN or ``n_valid`` is 0.
    """
    cube = np.asarray(calibrated)
    shape = cube.shape[1:]
    n = float(frames_per_bin)
    if n < 1:
        raise ValueError(f"frames_per_bin must be >= 1, got {frames_per_bin}")
    read = _map(read, shape, "read")
    divisor_map = None if divisor is None else _map(divisor, shape, "divisor")
    per_frame = 2.0 * read**2 + signal_per_frame(cube, frames_per_bin, divisor_map)
    if dark is not None:
        dark_map = _map(dark, shape, "dark").copy()
        dark_map[~np.isfinite(dark_map)] = 0.0
        per_frame += np.maximum(dark_map, 0.0) * float(accumulation_s)
    if divisor_map is not None:
        per_frame /= divisor_map**2
    if n_valid is None:
        variance = np.broadcast_to(per_frame * n, cube.shape).astype(np.float32)
    else:
        counts = np.asarray(n_valid, dtype=F64)
        if counts.shape != cube.shape:
            raise ValueError(f"n_valid: expected shape {cube.shape}, got {counts.shape}")
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = np.where(counts > 0, per_frame * (n * n) / counts, np.nan).astype(np.float32)
    variance[~np.isfinite(cube)] = np.nan
    return variance


def _map(values, shape, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=F64)
    if values.shape != tuple(shape):
        raise ValueError(f"{name}: expected a (column, row) map of shape {tuple(shape)}, got {values.shape}")
    return values


def variance_of_product(
    calibrated, stages, frames_per_bin: int, read, dark, divisor, n_valid, accumulation_s: float
) -> np.ndarray:
    """:func:`product_variance` of a product made by ``stages`` (names, in order): the dark term
    only if the dark was subtracted, the flat ``divisor`` only if the flat stage ran, the frames
    per bin only if the bin stage ran. Maps are (column, row) as the product."""
    return product_variance(
        calibrated,
        read,
        frames_per_bin if "bin" in stages else 1,
        n_valid=n_valid,
        dark=dark if "dark" in stages else None,
        accumulation_s=accumulation_s,
        divisor=divisor if "flat" in stages else None,
    )
