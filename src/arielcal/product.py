"""The observation product: its files, layout, axes and metadata keys, written and read here.

On disk, per observation directory: ``calibrated.npy`` float32 (time, column, row),
``dq.npy`` uint32 (column, row), ``nvalid.npy`` uint16 (time, column, row) when binning ran, and
``meta.json``. The calibration works pixel-major (row, column, time); :func:`assemble` turns its
result into the notebook's layout once, at the end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import calib, formats, paths
from . import dq as dqflags
from .errors import InputError
from .instruments import AIRS, Instrument

FILES = paths.PRODUCT_FILES
AXES = ["time", "column", "row"]
UNITS = "e- summed over the frames of each bin (ADC-inverted units)"
WAVELENGTH_ORDER = "detector columns; AIRS wavelength decreases with column index"


@dataclass
class Product:
    """A calibrated observation with its axes; ``meta`` holds everything meta.json says."""

    calibrated: np.ndarray
    """float32 (time, column, row); NaN where excluded."""
    dq: np.ndarray
    """uint32 (column, row) DQ bit map (arielcal.dq)."""
    nvalid: np.ndarray | None
    """uint16 (time, column, row) valid CDS frames per bin; None when binning was off."""
    time_h: np.ndarray
    """Mid-time of each bin (hours)."""
    wavelength_um: np.ndarray | None
    """Wavelength of each column (AIRS-CH0; decreasing with the column index), None for FGS1."""
    meta: dict = field(default_factory=dict)

    @property
    def columns(self) -> list[int]:
        return self.meta["columns"]


def assemble(
    cube: np.ndarray,
    dq: np.ndarray,
    n_valid: np.ndarray | None,
    axis: Mapping[str, np.ndarray],
    instrument: Instrument,
    columns: Sequence[int],
    frames_per_bin: int,
    axis_path,
) -> Product:
    """The product of a pixel-major (rows, cols, time) calibrated cube and its axes."""
    frame_times = formats.axis_times_h(axis, instrument)
    n_times = cube.shape[-1]
    if frame_times.size < 2 * n_times * frames_per_bin:
        raise InputError(
            axis_path,
            f"at least {2 * n_times * frames_per_bin} {instrument.name} time stamps",
            f"{frame_times.size}",
        )
    times = calib.bin_times(frame_times, frames_per_bin)[:n_times]
    start, stop = columns
    wavelength = axis[formats.AXIS_WAVELENGTH][start:stop] if instrument is AIRS else None
    meta = {
        "axes": AXES,
        "shape": [cube.shape[2], cube.shape[1], cube.shape[0]],
        "units": UNITS,
        "columns": [start, stop],
        "wavelength_um": None if wavelength is None else wavelength.tolist(),
        "wavelength_order": WAVELENGTH_ORDER,
        "time_h": times.tolist(),
        "dq_flags": {flag.name: int(flag) for flag in dqflags.DQ},
        "dq_counts": dqflags.counts(dq),
        "excluded_pixels": int(np.count_nonzero(dqflags.excluded(dq))),
    }
    return Product(
        calibrated=np.ascontiguousarray(cube.transpose(2, 1, 0)),
        dq=np.ascontiguousarray(dq.T).astype(dqflags.DQ_DTYPE),
        nvalid=None if n_valid is None else np.ascontiguousarray(n_valid.transpose(2, 1, 0)),
        time_h=np.asarray(times, dtype=np.float64),
        wavelength_um=None if wavelength is None else np.asarray(wavelength, dtype=np.float64),
        meta=meta,
    )


def save_arrays(product: Product, paths: Mapping[str, str]) -> None:
    """Write the array files (``paths`` by :data:`FILES` key); meta.json is the step wrapper's."""
    formats.save_npy(paths["calibrated"], product.calibrated)
    formats.save_npy(paths["dq"], product.dq)
    if product.nvalid is not None:
        formats.save_npy(paths["nvalid"], product.nvalid)


def open_product(directory) -> Product:
    """Load an observation product written by the workflow, with its axes."""
    directory = Path(directory)
    meta = formats.load_json(directory / FILES["meta"])
    nvalid = directory / FILES["nvalid"]
    wavelength = meta.get("wavelength_um")
    return Product(
        calibrated=formats.load_npy(directory / FILES["calibrated"]),
        dq=formats.load_npy(directory / FILES["dq"]),
        nvalid=formats.load_npy(nvalid) if nvalid.is_file() else None,
        time_h=np.asarray(meta["time_h"], dtype=np.float64),
        wavelength_um=None if wavelength is None else np.asarray(wavelength, dtype=np.float64),
        meta=meta,
    )


def flat_divisor(dq: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """The flat each pixel of a product was divided by, (column, row): ``flat`` (a (column, row)
    map) where the flat stage applied it, 1 where it skipped the pixel (DQ NO_FLAT_FIELD)."""
    return np.where((np.asarray(dq) & dqflags.DQ.NO_FLAT_FIELD) != 0, 1.0, flat)
