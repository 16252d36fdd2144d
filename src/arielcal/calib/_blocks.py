"""Shared machinery of the calibration stages: block iteration over whole pixel time series, shape checks, output arrays."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

#: Bytes of one float64 temporary per block (a block holds whole pixel time series, so a
#: block is at least one pixel: 90 kB for AIRS, 1.1 MB for FGS1 at full size). Cache-sized
#: blocks were 1.5-2x faster than 4-64 MB ones on the reference machine; Python overhead is
#: negligible (a few hundred blocks per full cube).
BLOCK_BYTES = 2**20


STORE_DTYPE = np.float32
F64 = np.float64

_ACTIONS = ("nan", "flag")


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
