"""The detector: calibration maps, the linearity polynomial and its inverse, the ADC."""

from __future__ import annotations

import math

import numpy as np

from ..instruments import AIRS, FGS1, Instrument

ADC_MAX = 65535

# Linearity coefficient medians (constant first), reference doc 2.1.
LINEARITY_MEDIANS = {
    AIRS.name: (0.14, 0.9999, -5.7e-9, 1.2e-11, -6.0e-17, 1.3e-22),
    FGS1.name: (0.27, 0.9999, 5.7e-9, 8.5e-12, -3.6e-17, 6.6e-23),
}
DARK_MEDIAN = {AIRS.name: 0.0063, FGS1.name: 0.0069}
HOT_DARK_MAX = {AIRS.name: 11.9, FGS1.name: 1.35}
READ_MEDIAN = {AIRS.name: 13.0, FGS1.name: 13.3}
# Above ~60 e- per read the 2024 FGS1 raw (offset >= -313 e-) would reach the ADC floor.
READ_MAX_E = 60.0
# Real dead pixels stay within ~8 ADU over a visit although their read map says 35-130 e-.
DEAD_NOISE_E = 2.5
PEDESTAL_MEAN = {AIRS.name: 0.2, FGS1.name: 2.5}

# Newton stops when the inverse linearity is this close (e-); 1 ADU is 0.65-2.3 e-.
NEWTON_TOLERANCE_E = 1e-3
NEWTON_MAX_ITERATIONS = 6


def calibration_maps(
    rng: np.random.Generator, instrument: Instrument, hot_fraction: float, dead_fraction: float
) -> dict[str, np.ndarray]:
    """The five shipped maps plus the (unshipped) per-pixel pedestal, with realistic values (doc 2.1).

    linear_corr has shape (6, rows, cols), constant term first.
    """
    name, shape = instrument.name, (instrument.rows, instrument.cols)
    n_pixels = instrument.pixels
    row, col = np.indices(shape)
    gradient = rng.normal(0.0, 0.01, 2)
    flat = (
        1.0
        + rng.normal(0.0, 0.018, shape)
        + gradient[0] * (row / instrument.rows - 0.5)
        + gradient[1] * (col / instrument.cols - 0.5)
    )
    flat = np.clip(flat, 0.88, 1.11)
    low_qe = rng.choice(n_pixels, max(1, round(0.001 * n_pixels)), replace=False)
    flat.flat[low_qe] = rng.uniform(0.57, 0.88, low_qe.size)

    dark = DARK_MEDIAN[name] * np.exp(rng.normal(0.0, 0.19, shape))
    hot = rng.choice(n_pixels, round(hot_fraction * n_pixels), replace=False)
    dark.flat[hot] = np.exp(rng.uniform(math.log(0.05), math.log(HOT_DARK_MAX[name]), hot.size))

    read = np.clip(READ_MEDIAN[name] * np.exp(rng.normal(0.0, 0.34, shape)), 5.0, READ_MAX_E)
    dead = np.zeros(shape, dtype=bool)
    dead_pixels = rng.choice(n_pixels, round(dead_fraction * n_pixels), replace=False)
    dead.flat[dead_pixels] = True
    # About half the dead pixels have a flat of ~0 or below, the rest a normal flat; all are noisy.
    n_bad_flat = (dead_pixels.size + 1) // 2
    flat.flat[dead_pixels[:n_bad_flat]] = rng.uniform(-0.048, -0.001, n_bad_flat)
    flat.flat[dead_pixels[n_bad_flat:]] = rng.uniform(0.86, 1.02, dead_pixels.size - n_bad_flat)
    read.flat[dead_pixels] = rng.uniform(35.0, 130.0, dead_pixels.size)

    medians = LINEARITY_MEDIANS[name]
    amplitude = rng.uniform(0.8, 1.2, shape)
    linear_corr = np.empty((6, *shape))
    linear_corr[0] = medians[0] + rng.normal(0.0, 0.03, shape)
    linear_corr[1] = medians[1] + rng.normal(0.0, 2e-5, shape)
    for k in range(2, 6):
        linear_corr[k] = medians[k] * amplitude
    pedestal = PEDESTAL_MEAN[name] + rng.normal(0.0, 3.9, shape)
    return {"dark": dark, "dead": dead, "flat": flat, "read": read, "linear_corr": linear_corr, "pedestal": pedestal}


