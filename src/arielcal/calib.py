"""Pure calibration functions: arrays in, arrays out (no I/O, no Snakemake, no masked arrays).

Layout conventions (the whole project):

* cubes are **pixel-major** ``(rows, cols, frames)``; the last (time) axis is contiguous in a
  C-ordered array. Cubes are never transposed to time-major here.
* calibration maps are ``(rows, cols)``; linearity coefficients ``(degree + 1, rows, cols)``,
  constant term first.
* DQ maps are ``uint32`` ``(rows, cols)`` built from :class:`arielcal.dq.DQ`. A pixel carrying
  ``DO_NOT_USE`` ends as NaN in every product; a problem confined to one frame (raw 0 or 65535)
  is NaN in that frame only and sets a descriptive bit of the pixel.

Precision: arithmetic is done in float64 and only the stored result is float32 (the default
output dtype). Pass ``out=`` (any writable array of the right shape, e.g. a memory-mapped
``.npy``) to choose the dtype or stream the result to disk.

Memory: every function that touches a full cube works in blocks of whole pixel time series
(``block_pixels`` pixels at a time; by default as many as fit in :data:`BLOCK_BYTES` of float64
per temporary), so no full-cube float64 temporary is ever made. Inputs may be read-only
memory maps; they are never modified (except by :func:`exclude_flagged`, whose job it is).

Stage order in the pipeline: :func:`adc_invert` -> (:func:`pixel_dq`) -> :func:`apply_linearity`
-> :func:`subtract_dark` -> :func:`cds` -> :func:`bin_frames` -> :func:`flat_field` ->
:func:`exclude_flagged`. Dark subtraction, CDS, binning and flat division are linear per pixel
and commute; ADC inversion and linearity must see every raw frame.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np

from .dq import DQ, DQ_DTYPE

__all__ = [
    "BLOCK_BYTES",
    "adc_flags",
    "adc_invert",
    "adc_lookup_table",
    "apply_linearity",
    "bin_frames",
    "bin_times",
    "cds",
    "clean_linearity_coefficients",
    "dark_dq",
    "exclude_flagged",
    "flat_divisor",
    "flat_field",
    "integration_times",
    "integration_times_from_axis",
    "pixel_dq",
    "sigma_clip_mask",
    "subtract_dark",
    "usable_dark",
]

#: Bytes of one float64 temporary per block (a block holds whole pixel time series, so a
#: block is at least one pixel: 90 kB for AIRS, 1.1 MB for FGS1 at full size). Cache-sized
#: blocks were 1.5-2x faster than 4-64 MB ones on the reference machine; Python overhead is
#: negligible (a few hundred blocks per full cube).
BLOCK_BYTES = 2**20

ADC_SATURATED = 65535
ADC_FLOOR = 0

STORE_DTYPE = np.float32
F64 = np.float64

_ACTIONS = ("nan", "flag")


# --------------------------------------------------------------------------- helpers


def _check_cube(cube: np.ndarray, name: str = "cube") -> None:
    if cube.ndim != 3:
        raise ValueError(f"{name}: expected a pixel-major (rows, cols, frames) cube, got shape {cube.shape}")


def _check_map(values: np.ndarray, shape: tuple[int, int], name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != tuple(shape):
        raise ValueError(f"{name}: expected a (rows, cols) map of shape {tuple(shape)}, got {values.shape}")
    return values


def _output(out: np.ndarray | None, shape: tuple[int, ...], dtype=STORE_DTYPE) -> np.ndarray:
    if out is None:
        return np.empty(shape, dtype=dtype)
    if out.shape != tuple(shape):
        raise ValueError(f"out: expected shape {tuple(shape)}, got {out.shape}")
    if not out.flags.writeable:
        raise ValueError("out: array is read-only")
    return out


def _block_pixels(n_frames: int, block_pixels: int | None) -> int:
    if block_pixels is None:
        return max(1, BLOCK_BYTES // (8 * max(1, n_frames)))
    if int(block_pixels) < 1:
        raise ValueError(f"block_pixels must be >= 1, got {block_pixels}")
    return int(block_pixels)


def _tiles(rows: int, cols: int, block_pixels: int) -> Iterator[tuple]:
    """Index tuples covering (rows, cols) in blocks of at most ``block_pixels`` pixels.

    A block is either a run of whole detector rows, ``(slice(r0, r1),)``, or part of one row,
    ``(r, slice(c0, c1))``. Both give strided views of any array (C-contiguous, memory-mapped or
    not), and index a per-pixel map the same way.
    """
    if block_pixels >= cols:
        step = max(1, block_pixels // max(1, cols))
        for r0 in range(0, rows, step):
            yield (slice(r0, min(rows, r0 + step)),)
    else:
        for r in range(rows):
            for c0 in range(0, cols, block_pixels):
                yield (r, slice(c0, min(cols, c0 + block_pixels)))


def _scalar(value, name: str) -> float:
    arr = np.asarray(value, dtype=F64)
    if arr.size != 1:
        raise ValueError(f"{name}: expected a scalar, got shape {arr.shape}")
    return float(arr.reshape(()))


# --------------------------------------------------------------------------- ADC


def adc_lookup_table(gain: float, offset: float, dtype=STORE_DTYPE) -> np.ndarray:
    """The ADC inversion of every uint16 value, ``raw / gain + offset`` in float64 rounded once
    to ``dtype``; 0 (AD_FLOOR) and 65535 (SATURATED) map to NaN."""
    gain = _scalar(gain, "gain")
    offset = _scalar(offset, "offset")
    if not np.isfinite(gain) or gain == 0 or not np.isfinite(offset):
        raise ValueError(f"ADC constants must be finite with a non-zero gain, got gain={gain}, offset={offset}")
    lut64 = np.arange(65536, dtype=F64)
    lut64 /= gain
    lut64 += offset
    lut = lut64.astype(dtype)
    lut[ADC_FLOOR] = np.nan
    lut[ADC_SATURATED] = np.nan
    return lut


def adc_flags(floor: np.ndarray, saturated: np.ndarray) -> np.ndarray:
    """DQ of pixels with any raw sample at 0 (AD_FLOOR) or 65535 (SATURATED)."""
    dq = np.where(floor, DQ_DTYPE(DQ.AD_FLOOR), DQ_DTYPE(0))
    dq |= np.where(saturated, DQ_DTYPE(DQ.SATURATED), DQ_DTYPE(0))
    return dq


def adc_invert(
    raw_u16: np.ndarray,
    gain: float,
    offset: float,
    out: np.ndarray | None = None,
    block_pixels: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Invert the ADC: value = raw / gain + offset, computed in float64, stored in ``out``'s dtype.

    Samples equal to 65535 become NaN and set SATURATED on the pixel; samples equal to 0 become
    NaN and set AD_FLOOR. Neither sets DO_NOT_USE: the problem is confined to those frames.

    Implemented as a 65536-entry lookup table whose entries are the float64 results rounded
    once to the output dtype, so the stored values are bit-identical to computing
    ``float32(float64(raw) / gain + offset)`` sample by sample. The only precision lost is that
    final rounding, <= 6e-8 x |value| per sample (0.002 e- at 3e4 e-), independent from frame to
    frame, so it averages down in CDS bins; the subtraction of a large offset (-1000) is exact
    in float64 before the rounding.

    Returns ``(cube, dq)`` with ``dq`` a uint32 (rows, cols) map.
    """
    _check_cube(raw_u16, "raw")
    if raw_u16.dtype != np.uint16:
        raise ValueError(f"raw: expected uint16 samples, got {raw_u16.dtype}")
    rows, cols, n_frames = raw_u16.shape
    out = _output(out, raw_u16.shape)
    lut = adc_lookup_table(gain, offset, out.dtype)
    dq = np.zeros((rows, cols), dtype=DQ_DTYPE)
    if n_frames == 0:
        return out, dq
    # The lookup converts uint16 indices to intp: size blocks for that 8-byte temporary.
    for idx in _tiles(rows, cols, _block_pixels(n_frames, block_pixels)):
        block = np.asarray(raw_u16[idx])
        np.take(lut, block, out=out[idx], mode="clip")  # 2x faster than lut[block]
        dq[idx] |= adc_flags(block.min(axis=-1) == ADC_FLOOR, block.max(axis=-1) == ADC_SATURATED)
    return out, dq


