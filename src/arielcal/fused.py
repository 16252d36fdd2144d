"""All enabled stages of one observation in one pass over the raw samples (the fused mode).

Map-level steps (DQ, linearity coefficients, flat divisor) call the same :mod:`arielcal.calib`
functions as the staged rules; the per-sample arithmetic runs in the compiled kernel
:func:`arielcal.kernels.calibrate_pixels`, which repeats calib's operations and float32 storage
between stages, so fused and staged products agree to one float32 rounding of a binned sum at
most (in practice to the bit). Only the raw cube and the binned result are ever in memory.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import calib, kernels
from . import dq as dqflags
from .dq import DQ_DTYPE

SWITCHABLE = ("mask", "linearity", "dark", "outliers", "bin", "flat")


@dataclass(frozen=True)
class Settings:
    stages: frozenset[str] = field(default_factory=lambda: frozenset(SWITCHABLE))
    frames_per_bin: int = 30
    sigma: float = 5.0
    maxiters: int = 5
    hot_action: str = "nan"
    dead_action: str = "nan"
    saturated_action: str = "nan"
    outlier_threshold: float = calib.DEFAULT_OUTLIER_THRESHOLD
    outlier_window: int = calib.DEFAULT_OUTLIER_WINDOW

    @classmethod
    def from_params(cls, params) -> Settings:
        """The settings of the fused rule's ``params:`` (rules/fused.smk)."""
        return cls(
            stages=frozenset(params["stages"]),
            frames_per_bin=params["frames_per_bin"],
            sigma=params["sigma"],
            maxiters=params["maxiters"],
            hot_action=params["hot"],
            dead_action=params["dead"],
            saturated_action=params["saturated"],
            outlier_threshold=params["outlier_threshold"],
            outlier_window=params["outlier_window"],
        )


