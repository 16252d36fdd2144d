"""One observation's inputs, read as every execution mode needs them, and its fused calibration.

The staged scripts, the fused script and the notebook API (:mod:`arielcal.api`) all read an
observation through these functions, so a map cut, an ADC row or an integration time is
derived in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from . import calib, formats
from .errors import InputError
from .instruments import AIRS, FGS1_FRAME_S, Instrument

FUSED_MAPS = ("dead", "dark", "flat", "linear_corr", "read")


def crop_columns(values: np.ndarray, columns: Sequence[int] | None) -> np.ndarray:
    """Cut a calibration map (..., rows, W) to the science columns [start, stop)."""
    return values[..., columns[0] : columns[1]] if columns is not None else values


def read_map(path, instrument: Instrument, kind: str, columns: Sequence[int] | None) -> np.ndarray:
    """A calibration map cut to the observation's columns."""
    values = crop_columns(formats.read_calibration(path, instrument, kind, columns), columns)
    if kind == "dead" and values.all():
        raise InputError(path, "at least one live pixel in the dead map", "every pixel flagged dead")
    return values


def read_raw(signal, adc_info, planet_id: int, instrument: Instrument, columns) -> tuple[np.ndarray, float, float]:
    """The raw signal cut to ``columns`` and the planet's ADC (gain, offset)."""
    raw = formats.read_signal(signal, instrument, columns)
    gain, offset = formats.adc_constants(formats.read_adc_table(adc_info), int(planet_id), instrument, adc_info)
    return raw, gain, offset


def integration_times(
    instrument: Instrument, axis: Mapping[str, np.ndarray], n_frames: int, extra_s: float, axis_path
) -> np.ndarray:
    """Integration time of each raw frame: AIRS from axis_info, FGS1 the notebook's constant 0.1 s,
    with ``extra_s`` added to the second read of each pair."""
    if instrument is AIRS:
        dt = calib.integration_times_from_axis(axis[formats.AXIS_INTEGRATION], extra_s)
    else:
        # axis_info has no FGS1 integration time.
        dt = calib.integration_times(n_frames, FGS1_FRAME_S, FGS1_FRAME_S, extra_s)
    if dt.size != n_frames:
        raise InputError(
            axis_path,
            f"{n_frames} {instrument.name} integration times (one per raw frame)",
            f"{dt.size}",
        )
    return dt


def require_cds_frames(path, instrument: Instrument, n_cds: int, frames_per_bin: int) -> None:
    """A bin larger than the observation is a config/data mismatch, not a crash."""
    if n_cds < frames_per_bin:
        raise InputError(
            path,
            f"at least binning.{instrument.name} = {frames_per_bin} CDS frames",
            f"{n_cds} CDS frames",
        )


@dataclass(frozen=True)
class Fused:
    """The fused calibration of one observation, pixel-major, with what it was derived from."""

    cube: np.ndarray
    """float32 (rows, columns, time); excluded pixels NaN."""
    dq: np.ndarray
    n_valid: np.ndarray | None
    axis: Mapping[str, np.ndarray]
    gain: float
    offset: float
    raw_frames: int


def calibrate_fused(
    signal,
    adc_info,
    axis_info,
    maps: Mapping[str, object],
    planet_id: int,
    instrument: Instrument,
    columns: Sequence[int],
    settings,
    second_read_extra_s: float,
    threads: int = 1,
    stats: dict | None = None,
) -> Fused:
    """Every enabled stage of one observation in one pass (:func:`arielcal.fused.calibrate`),
    from the file paths: ``maps`` maps each of :data:`FUSED_MAPS` to its parquet; ``stats``
    receives the fused run's per-stage counts (:func:`arielcal.fused.calibrate`)."""
    from . import fused  # numba: only fused mode pays for it

    raw, gain, offset = read_raw(signal, adc_info, planet_id, instrument, columns)
    axis = formats.read_axis_info(axis_info)
    dt = integration_times(instrument, axis, raw.shape[-1], second_read_extra_s, axis_info)
    values = {kind: read_map(maps[kind], instrument, kind, columns) for kind in FUSED_MAPS}
    if "bin" in settings.stages:
        require_cds_frames(signal, instrument, raw.shape[-1] // 2, settings.frames_per_bin)
    cube, dq, n_valid = fused.calibrate(raw, gain, offset, dt, values, settings, threads=threads, stats=stats)
    return Fused(cube, dq, n_valid, axis, gain, offset, int(raw.shape[-1]))
