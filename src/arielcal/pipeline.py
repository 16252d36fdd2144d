"""All enabled stages of one observation in one pass, block of detector rows by block (the fused mode).

The same :mod:`arielcal.calib` functions as the staged rules, applied to one block of rows at a
time and stored in float32 between stages exactly as the staged ``.npy`` files are, so fused and
staged products agree to the bit; only the binned result is ever held for the whole detector.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import calib
from .dq import DQ_DTYPE

SWITCHABLE = ("mask", "linearity", "dark", "bin", "flat")


@dataclass(frozen=True)
class Settings:
    stages: frozenset[str] = field(default_factory=lambda: frozenset(SWITCHABLE))
    frames_per_bin: int = 30
    sigma: float = 5.0
    maxiters: int = 5
    hot_action: str = "nan"
    dead_action: str = "nan"


def calibrate(
    raw: np.ndarray,
    gain: float,
    offset: float,
    dt: np.ndarray,
    maps: dict[str, np.ndarray],
    settings: Settings,
    *,
    block_rows: int = 1,
    threads: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Raw uint16 (rows, cols, frames) to the calibrated (rows, cols, time) float32 cube.

    ``maps`` holds the calibration maps cut to the same columns (dead, dark, flat, linear_corr).
    Returns (cube, dq, n_valid); n_valid is None when binning is off. Excluded pixels are NaN.
    Row blocks are independent, so ``threads`` > 1 runs them concurrently (numpy releases the
    GIL in the array kernels).
    """
    rows, cols, n_frames = raw.shape
    enabled = settings.stages
    dq = np.zeros((rows, cols), dtype=DQ_DTYPE)
    if "mask" in enabled:
        dq |= calib.pixel_dq(
            maps["dead"],
            maps["dark"],
            sigma=settings.sigma,
            maxiters=settings.maxiters,
            hot_action=settings.hot_action,
            dead_action=settings.dead_action,
        )
    if "dark" in enabled:
        dq |= calib.dark_dq(maps["dark"])
    coeffs = None
    if "linearity" in enabled:
        coeffs, lin_dq = calib.clean_linearity_coefficients(maps["linear_corr"])
        dq |= lin_dq
    n_cds = n_frames // 2
    binned = "bin" in enabled
    n_out = n_cds // settings.frames_per_bin if binned else n_cds
    out = np.empty((rows, cols, n_out), dtype=np.float32)
    n_valid = np.empty((rows, cols, n_out), dtype=np.uint16) if binned else None

    def run_block(r0: int) -> None:
        block = slice(r0, min(rows, r0 + block_rows))
        cube, adc_dq = calib.adc_invert(raw[block], gain, offset)
        dq[block] |= adc_dq
        # As in staged mode, excluded pixels are NaN from the first stage after the mask on,
        # so they count no valid frame.
        calib.exclude_flagged(cube, dq[block])
        if coeffs is not None:
            cube = calib.apply_linearity(cube, coeffs[:, block], out=cube)
        if "dark" in enabled:
            cube = calib.subtract_dark(cube, maps["dark"][block], dt, out=cube)
        cube = calib.cds(cube)
        if binned:
            cube, n_valid[block] = calib.bin_frames(cube, settings.frames_per_bin)
        if "flat" in enabled:
            cube, dq[block] = calib.flat_field(cube, maps["flat"][block], dq[block])
        out[block] = cube

    starts = range(0, rows, block_rows)
    if threads > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(run_block, starts))
    else:
        for r0 in starts:
            run_block(r0)
    calib.exclude_flagged(out, dq)
    return out, dq, n_valid
