"""Bad pixels: the hot-pixel sigma clip of the dark and the per-pixel DQ map of the mask stage."""

from __future__ import annotations

import warnings

import numpy as np

from ..dq import DQ, DQ_DTYPE
from ._blocks import _ACTIONS, _check_map


def sigma_clip_mask(values: np.ndarray, sigma: float = 5.0, maxiters: int | None = 5) -> np.ndarray:
    """Boolean mask (True = clipped) with astropy ``sigma_clip(values, sigma, maxiters).mask`` semantics.

    axis=None (the whole array), centre = median, spread = population std (ddof=0) about the
    mean, both of the survivors; bounds [c - sigma*s, c + sigma*s] inclusive; iterate on the
    survivors until an iteration clips nothing or after ``maxiters`` iterations (None = until
    convergence). Non-finite values are always masked. As astropy, the returned mask is the
    non-finite values plus every value outside the *last* computed bounds. The same numpy
    reductions as astropy (``nanmedian``/``nanstd``, without bottleneck) are used, so results
    agree to the bit, including values lying exactly on a bound.
    """
    values = np.asarray(values)
    flat = values.ravel()
    finite = np.isfinite(flat)
    data = flat[finite]
    lower = upper = None
    iteration = 0
    changed = 1
    while changed and (maxiters is None or iteration < maxiters):
        iteration += 1
        size = data.size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            centre = np.nanmedian(data, axis=None)
            spread = np.nanstd(data, axis=None)
            lower = centre - spread * sigma
            upper = centre + spread * sigma
        data = data[(data >= lower) & (data <= upper)]
        changed = size - data.size
    mask = ~finite
    if lower is not None:
        with np.errstate(invalid="ignore"):
            mask |= (flat < lower) | (flat > upper)
    return mask.reshape(values.shape)


def pixel_dq(
    dead: np.ndarray,
    dark: np.ndarray,
    *,
    sigma: float = 5.0,
    maxiters: int | None = 5,
    hot_action: str = "nan",
    dead_action: str = "nan",
) -> np.ndarray:
    """Pixel DQ from the calibration maps: DEAD from ``dead``, HOT from a sigma clip of ``dark``.

    ``dead`` is the boolean dead map (non-bool maps: non-zero = dead). HOT is
    :func:`sigma_clip_mask` of the dark as given (the notebook clips the *cropped* dark), so
    non-finite dark values and unusually low ones are HOT too. An action ``"nan"`` adds
    DO_NOT_USE to the flagged pixels (excluded: NaN in products), ``"flag"`` only sets the
    descriptive bit.
    """
    for name, action in (("hot_action", hot_action), ("dead_action", dead_action)):
        if action not in _ACTIONS:
            raise ValueError(f"{name}: expected one of {_ACTIONS}, got {action!r}")
    dark = np.asarray(dark)
    if dark.ndim != 2:
        raise ValueError(f"dark: expected a (rows, cols) map, got shape {dark.shape}")
    dead = _check_map(dead, dark.shape, "dead")
    dead = dead if dead.dtype == bool else dead != 0
    hot = sigma_clip_mask(dark, sigma=sigma, maxiters=maxiters)
    dq = np.zeros(dark.shape, dtype=DQ_DTYPE)
    dead_bits = DQ.DEAD | (DQ.DO_NOT_USE if dead_action == "nan" else 0)
    hot_bits = DQ.HOT | (DQ.DO_NOT_USE if hot_action == "nan" else 0)
    dq[dead] |= DQ_DTYPE(dead_bits)
    dq[hot] |= DQ_DTYPE(hot_bits)
    return dq


def saturated_dq(dq: np.ndarray, action: str = "nan") -> np.ndarray:
    """DO_NOT_USE for the pixels the adc stage flagged SATURATED (some raw value 65535), with
    ``action`` "nan"; nothing with "flag", which leaves only the clipped frames NaN.

    Excluding the whole pixel, rather than its clipped frames, is what keeps its column unbiased:
    the clipped frames are the high ones, so a mean of the surviving frames is biased low, and
    by a different amount in transit (docs/systematics.md).
    """
    if action not in _ACTIONS:
        raise ValueError(f"saturated_action: expected one of {_ACTIONS}, got {action!r}")
    dq = np.asarray(dq, dtype=DQ_DTYPE)
    out = np.zeros(dq.shape, dtype=DQ_DTYPE)
    if action == "nan":
        out[(dq & DQ.SATURATED) != 0] = DQ_DTYPE(DQ.DO_NOT_USE)
    return out
