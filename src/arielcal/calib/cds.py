"""Correlated double sampling: second minus first read of each pair."""

from __future__ import annotations

import numpy as np

from ._blocks import _block_pixels, _check_cube, _output, _tiles


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
