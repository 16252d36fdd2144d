"""Aperture light curves with a local background, and the white light curve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .labels import FGS1_LABEL, label_of_columns
from .variance import time_median

F64 = np.float64


def box_mask(shape: tuple[int, int], rows, columns=None) -> np.ndarray:
    """Boolean (column, row) map of the pixels with row in ``rows`` = [start, stop) and column in
    ``columns`` = [start, stop) (every column when None)."""
    n_cols, n_rows = shape
    row = np.arange(n_rows)
    col = np.arange(n_cols)
    in_rows = (row >= rows[0]) & (row < rows[1])
    in_cols = np.ones(n_cols, bool) if columns is None else (col >= columns[0]) & (col < columns[1])
    return in_cols[:, None] & in_rows[None, :]


@dataclass(frozen=True)
class LightCurves:
    """Extracted light curves, (time, channel) float64 arrays."""

    flux: np.ndarray
    """Background-subtracted aperture sum (e- per bin), scaled to the full aperture."""
    variance: np.ndarray
    coverage: np.ndarray
    """Fraction of the aperture's pixels that were valid (the flux was divided by it)."""


def extract(
    cube: np.ndarray,
    variance: np.ndarray,
    aperture: np.ndarray,
    background: np.ndarray | None = None,
    per_column: bool = True,
) -> LightCurves:
    """Aperture photometry with a local background, per time bin.

    ``cube`` and ``variance`` are (time, column, row); ``aperture`` and ``background`` boolean
    (column, row) maps. ``per_column``: one channel per column (AIRS: the aperture and background
    pixels of that column); otherwise one channel summing the whole aperture (FGS1).

    Per time and channel: the background level is the mean of the valid background pixels, and
    is subtracted from each valid aperture pixel. NaN pixels are left out, never spread: the sum
    over the valid aperture pixels is divided by their fraction ``coverage``. Pixels NaN in every
    bin (DQ-excluded) count as average pixels (a constant factor: the relative light curve is
    exact, only the absolute level changes); a pixel NaN in some bins only counts, in those bins,
    by its share of the channel's flux (its median over the bins where it is valid), so a missing
    bright pixel does not make a dip. Bins without missing pixels keep the plain pixel fraction. Variances add: ``(sum var_ap + n_ap^2 var(background mean)) / coverage^2``,
    with var(mean) = sum var_bg / n_bg^2 (pixels independent). A channel with no valid aperture
    pixel, or no valid background pixel when a background is asked for, is NaN.
    """
    cube = np.asarray(cube)
    variance = np.asarray(variance)
    if cube.ndim != 3 or variance.shape != cube.shape:
        raise ValueError(
            f"cube and variance: expected equal (time, column, row) shapes, got {cube.shape}, {variance.shape}"
        )
    aperture = np.asarray(aperture, bool)
    if aperture.shape != cube.shape[1:]:
        raise ValueError(f"aperture: expected shape {cube.shape[1:]}, got {aperture.shape}")
    if background is not None:
        background = np.asarray(background, bool)
        if background.shape != aperture.shape:
            raise ValueError(f"background: expected shape {aperture.shape}, got {background.shape}")
    n_times = cube.shape[0]
    if per_column:
        data, var = cube, variance
        ap, bg = aperture, background
    else:
        data = cube.reshape(n_times, 1, -1)
        var = variance.reshape(n_times, 1, -1)
        ap = aperture.reshape(1, -1)
        bg = None if background is None else background.reshape(1, -1)
    data = np.asarray(data, dtype=F64)
    var = np.asarray(var, dtype=F64)
    valid = np.isfinite(data) & np.isfinite(var)
    n_aperture = ap.sum(axis=1).astype(F64)  # (channel,)
    in_ap = ap[None] & valid
    n_valid_ap = in_ap.sum(axis=2).astype(F64)  # (time, channel)
    total = np.where(in_ap, data, 0.0).sum(axis=2)
    total_var = np.where(in_ap, var, 0.0).sum(axis=2)
    ok = n_valid_ap > 0
    if bg is not None:
        in_bg = bg[None] & valid
        n_bg = in_bg.sum(axis=2).astype(F64)
        ok &= n_bg > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            level = np.where(in_bg, data, 0.0).sum(axis=2) / n_bg
            level_var = np.where(in_bg, var, 0.0).sum(axis=2) / n_bg**2
        total = total - n_valid_ap * level
        total_var = total_var + n_valid_ap**2 * level_var
    seen = in_ap.any(axis=0)  # (channel, pixel): aperture pixels valid in some bin
    n_seen = seen.sum(axis=1).astype(F64)
    with np.errstate(divide="ignore", invalid="ignore"):
        coverage = n_valid_ap / n_aperture
        partial = ok & (n_valid_ap < n_seen[None, :])
        if partial.any():
            # A pixel missing in some bins only: count it by its share of the channel's flux
            # (its time median), not as an average pixel, or a missing bright pixel is a dip.
            subtracted = data if bg is None else data - level[:, :, None]
            profile = np.where(seen, time_median(np.where(in_ap, subtracted, np.nan)), 0.0)
            share = np.where(in_ap, profile[None], 0.0).sum(axis=2) / profile.sum(axis=1)[None, :]
            usable = partial & np.isfinite(share) & (share > 0) & (profile.sum(axis=1) > 0)[None, :]
            coverage = np.where(usable, share * n_seen[None, :] / n_aperture[None, :], coverage)
        flux = np.where(ok, total / coverage, np.nan)
        flux_var = np.where(ok, total_var / coverage**2, np.nan)
    return LightCurves(flux, flux_var, np.where(np.isfinite(coverage), coverage, 0.0))


