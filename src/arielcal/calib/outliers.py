"""Temporal outliers (cosmic-ray hits) on the CDS frames: robust per-block rejection.

Each pixel's CDS series is cut into blocks of ``window`` consecutive frames (the remainder
joins the last block; a series shorter than ``window`` is one block). In a block with m >= 3
finite frames x (float32, compared in float64):

    med   = median(x)            (the mean of the two middle values when m is even)
    mad   = median(|x - med|)
    sigma = max(1.4826 * mad, sqrt(2 * read^2 + max(med, 0)))
    reject x where |x - med| > threshold * sigma

``read`` is the per-read noise of ``read.parquet`` (e-), so the second term is the CDS noise
floor, read noise of both reads plus the shot noise of the block's median charge: the robust
spread cannot fall below what the detector must show, and a block of a few frames cannot make
its own noise look small. A pixel whose ``read`` is not finite is left alone. Rejected frames become NaN (the bin then averages its valid frames and
counts them in ``nvalid``); the pixel keeps a count for its DQ bit (JUMP_DET) and the metadata.

One pass, no iteration; the fused kernel (:mod:`arielcal.kernels`) repeats these operations in
the same order, so both modes reject the same frames and give the same bits.

On the simulator's noise (Gaussian read noise, Poisson shot noise) a threshold of 6 rejects a
clean frame with probability ~2e-9 when the floor is right and ~2e-6 when the read noise is 20 %
larger than ``read.parquet`` says; a hit above 10 sigma is rejected unless the block's robust
spread exceeds 1.6x the floor.
"""

from __future__ import annotations

import numpy as np

from ..dq import DQ, DQ_DTYPE
from ._blocks import _output

MAD_TO_SIGMA = 1.4826
MIN_OUTLIER_FRAMES = 3
DEFAULT_OUTLIER_THRESHOLD = 6.0
DEFAULT_OUTLIER_WINDOW = 30


def outlier_blocks(n_frames: int, window: int) -> np.ndarray:
    """Start of every block and the end of the last: blocks of ``window``, remainder in the last."""
    if int(window) < MIN_OUTLIER_FRAMES:
        raise ValueError(f"outliers: window must be >= {MIN_OUTLIER_FRAMES} frames, got {window}")
    n_blocks = max(1, n_frames // window)
    bounds = np.arange(n_blocks + 1) * window
    bounds[-1] = n_frames
    return bounds


def _median_sorted(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Median along the last axis of values sorted with NaN last, ``count`` finite values each."""
    lo = np.take_along_axis(values, np.maximum(count - 1, 0)[..., None] // 2, axis=-1)[..., 0]
    hi = np.take_along_axis(values, (count // 2)[..., None], axis=-1)[..., 0]
    return (lo + hi) / 2.0


def reject_outliers(
    cube: np.ndarray,
    read: np.ndarray,
    threshold: float = DEFAULT_OUTLIER_THRESHOLD,
    window: int = DEFAULT_OUTLIER_WINDOW,
    block_pixels: int = 256,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """CDS cube (rows, cols, frames) -> (float32 cube with rejected frames NaN, uint32 count of
    rejected frames per pixel). ``read`` (rows, cols) is the per-read noise in the cube's unit;
    ``out`` (float32, the cube's shape) receives the cleaned cube."""
    cube = np.asarray(cube)
    if cube.ndim != 3:
        raise ValueError(f"cube: expected a pixel-major (rows, cols, frames) cube, got shape {cube.shape}")
    rows, cols, n_frames = cube.shape
    read = np.asarray(read, dtype=np.float64)
    if read.shape != (rows, cols):
        raise ValueError(f"read: expected a (rows, cols) map of shape {(rows, cols)}, got {read.shape}")
    if not threshold > 0:
        raise ValueError(f"outliers: threshold must be > 0, got {threshold}")
    out = _output(out, cube.shape)
    if not out.flags.c_contiguous:  # rejected frames are written through a (pixels, frames) view
        raise ValueError("out: expected a C-contiguous array")
    np.copyto(out, cube, casting="same_kind")
    rejected = np.zeros(rows * cols, dtype=np.uint32)
    if n_frames == 0:
        return out, rejected.reshape(rows, cols)
    bounds = outlier_blocks(n_frames, int(window))
    flat_out = out.reshape(rows * cols, n_frames)
    flat_read = read.reshape(-1)
    regular = bounds[-2]  # frames in the blocks of exactly ``window``
    for p0 in range(0, rows * cols, block_pixels):
        pixels = slice(p0, min(rows * cols, p0 + block_pixels))
        series = flat_out[pixels]
        noise = flat_read[pixels]
        parts = []
        if regular:
            parts.append((0, regular, series[:, :regular].reshape(series.shape[0], -1, int(window))))
        parts.append((regular, n_frames, series[:, regular:][:, None, :]))
        for start, stop, blocks in parts:
            flags = _reject_blocks(blocks, noise, float(threshold))
            if flags is None:
                continue
            rejected[pixels] += flags.reshape(flags.shape[0], -1).sum(axis=1, dtype=np.uint32)
            view = series[:, start:stop]
            view[flags.reshape(view.shape)] = np.nan
    return out, rejected.reshape(rows, cols)


def _reject_blocks(x: np.ndarray, read: np.ndarray, threshold: float) -> np.ndarray | None:
    """Boolean (pixels, blocks, frames) of the rejected frames of float32 blocks, None if none.

    Only candidate blocks are sorted: |x - med| <= max - min and sigma >= the floor at
    med >= min, so a block whose range is within threshold x the floor at its minimum rejects
    nothing (exact, the same shortcut as the fused kernel; most blocks of clean data)."""
    count = np.isfinite(x).sum(axis=-1)
    low = np.fmin.reduce(x, axis=-1).astype(np.float64)  # NaN ignored (NaN only if all are)
    high = np.fmax.reduce(x, axis=-1).astype(np.float64)
    r = np.broadcast_to(read[:, None], count.shape)
    with np.errstate(invalid="ignore"):
        floor_low = np.sqrt(2.0 * r * r + np.where(low > 0.0, low, 0.0))
        candidate = (count >= MIN_OUTLIER_FRAMES) & np.isfinite(r) & ~(high - low <= threshold * floor_low)
    if not candidate.any():
        return None
    flags = np.zeros(x.shape, dtype=bool)
    flags[candidate] = _reject_candidates(x[candidate].astype(np.float64), r[candidate], count[candidate], threshold)
    return flags


def _reject_candidates(x: np.ndarray, r: np.ndarray, count: np.ndarray, threshold: float) -> np.ndarray:
    """Rejected frames of (blocks, frames) float64 blocks, each with >= 3 finite frames."""
    med = _median_sorted(np.sort(x, axis=-1), count)
    deviation = np.abs(x - med[:, None])  # NaN stays NaN and sorts last
    mad = _median_sorted(np.sort(deviation, axis=-1), count)
    floor = np.sqrt(2.0 * r * r + np.where(med > 0.0, med, 0.0))
    spread = MAD_TO_SIGMA * mad
    sigma = np.where(floor > spread, floor, spread)
    with np.errstate(invalid="ignore"):
        return deviation > threshold * sigma[:, None]


def outlier_dq(rejected: np.ndarray) -> np.ndarray:
    """JUMP_DET on every pixel with a rejected frame (the pixel itself stays usable)."""
    return np.where(np.asarray(rejected) > 0, DQ_DTYPE(DQ.JUMP_DET), DQ_DTYPE(0)).astype(DQ_DTYPE)
