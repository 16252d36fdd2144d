"""The fused mode's compiled kernel: every stage of one pixel's time series in a single pass.

Staged mode runs :mod:`arielcal.calib` one stage at a time over whole cubes; each stage streams
the cube through memory once. This kernel reads each raw sample once and keeps a pixel's
series in cache, so a planet costs little more than reading its parquet files. It repeats the
per-sample arithmetic of :mod:`arielcal.calib` operation for operation (float64 arithmetic,
float32 storage after every stage, Horner's rule in ``np.polyval`` order, no fused
multiply-add), so the two agree to the bit except where numpy's pairwise summation of a bin
rounds differently from this kernel's sequential one (float64 sums: a difference would move
the float32 result by one unit in the last place; none was seen on any dataset tried).

numba compiles it on first use (~1 s) and caches the machine code beside this file
(``__pycache__``; ``NUMBA_CACHE_DIR`` elsewhere), so later processes load it in ~0.1 s.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .calib import ADC_FLOOR, ADC_SATURATED, MAD_TO_SIGMA, MIN_OUTLIER_FRAMES

#: Coefficients of the kernel's polynomial (degree 5, the competition's ``linear_corr``); lower
#: degrees are padded with leading zeros, which leaves Horner's result unchanged to the bit.
N_COEFFS = 6


@numba.njit(nogil=True, cache=True)
def _polynomial(x, c0, c1, c2, c3, c4, c5):
    """Horner's rule in np.polyval's order: separate multiply and add, no fused multiply-add."""
    y = x * c5
    y += c4
    y *= x
    y += c3
    y *= x
    y += c2
    y *= x
    y += c1
    y *= x
    y += c0
    return y


@numba.njit(nogil=True, cache=True)
def reject_block(x, start, stop, read, threshold, values, deviations):
    """:func:`arielcal.calib.reject_outliers` on frames [start, stop) of one pixel's float32 CDS
    series ``x``, in place (rejected frames NaN); returns how many it rejected. ``values`` and
    ``deviations`` are float64 scratch arrays of at least stop - start elements."""
    if not np.isfinite(read):
        return 0  # unknown read noise: the pixel is left alone
    # Exact shortcut: |x - med| <= high - low and sigma >= the floor at med >= low, so a block
    # whose range is within threshold x that floor rejects nothing (most blocks). NaN frames fail
    # every comparison, so this pass needs no branch on them.
    m = 0
    low = np.inf
    high = -np.inf
    for i in range(start, stop):
        v = np.float64(x[i])
        m += v == v
        low = v if v < low else low
        high = v if v > high else high
    if m < MIN_OUTLIER_FRAMES:
        return 0
    if high - low <= threshold * math.sqrt(2.0 * read * read + (low if low > 0.0 else 0.0)):
        return 0
    m = 0
    for i in range(start, stop):
        v = np.float64(x[i])
        if np.isfinite(v):
            values[m] = v
            m += 1
    values[:m].sort()
    med = (values[(m - 1) // 2] + values[m // 2]) / 2.0
    k = 0
    for i in range(start, stop):
        v = np.float64(x[i])
        if np.isfinite(v):
            deviations[k] = abs(v - med)
            k += 1
    deviations[:m].sort()
    spread = MAD_TO_SIGMA * ((deviations[(m - 1) // 2] + deviations[m // 2]) / 2.0)
    noise_floor = np.sqrt(2.0 * read * read + (med if med > 0.0 else 0.0))
    sigma = noise_floor if noise_floor > spread else spread
    limit = threshold * sigma
    n = 0
    for i in range(start, stop):
        v = np.float64(x[i])
        if np.isfinite(v) and abs(v - med) > limit:
            x[i] = np.nan
            n += 1
    return n


@numba.njit(nogil=True, cache=True)
def calibrate_pixels(
    raw,
    lut,
    excluded,
    coeffs,
    linearity,
    dark,
    dt,
    frames_per_bin,
    divisor,
    out,
    n_valid,
    floor,
    saturated,
    outliers,
    threshold,
    window,
    read,
    rejected,
):
    """Raw uint16 (pixels, frames) to calibrated float32 (pixels, outputs), in place.

    ``lut`` maps every raw value to its float32 ADC-inverted value (NaN for 0 and 65535);
    ``excluded`` pixels become NaN with no valid frame; ``coeffs`` is (pixels, 6), constant
    first, used when ``linearity``; ``dark`` the usable dark per pixel (0: no correction, which
    is exact), ``dt`` the integration time per raw frame; ``divisor`` the flat per pixel (1: not
    divided, also exact). CDS frames are summed in bins of ``frames_per_bin`` (the mean of the
    valid frames times the bin size when some are not finite, as
    :func:`arielcal.calib.bin_frames`); ``frames_per_bin`` 0 writes every CDS frame and leaves
    ``n_valid`` alone. ``floor`` / ``saturated`` receive whether any raw sample is 0 / 65535.
    With ``outliers``, every CDS frame (the trailing ones too: they are in the last block) goes
    through :func:`reject_block` in blocks of ``window`` with ``read`` the per-read noise of
    each pixel before binning, and ``rejected`` receives each pixel's count (0 otherwise).
    """
    n_pixels, n_frames = raw.shape
    n_out = out.shape[1]
    binned = frames_per_bin > 0
    step = frames_per_bin if binned else 1
    n_cds = n_frames // 2 if outliers else n_out * step
    n_blocks = max(1, n_cds // window) if outliers else 0
    # Stage by stage over one pixel's series: each loop is simple enough to vectorise.
    samples = np.empty(n_frames, np.float32)
    cds = np.empty(n_cds, np.float32)
    sums = np.empty(n_out, np.float64)
    values = np.empty(n_cds, np.float64)
    deviations = np.empty(n_cds, np.float64)
    for p in range(n_pixels):
        low = raw[p, 0]
        high = raw[p, 0]
        for i in range(n_frames):
            low = min(low, raw[p, i])
            high = max(high, raw[p, i])
            samples[i] = lut[raw[p, i]]
        floor[p] = low == ADC_FLOOR
        saturated[p] = high == ADC_SATURATED
        rejected[p] = 0
        if excluded[p]:
            out[p, :] = np.nan
            if binned:
                n_valid[p, :] = 0
            continue
        d = dark[p]
        if linearity:
            c0, c1, c2, c3, c4, c5 = coeffs[p, 0], coeffs[p, 1], coeffs[p, 2], coeffs[p, 3], coeffs[p, 4], coeffs[p, 5]
            for i in range(2 * n_cds):
                samples[i] = np.float32(_polynomial(np.float64(samples[i]), c0, c1, c2, c3, c4, c5))
        for k in range(n_cds):
            first = np.float32(np.float64(samples[2 * k]) - d * dt[2 * k])
            second = np.float32(np.float64(samples[2 * k + 1]) - d * dt[2 * k + 1])
            cds[k] = second - first
        if outliers and np.isfinite(read[p]):
            count = 0
            r2 = 2.0 * read[p] * read[p]
            for b in range(n_blocks):
                start = b * window
                stop = n_cds if b == n_blocks - 1 else start + window
                # reject_block's shortcut inline: most blocks end here, without a call.
                m = 0
                low = np.inf
                high = -np.inf
                for i in range(start, stop):
                    v = np.float64(cds[i])
                    m += v == v
                    low = v if v < low else low
                    high = v if v > high else high
                if m >= MIN_OUTLIER_FRAMES and high - low > threshold * math.sqrt(r2 + (low if low > 0.0 else 0.0)):
                    count += reject_block(cds, start, stop, read[p], threshold, values, deviations)
            rejected[p] = count
        # Sequential float64 sums, bins side by side (independent chains pipeline well).
        for b in range(n_out):
            sums[b] = cds[b * step]
        for j in range(1, step):
            for b in range(n_out):
                sums[b] += cds[b * step + j]
        for b in range(n_out):
            value = sums[b]
            if binned:
                if np.isfinite(value):
                    n_valid[p, b] = step
                else:
                    total = 0.0
                    count = 0
                    for j in range(step):
                        frame = np.float64(cds[b * step + j])
                        if np.isfinite(frame):
                            total += frame
                            count += 1
                    value = total / count * step if count > 0 else np.nan
                    n_valid[p, b] = count
            out[p, b] = np.float32(np.float64(np.float32(value)) / divisor[p])