def white_light_curve(flux: np.ndarray, variance: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum of the channels that are finite at every time: (flux (time,), variance (time,), used (channel,)).

    Channels with a NaN anywhere are left out entirely, so the white light curve sums the same
    channels at every time.
    """
    flux = np.asarray(flux, dtype=F64)
    variance = np.asarray(variance, dtype=F64)
    used = np.all(np.isfinite(flux) & np.isfinite(variance), axis=0)
    return flux[:, used].sum(axis=1), variance[:, used].sum(axis=1), used


@dataclass(frozen=True)
class ObservationCurves:
    """The light curves of one observation with what labels their channels."""

    curves: LightCurves
    white_flux: np.ndarray
    white_variance: np.ndarray
    white_used: np.ndarray
    """(channel,) bool: the channels summed into the white light curve."""
    detector_columns: np.ndarray
    """(channel,) detector column of each AIRS channel; [-1] for FGS1."""
    labels: np.ndarray
    """(channel,) competition label index j of wl_j (0: none)."""
    aperture: np.ndarray
    background: np.ndarray | None


def aperture_masks(shape: tuple[int, int], per_column: bool, aperture, background_outside):
    """(aperture, background or None) (column, row) maps: AIRS (``per_column``) takes rows
    [start, stop) of every column with the other rows as background; FGS1 the square box with the
    pixels outside the larger square as background."""
    columns = None if per_column else aperture
    inside = box_mask(shape, aperture, columns)
    if background_outside is None:
        return inside, None
    return inside, ~box_mask(shape, background_outside, None if per_column else background_outside)


def observation_curves(cube, variance, columns, per_column: bool, aperture, background_outside) -> ObservationCurves:
    """Light curves of a product cube (time, column, row) cut to detector ``columns`` [start, stop):
    one channel per column when ``per_column`` (AIRS), else one (FGS1)."""
    inside, background = aperture_masks(cube.shape[1:], per_column, aperture, background_outside)
    curves = extract(cube, variance, inside, background, per_column=per_column)
    white_flux, white_variance, used = white_light_curve(curves.flux, curves.variance)
    if per_column:
        detector_columns = np.arange(columns[0], columns[1])
        labels = label_of_columns(detector_columns)
    else:
        detector_columns, labels = np.array([-1]), np.array([FGS1_LABEL])
    return ObservationCurves(curves, white_flux, white_variance, used, detector_columns, labels, inside, background)


def aperture_centroid(cube: np.ndarray, aperture: np.ndarray) -> np.ndarray:
    """(time, 2) flux-weighted (column, row) centroid of the valid aperture pixels per bin
    (``cube`` (time, column, row), ``aperture`` boolean (column, row)); pixels weigh by their
    value clipped at 0. NaN where a bin has no positive aperture flux. For pointing jitter: a
    uniform dimming (the transit) does not move it."""
    data = np.asarray(cube, dtype=F64)
    weights = np.where(aperture[None] & np.isfinite(data), np.maximum(data, 0.0), 0.0)
    total = weights.sum(axis=(1, 2))
    columns = np.arange(data.shape[1], dtype=F64)[None, :, None]
    rows = np.arange(data.shape[2], dtype=F64)[None, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.stack(
            [(weights * columns).sum(axis=(1, 2)) / total, (weights * rows).sum(axis=(1, 2)) / total], axis=1
        )
    return np.where((total > 0)[:, None], out, np.nan)
