"""Time binning: sums of consecutive CDS frames, and the centre time of each bin."""

from __future__ import annotations

import numpy as np

from ._blocks import F64, _block_pixels, _check_cube, _output, _tiles


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