# --------------------------------------------------------------------------- bad pixels


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


# --------------------------------------------------------------------------- linearity


def dark_dq(dark: np.ndarray) -> np.ndarray:
    """Pixels whose dark is not finite: not dark-corrected (see :func:`subtract_dark`), so excluded."""
    unusable = ~np.isfinite(np.asarray(dark, dtype=F64))
    return np.where(unusable, DQ_DTYPE(DQ.UNRELIABLE_DARK | DQ.DO_NOT_USE), DQ_DTYPE(0))


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


# --------------------------------------------------------------------------- dark


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


# --------------------------------------------------------------------------- CDS and binning


def cds(cube: np.ndarray, out: np.ndarray | None = None, block_pixels: int | None = None) -> np.ndarray:
    """Correlated double sampling: frame 2k+1 minus frame 2k -> (rows, cols, frames // 2).

    The difference is rounded once to the output dtype (float32 inputs: exact IEEE float32
    subtraction). An odd frame count is a ValueError.
    """
    _check_cube(cube)
    rows, cols, n_frames = cube.shape
    if n_frames % 2:
        raise ValueError(f"cds: expected an even number of frames (read pairs), got {n_frames}")
    out = _output(out, (rows, cols, n_frames // 2))
    if n_frames == 0:
        return out
    for idx in _tiles(rows, cols, _block_pixels(n_frames, block_pixels)):
        block = cube[idx]
        np.subtract(block[..., 1::2], block[..., 0::2], out=out[idx], casting="same_kind")
    return out


def bin_frames(
    cube: np.ndarray,
    n: int,
    out: np.ndarray | None = None,
    block_pixels: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sum bins of ``n`` consecutive frames; trailing frames that do not fill a bin are dropped.

    A bin's value is the mean of its valid (finite) frames times ``n``, accumulated in float64:
    a bin without NaN equals the plain float64 sum, and a NaN frame does not bias the bin low.
    A bin with no valid frame is NaN. Returns ``(binned, n_valid)`` with shapes
    (rows, cols, frames // n); ``n_valid`` is uint16. ``n`` larger than the frame count is a
    ValueError.
    """
    _check_cube(cube)
    rows, cols, n_frames = cube.shape
    n = int(n)
    if n < 1 or n > np.iinfo(np.uint16).max:
        raise ValueError(f"bin size must be in 1..65535, got {n}")
    if n > n_frames:
        raise ValueError(f"bin size {n} is larger than the number of frames {n_frames}")
    n_bins = n_frames // n
    out = _output(out, (rows, cols, n_bins))
    n_valid = np.full((rows, cols, n_bins), n, dtype=np.uint16)
    for idx in _tiles(rows, cols, _block_pixels(n_frames, block_pixels)):
        block = np.asarray(cube[idx])[..., : n_bins * n]
        block = block.reshape(*block.shape[:-1], n_bins, n)
        sums = np.sum(block, axis=-1, dtype=F64)
        bad = ~np.isfinite(sums)
        if bad.any():
            frames = np.asarray(block[bad], dtype=F64)
            valid = np.isfinite(frames)
            count = valid.sum(axis=-1)
            total = np.where(valid, frames, 0.0).sum(axis=-1)
            with np.errstate(invalid="ignore", divide="ignore"):
                sums[bad] = np.where(count > 0, total / count * n, np.nan)
            counts = n_valid[idx]
            counts[bad] = count
            n_valid[idx] = counts
        out[idx] = sums
    return out, n_valid


# --------------------------------------------------------------------------- flat field


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


# --------------------------------------------------------------------------- time axis


def bin_times(frame_times: np.ndarray, n: int) -> np.ndarray:
    """Centre of each time bin: the mean of the long-read (odd-frame) stamps of its ``n`` CDS frames.

    ``frame_times`` are the raw-frame stamps (frames,), in any unit; CDS frame k uses stamp
    2k+1. Trailing CDS frames that do not fill a bin are dropped, as in :func:`bin_frames`.
    """
    frame_times = np.asarray(frame_times, dtype=F64).ravel()
    n = int(n)
    long_reads = frame_times[1::2]
    if n < 1:
        raise ValueError(f"bin size must be >= 1, got {n}")
    if n > long_reads.size:
        raise ValueError(f"bin size {n} is larger than the number of CDS frames {long_reads.size}")
    n_bins = long_reads.size // n
    return long_reads[: n_bins * n].reshape(n_bins, n).mean(axis=1)