def linearity(x: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """The shipped correction P(x) = sum_k coeffs[k] x**k (Horner; coeffs broadcast against x)."""
    result = coeffs[5] * x
    for k in range(4, 0, -1):
        result += coeffs[k]
        result *= x
    result += coeffs[0]
    return result


def linearity_slope(x: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """P'(x)."""
    result = 5.0 * coeffs[5] * x
    for k in range(4, 1, -1):
        result += k * coeffs[k]
        result *= x
    result += coeffs[1]
    return result


def check_monotonic(coeffs: np.ndarray, y_low: float, y_high: float) -> None:
    """Raise unless P' > 0 over [y_low, y_high] for every pixel: P must be invertible there."""
    grid = np.linspace(y_low, y_high, 257).reshape(-1, *([1] * (coeffs.ndim - 1)))
    slope = linearity_slope(grid, coeffs)
    if not np.all(slope > 0):
        raise ValueError(f"linearity polynomial not increasing on [{y_low}, {y_high}] (min slope {slope.min():.3g})")


def invert_linearity(y: np.ndarray, coeffs: np.ndarray, iterations: int) -> np.ndarray:
    """x with P(x) = y: Newton from the linear solution (P' ~ 1, so it converges in 1-3 steps)."""
    x = (y - coeffs[0]) / coeffs[1]
    for _ in range(iterations):
        step = linearity(x, coeffs)
        step -= y
        step /= linearity_slope(x, coeffs)
        x -= step
    return x


def newton_iterations(
    coeffs: np.ndarray, y_low: np.ndarray, y_high: np.ndarray, tolerance: float = NEWTON_TOLERANCE_E
) -> np.ndarray:
    """Newton steps :func:`invert_linearity` needs per pixel for |error| <= tolerance over
    [y_low, y_high], found by running it in float64 on a grid. coeffs (6, n), y_* (n,)."""
    y = np.linspace(y_low, y_high, 9)
    reference = invert_linearity(y, coeffs[:, None, :], NEWTON_MAX_ITERATIONS + 2)
    needed = np.full(y.shape[1], -1)
    for iterations in range(NEWTON_MAX_ITERATIONS + 1):
        error = np.abs(invert_linearity(y, coeffs[:, None, :], iterations) - reference).max(axis=0)
        needed[(needed < 0) & (error <= tolerance)] = iterations
    if np.any(needed < 0):
        raise ValueError(f"Newton inversion of the linearity does not converge within {NEWTON_MAX_ITERATIONS} steps")
    return needed


def digitise(x: np.ndarray, gain: float, offset: float) -> tuple[np.ndarray, int]:
    """raw = clip(round((x - offset) * gain), 0, 65535) as uint16, and the clipped count."""
    value = x - np.float32(offset)
    value *= np.float32(gain)
    np.rint(value, out=value)
    return _clip_adc(value)


def digitise_error_feedback(x: np.ndarray, gain: float, offset: float, carry: np.ndarray) -> tuple[np.ndarray, int]:
    """Like :func:`digitise` along the last (time) axis, carrying each rounding residue into the
    next conversion of the same pixel and read (first-order error feedback).

    raw_k = round(S_k) - round(S_{k-1}) with S the running sum of the exact values plus the
    residue ``carry`` (one per row, in [-0.5, 0.5], updated in place): the raw sum over any run of
    consecutive ramps is within 1 ADU of the exact sum.
    """
    running = x.astype(np.float64)
    running -= offset
    running *= gain
    np.cumsum(running, axis=-1, out=running)
    running += carry[:, None]
    rounded = np.rint(running)
    carry[:] = running[:, -1] - rounded[:, -1]
    return _clip_adc(np.diff(rounded, axis=-1, prepend=0.0))


def _clip_adc(value: np.ndarray) -> tuple[np.ndarray, int]:
    clipped = 0
    if value.min() < 0 or value.max() > ADC_MAX:
        clipped = int(np.count_nonzero((value < 0) | (value > ADC_MAX)))
        np.clip(value, 0, ADC_MAX, out=value)
    return value.astype(np.uint16), clipped