def calibrate(
    raw: np.ndarray,
    gain: float,
    offset: float,
    dt: np.ndarray,
    maps: dict[str, np.ndarray],
    settings: Settings,
    *,
    threads: int = 1,
    stats: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Raw uint16 (rows, cols, frames) to the calibrated (rows, cols, time) float32 cube.

    ``maps`` holds the calibration maps cut to the same columns (dead, dark, flat, linear_corr,
    and read with the outliers stage). Returns (cube, dq, n_valid); n_valid is None when binning
    is off. Excluded pixels are NaN. ``stats``, if given, receives per stage what the stage
    metadata of staged mode records: ``{"outliers": {"rejected_frames": n}}``.
    The map-level steps (DQ, cleaned coefficients, flat divisor) are the :mod:`arielcal.calib`
    functions of the staged rules; the per-sample work is :func:`arielcal.kernels.calibrate_pixels`,
    on ``threads`` blocks of pixels at once (the kernel releases the GIL).
    """
    _check_raw(raw, dt)
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
        dark = calib.usable_dark(maps["dark"])
    else:
        dark = np.zeros((rows, cols))
    linearity = "linearity" in enabled
    if linearity:
        coeffs, lin_dq = calib.clean_linearity_coefficients(maps["linear_corr"])
        dq |= lin_dq
    else:
        coeffs = np.zeros((1, rows, cols))
    # As in staged mode, pixels excluded by then are NaN from the first stage on and count no
    # valid frame; the flat's own exclusions apply after binning.
    excluded = dqflags.excluded(dq)
    if "flat" in enabled:
        divisor, dq = calib.flat_divisor(maps["flat"], dq)
    else:
        divisor = np.ones((rows, cols))
    binned = "bin" in enabled
    n_cds = n_frames // 2
    n_out = n_cds // settings.frames_per_bin if binned else n_cds
    n_pixels = rows * cols
    out = np.empty((n_pixels, n_out), dtype=np.float32)
    n_valid = np.empty((n_pixels, n_out if binned else 0), dtype=np.uint16)
    floor = np.empty(n_pixels, dtype=bool)
    saturated = np.empty(n_pixels, dtype=bool)
    pixel_major = np.ascontiguousarray(raw).reshape(n_pixels, n_frames)
    lut = calib.adc_lookup_table(gain, offset)
    excluded = np.ascontiguousarray(excluded.ravel())
    coeffs = _kernel_coefficients(coeffs)
    dark = np.ascontiguousarray(dark.ravel(), dtype=np.float64)
    dt = np.ascontiguousarray(dt, dtype=np.float64)
    divisor = np.ascontiguousarray(divisor.ravel(), dtype=np.float64)
    outliers = "outliers" in enabled
    window = int(settings.outlier_window)
    if outliers:
        if "read" not in maps:
            raise ValueError("maps: the outliers stage needs the read-noise map ('read')")
        read = np.ascontiguousarray(np.asarray(maps["read"], dtype=np.float64).ravel())
        calib.outlier_blocks(n_frames // 2, window)  # the staged function's checks and errors
    else:
        read = np.zeros(n_pixels)
    rejected = np.empty(n_pixels, dtype=np.uint32)

    def run_block(block: slice) -> None:
        kernels.calibrate_pixels(
            pixel_major[block],
            lut,
            excluded[block],
            coeffs[block],
            linearity,
            dark[block],
            dt,
            settings.frames_per_bin if binned else 0,
            divisor[block],
            out[block],
            n_valid[block],
            floor[block],
            saturated[block],
            outliers,
            float(settings.outlier_threshold),
            window,
            read[block],
            rejected[block],
        )

    # A few blocks per thread even out the load; each block is whole pixels.
    n_blocks = max(1, min(n_pixels, 4 * threads))
    bounds = np.linspace(0, n_pixels, n_blocks + 1).astype(int)
    blocks = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    if threads > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(run_block, blocks))
    else:
        for block in blocks:
            run_block(block)
    dq |= calib.adc_flags(floor, saturated).reshape(rows, cols)
    if "mask" in enabled:
        # As staged mode's mask stage: a pixel that reached the ADC ceiling is excluded from the
        # next stage on (with bad_pixels.saturated: nan), so it counts no valid frame.
        saturated_bits = calib.saturated_dq(dq, settings.saturated_action)
        lost = ((saturated_bits & dqflags.DQ.DO_NOT_USE).ravel() != 0) & ~excluded
        dq |= saturated_bits
        if binned:
            n_valid[lost] = 0
        rejected[lost] = 0
    if outliers:
        dq |= calib.outlier_dq(rejected.reshape(rows, cols))
        if stats is not None:
            stats["outliers"] = {"rejected_frames": int(rejected.sum(dtype=np.int64))}
    cube = out.reshape(rows, cols, n_out)
    calib.exclude_flagged(cube, dq)
    return cube, dq, n_valid.reshape(rows, cols, n_out) if binned else None


def _kernel_coefficients(coeffs: np.ndarray) -> np.ndarray:
    """(degree + 1, rows, cols) to the kernel's (pixels, 6), padded with leading zeros."""
    n_coeffs = coeffs.shape[0]
    if n_coeffs > kernels.N_COEFFS:
        raise ValueError(
            f"linear_corr: fused mode handles polynomials up to degree {kernels.N_COEFFS - 1}, got degree {n_coeffs - 1}"
        )
    padded = np.zeros((coeffs.shape[1] * coeffs.shape[2], kernels.N_COEFFS))
    padded[:, :n_coeffs] = coeffs.reshape(n_coeffs, -1).T
    return padded


def _check_raw(raw: np.ndarray, dt: np.ndarray) -> None:
    if raw.ndim != 3 or raw.dtype != np.uint16:
        raise ValueError(f"raw: expected a uint16 (rows, cols, frames) cube, got {raw.dtype} {raw.shape}")
    if raw.shape[-1] == 0 or raw.shape[-1] % 2:
        raise ValueError(f"raw: expected a positive even number of frames (read pairs), got {raw.shape[-1]}")
    if np.shape(dt) != (raw.shape[-1],):
        raise ValueError(f"dt: expected one integration time per frame ({raw.shape[-1]},), got {np.shape(dt)}")
