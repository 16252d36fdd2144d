"""A faithful float64 reimplementation of the organisers' notebook, for parity tests only.

"Calibrating and Time Binning Astronomical Data" (Ariel Data Challenge 2024; reference doc,
section 3), reduced to ONE planet and ONE instrument with a chunk of size 1. The notebook's
helper functions are copied verbatim (masked arrays, ``np.tile``, a per-pixel ``np.poly1d``
loop, the (time, column, row) transposes), and :func:`notebook_calibrate` drives them exactly as
the notebook's chunk loop does, so every quirk of section 3.4 that applies to one planet is
reproduced *by construction*, not re-coded:

1. the hot/dead mask is lost when the masked signal is stored into the float64 chunk array,
   so DO_MASK changes no value;
2. dead pixels get ``dark`` (not ``dark * dt``) subtracted in every frame, which cancels in CDS:
   no dark correction at dead pixels;
3. dead pixels are not flat-fielded (ndarray / masked flat keeps the numerator under the mask);
6. trailing CDS frames that do not fill a bin are dropped; 7. bins are sums;
9. the hot mask is computed on the cropped dark.

Deliberately independent of :mod:`arielcal.calib`: it shares no code with the pipeline. Slow
and memory hungry (float64, tiled, time-major) by design; use it on small cubes.
"""

from __future__ import annotations

import itertools

import numpy as np
from astropy.stats import sigma_clip

# --------------------------------------------------------------------------- verbatim notebook code


def ADC_convert(signal, gain, offset):
    signal = signal.astype(np.float64)
    signal /= gain
    signal += offset
    return signal


def mask_hot_dead(signal, dead, dark):
    hot = sigma_clip(dark, sigma=5, maxiters=5).mask
    hot = np.tile(hot, (signal.shape[0], 1, 1))
    dead = np.tile(dead, (signal.shape[0], 1, 1))
    signal = np.ma.masked_where(dead, signal)
    signal = np.ma.masked_where(hot, signal)
    return signal


def apply_linear_corr(linear_corr, clean_signal):
    linear_corr = np.flip(linear_corr, axis=0)
    for x, y in itertools.product(range(clean_signal.shape[1]), range(clean_signal.shape[2])):
        poli = np.poly1d(linear_corr[:, x, y])
        clean_signal[:, x, y] = poli(clean_signal[:, x, y])
    return clean_signal


def clean_dark(signal, dead, dark, dt):

    dark = np.ma.masked_where(dead, dark)
    dark = np.tile(dark, (signal.shape[0], 1, 1))

    signal -= dark * dt[:, np.newaxis, np.newaxis]
    return signal


def get_cds(signal):
    cds = signal[:, 1::2, :, :] - signal[:, ::2, :, :]
    return cds


def bin_obs(cds_signal, binning):
    cds_transposed = cds_signal.transpose(0, 1, 3, 2)
    cds_binned = np.zeros(
        (cds_transposed.shape[0], cds_transposed.shape[1] // binning, cds_transposed.shape[2], cds_transposed.shape[3])
    )
    for i in range(cds_transposed.shape[1] // binning):
        cds_binned[:, i, :, :] = np.sum(cds_transposed[:, i * binning : (i + 1) * binning, :, :], axis=1)
    return cds_binned


def correct_flat_field(flat, dead, signal):
    flat = flat.transpose(1, 0)
    dead = dead.transpose(1, 0)
    flat = np.ma.masked_where(dead, flat)
    flat = np.tile(flat, (signal.shape[0], 1, 1))
    signal = signal / flat
    return signal


# --------------------------------------------------------------------------- driver (chunk of one planet)


def notebook_calibrate(
    raw,
    gain,
    offset,
    dark,
    dead,
    flat,
    linear_corr,
    dt,
    *,
    crop=None,
    do_mask=True,
    do_nl=False,
    do_dark=True,
    do_flat=True,
    binning=None,
):
    """The notebook's output for one planet and one instrument: float64 (bins, cols, rows).

    ``raw``: the (T, rows, W) uint16 frames, time-major, as the notebook reshapes the parquet.
    ``gain``, ``offset``: the ADC constants (value = raw / gain + offset). ``dark``, ``dead``,
    ``flat``: (rows, W) maps; ``linear_corr``: (6, rows, W), constant term first; all uncropped.
    ``dt``: per-frame integration times (T,), in whichever convention is under test (the
    notebook takes AIRS dt from axis_info and uses 0.1 s for every FGS1 frame; the 29 Aug
    version adds 0.1 s to odd frames). ``crop``: (start, stop) detector columns (AIRS 39:321),
    None = no crop (FGS1). ``binning``: CDS frames per bin (AIRS 30, FGS1 360), None = the
    notebook's TIME_BINNING = False (still transposed to (time, column, row)).
    """
    raw = np.asarray(raw)
    if raw.ndim != 3:
        raise ValueError(f"raw must be (T, rows, W), got {raw.shape}")
    # polars' .to_numpy() of a one-cell selection: a (1, 1) array that broadcasts.
    gain = np.array([[gain]], dtype=np.float64).reshape(1, 1)
    offset = np.array([[offset]], dtype=np.float64).reshape(1, 1)
    dt = np.array(dt, dtype=np.float64, copy=True)
    dark = np.asarray(dark, dtype=np.float64)
    dead = np.asarray(dead)
    flat = np.asarray(flat, dtype=np.float64)
    linear_corr = np.asarray(linear_corr, dtype=np.float64)
    cut_inf, cut_sup = (0, raw.shape[2]) if crop is None else crop

    # AIRS / FGS1 loop body, planet i = 0 of a chunk of size 1.
    signal = ADC_convert(raw, gain, offset)
    chopped_signal = signal[:, :, cut_inf:cut_sup]
    l = chopped_signal.shape[2]  # noqa: E741 (the notebook's name, kept for line-by-line comparison)
    del signal
    flat = flat[:, cut_inf:cut_sup]
    dark = dark[:, cut_inf:cut_sup]
    dead = dead[:, cut_inf:cut_sup]
    linear_corr = linear_corr[:, :, cut_inf:cut_sup]

    CHUNKS_SIZE = 1
    i = 0
    clean = np.zeros((CHUNKS_SIZE, chopped_signal.shape[0], chopped_signal.shape[1], l))

    if do_mask:
        chopped_signal = mask_hot_dead(chopped_signal, dead, dark)
        clean[i] = chopped_signal
    else:
        clean[i] = chopped_signal

    if do_nl:
        linear_corr_signal = apply_linear_corr(linear_corr, clean[i])
        clean[i, :, :, :] = linear_corr_signal

    if do_dark:
        cleaned_signal = clean_dark(clean[i], dead, dark, dt)
        clean[i] = cleaned_signal

    # After the chunk loop.
    cds = get_cds(clean)
    del clean
    if binning:
        cds_binned = bin_obs(cds, binning=binning)
    else:
        cds = cds.transpose(0, 1, 3, 2)
        cds_binned = cds
    del cds

    if do_flat:
        corrected = correct_flat_field(flat, dead, cds_binned[i])
        cds_binned[i] = corrected

    return np.array(cds_binned[i], dtype=np.float64)
