"""Every file format of the project, read and written in one place.

Competition files (both editions): signal parquets, calibration parquets, ``axis_info.parquet``,
the ADC csv files. Our own files: ``.npy`` cubes and DQ maps, JSON sidecars (:mod:`arielcal.files`,
re-exported here). Readers read columns by name, validate what they read and raise
:class:`~arielcal.errors.InputError` naming the file; writers are atomic (temporary name, then
rename), so an interrupted job never leaves a truncated file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .deferred import DeferredModule
from .errors import InputError
from .files import (  # noqa: F401 (re-exported: formats is where every file format is read and written)
    FileError,
    atomic_path,
    check_names,
    load_json,
    load_npy,
    npy_damage,
    npy_writer,
    os_error_words,
    require_file,
    save_json,
    save_npy,
)
from .instruments import AXIS_INFO_ROWS, Instrument
from .layout import CALIBRATION_MAPS

pl = DeferredModule("polars")

LINEAR_CORR_DEGREE = 5

AXIS_TIME = "{instrument}-axis0-h"
AXIS_WAVELENGTH = "AIRS-CH0-axis2-um"
AXIS_INTEGRATION = "AIRS-CH0-integration_time"
AXIS_INFO_COLUMNS = (
    "AIRS-CH0-axis0-h",
    AXIS_WAVELENGTH,
    AXIS_INTEGRATION,
    "FGS1-axis0-h",
)
ADC_COLUMNS = (
    "FGS1_adc_offset",
    "FGS1_adc_gain",
    "AIRS-CH0_adc_offset",
    "AIRS-CH0_adc_gain",
)
ADC_OPTIONAL_COLUMNS = ("planet_id", "star")


# --------------------------------------------------------------------------- signal parquet


def signal_column_names(instrument: Instrument, col_range: Sequence[int] | None = None) -> list[str]:
    """Parquet columns of the pixels (r, c), row-major: pixel (r, c) is ``column_{W*r + c}``."""
    start, stop = (0, instrument.cols) if col_range is None else col_range
    return [f"column_{instrument.cols * r + c}" for r in range(instrument.rows) for c in range(start, stop)]


def _parquet_schema(path: Path) -> pl.Schema:
    require_file(path, "an existing parquet file")
    try:
        return pl.read_parquet_schema(path)
    except Exception as exc:  # polars raises several types for damaged files
        raise InputError(path, "a readable parquet file", f"{type(exc).__name__}: {exc}") from exc


def _parquet_rows(path: Path) -> int:
    """Rows of a parquet file from its footer (no data read)."""
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows
    except Exception as exc:
        raise InputError(path, "a readable parquet file", f"{type(exc).__name__}: {exc}") from exc


def read_signal(
    path: str | os.PathLike,
    instrument: Instrument,
    col_range: Sequence[int] | None = None,
) -> np.ndarray:
    """Raw frames as a pixel-major uint16 cube of shape (rows, cols, frames).

    Polars' ``to_numpy`` returns a Fortran-ordered (frames, pixels) array, whose transpose is a
    C-contiguous pixel-major view: no copy, and never a time-major transpose. ``col_range``
    projects the parquet read onto detector columns [start, stop).
    """
    path = Path(path)
    schema = _parquet_schema(path)
    expected = signal_column_names(instrument)
    check_names(
        path,
        schema.names(),
        expected,
        f"{len(expected)} columns column_0..column_{len(expected) - 1} "
        f"({instrument.rows} x {instrument.cols} {instrument.name} pixels, in this order)",
        ordered=True,
    )
    dtypes = set(schema.dtypes())
    if dtypes != {pl.UInt16}:
        raise InputError(path, "uint16 pixel columns", f"dtypes {sorted(map(str, dtypes))}")
    columns = signal_column_names(instrument, col_range)
    try:
        table = pl.read_parquet(path, columns=columns)
    except Exception as exc:
        raise InputError(path, "a readable parquet file", f"{type(exc).__name__}: {exc}") from exc
    _require_no_nulls(path, table, "uint16 samples (no null samples)")
    frames = table.to_numpy()
    del table
    n_frames = frames.shape[0]
    if n_frames == 0 or n_frames % 2:
        raise InputError(path, "a positive even number of frames (read pairs)", f"{n_frames} frames")
    ncols = instrument.cols if col_range is None else col_range[1] - col_range[0]
    return frames.T.reshape(instrument.rows, ncols, n_frames)


def check_signal_frames(path: str | os.PathLike, instrument: Instrument, frames: int) -> None:
    """The signal's frame count, from its parquet footer, against axis_info's time stamps."""
    path = Path(path)
    require_file(path, "an existing parquet file")
    found = _parquet_rows(path)
    if found != frames:
        raise InputError(path, f"{frames} frames (the {instrument.name} time stamps of axis_info)", f"{found} frames")


def _require_no_nulls(path, table: pl.DataFrame, what: str) -> None:
    counts = table.null_count().row(0)
    if any(counts):
        first = next(i for i, n in enumerate(counts) if n)
        total = sum(counts)
        raise InputError(
            path, what, f"{total} null samples, first in column {table.columns[first]!r} ({counts[first]} there)"
        )


def write_signal(path: str | os.PathLike, cube: np.ndarray) -> None:
    """Write a pixel-major uint16 cube (rows, cols, frames) in the competition layout.

    Frames are flattened row-major into columns ``column_0..``; polars stores uint16 as
    physical INT32 with the UINT_16 annotation, as the competition files.
    """
    if cube.dtype != np.uint16 or cube.ndim != 3:
        raise ValueError(f"expected a 3-D uint16 cube, got {cube.dtype} {cube.shape}")
    rows, cols, n_frames = cube.shape
    # (frames, pixels) view in Fortran order: each parquet column is contiguous.
    frames = np.ascontiguousarray(cube).reshape(rows * cols, n_frames).T
    with atomic_path(path) as tmp:
        pl.from_numpy(frames, schema=[f"column_{i}" for i in range(rows * cols)]).write_parquet(tmp)


# --------------------------------------------------------------------------- calibration parquet


def read_calibration(
    path: str | os.PathLike, instrument: Instrument, kind: str, columns: Sequence[int] | None = None
) -> np.ndarray:
    """One calibration map: (rows, cols) float64 (bool for ``dead``), (6, rows, cols) for ``linear_corr``.

    Columns are read by name (``column_0..``, each once, nothing else). linear_corr stores block
    k (rows 32k..32k+31) as the coefficient of x**k, constant first. With ``columns`` (the
    observation's [start, stop)), a dark, flat or read map without one usable pixel there is
    rejected.
    """
    path = Path(path)
    names, n_rows = check_calibration_schema(path, _parquet_schema(path), instrument, kind)
    try:
        # By name: a map whose columns are stored in another order still reads right.
        frame = pl.read_parquet(path, columns=names).select(names)
    except Exception as exc:
        raise InputError(path, "a readable parquet file", f"{type(exc).__name__}: {exc}") from exc
    if frame.height != n_rows:
        raise InputError(path, f"{n_rows} rows ({instrument.name} {kind})", f"{frame.height} rows")
    if frame.null_count().sum_horizontal().item():
        raise InputError(path, "no null values", "null values")
    values = np.ascontiguousarray(frame.to_numpy())
    if kind == "linear_corr":
        values = values.reshape(LINEAR_CORR_DEGREE + 1, instrument.rows, instrument.cols)
    if columns is not None:
        require_usable(path, values[..., columns[0] : columns[1]], kind, columns)
    return values


# What makes a pixel of each map usable; a map without one usable pixel in the observation's
# columns gives a product that is NaN everywhere (dead: see observation.read_map).
USABLE = {
    "dark": ("a finite value", np.isfinite),
    "flat": ("a finite positive value", lambda v: np.isfinite(v) & (v > 0)),
    "read": ("a finite non-negative value", lambda v: np.isfinite(v) & (v >= 0)),
}


def require_usable(path, values: np.ndarray, kind: str, columns: Sequence[int] | None = None) -> None:
    """Reject a calibration map with no usable pixel (within ``columns`` when given)."""
    if kind not in USABLE:
        return
    what, usable = USABLE[kind]
    if not usable(values).any():
        where = "" if columns is None else f" in columns {columns[0]}..{columns[1] - 1}"
        raise InputError(path, f"at least one pixel with {what}{where} ({kind} map)", "no usable pixel")


def check_calibration_schema(path, schema: pl.Schema, instrument: Instrument, kind: str) -> tuple[list[str], int]:
    """The column names and dtypes of a calibration map; returns (names, expected row count)."""
    if kind not in CALIBRATION_MAPS:
        raise ValueError(f"unknown calibration map {kind!r}")
    n_rows = instrument.rows * (LINEAR_CORR_DEGREE + 1 if kind == "linear_corr" else 1)
    want_dtype = pl.Boolean if kind == "dead" else pl.Float64
    names = [f"column_{i}" for i in range(instrument.cols)]
    check_names(
        path,
        schema.names(),
        names,
        f"{instrument.cols} columns column_0..column_{instrument.cols - 1} ({instrument.name} {kind})",
    )
    if set(schema.dtypes()) != {want_dtype}:
        raise InputError(path, f"{want_dtype} columns", f"dtypes {sorted(map(str, set(schema.dtypes())))}")
    return names, n_rows


def check_calibration_layout(path: str | os.PathLike, instrument: Instrument, kind: str) -> None:
    """A map's names, dtypes and row count from its parquet footer alone (no data read)."""
    path = Path(path)
    _, n_rows = check_calibration_schema(path, _parquet_schema(path), instrument, kind)
    found = _parquet_rows(path)
    if found != n_rows:
        raise InputError(path, f"{n_rows} rows ({instrument.name} {kind})", f"{found} rows")


def write_calibration(path: str | os.PathLike, values: np.ndarray) -> None:
    """Write a 2-D calibration map as the organisers do: a default polars parquet of the array."""
    if values.ndim == 3:
        values = values.reshape(-1, values.shape[-1])
    with atomic_path(path) as tmp:
        pl.from_numpy(
            np.ascontiguousarray(values), schema=[f"column_{i}" for i in range(values.shape[1])]
        ).write_parquet(tmp)


# --------------------------------------------------------------------------- axis_info.parquet


def read_axis_info(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The four axis_info columns (read by name), trailing null padding removed.

    A null or NaN before a column's last value is an error naming the row, not a stamp fewer.
    """
    path = Path(path)
    schema = _parquet_schema(path)
    check_names(
        path,
        [name for name in schema.names() if not _PANDAS_INDEX.match(name)],
        AXIS_INFO_COLUMNS,
        f"the columns {', '.join(AXIS_INFO_COLUMNS)}",
    )
    try:
        frame = pl.read_parquet(path, columns=list(AXIS_INFO_COLUMNS))
    except Exception as exc:
        raise InputError(path, "a readable parquet file", f"{type(exc).__name__}: {exc}") from exc
    return {name: axis_values(path, name, frame[name].cast(pl.Float64).to_numpy()) for name in AXIS_INFO_COLUMNS}


_PANDAS_INDEX = re.compile(r"^__index_level_\d+__$")


def axis_values(path, name: str, column: np.ndarray) -> np.ndarray:
    """A column's values up to its last finite one; a null or NaN among them is an error."""
    finite = np.isfinite(column)
    if not finite.any():
        raise InputError(path, f"values in column {name!r}", "only nulls/NaN")
    length = int(np.flatnonzero(finite)[-1]) + 1
    interior = np.flatnonzero(~finite[:length])
    if interior.size:
        raise InputError(
            path,
            f"finite values in column {name!r} followed only by null padding",
            f"{interior.size} interior NaN/null value(s) among its {length} values, first at row {int(interior[0])}",
        )
    return np.array(column[:length], dtype=np.float64)


def write_axis_info(path: str | os.PathLike, columns: Mapping[str, np.ndarray], n_rows: int = AXIS_INFO_ROWS) -> None:
    """Write axis_info as the organisers: pandas + pyarrow, no index, padding stored as parquet nulls."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {}
    for name in AXIS_INFO_COLUMNS:
        values = np.asarray(columns[name], dtype=np.float64)
        if values.size > n_rows:
            raise ValueError(f"axis_info column {name} has {values.size} values, more than {n_rows} rows")
        padded = np.full(n_rows, np.nan)
        padded[: values.size] = values
        arrays[name] = padded
    table = pa.Table.from_pandas(pd.DataFrame(arrays), preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def axis_times_h(axis: Mapping[str, np.ndarray], instrument: Instrument) -> np.ndarray:
    return axis[AXIS_TIME.format(instrument=instrument.name)]


# --------------------------------------------------------------------------- ADC csv files


def _planet_ids(values: pl.Series, path: Path) -> np.ndarray:
    """planet_id as int64; some csv files print ids as floats such as ``1103775.0``."""
    floats = values.cast(pl.Float64, strict=False).to_numpy()
    if not np.all(np.isfinite(floats)) or np.any(floats != np.round(floats)):
        raise InputError(path, "integer planet_id values", f"{values.to_list()[:5]}")
    return floats.astype(np.int64)


def read_adc_table(path: str | os.PathLike) -> dict[int | None, dict[str, float]]:
    """ADC constants keyed by planet id (2024 ``{split}_adc_info.csv``) or by None (2025 ``adc_info.csv``)."""
    path = Path(path)
    require_file(path, "an existing ADC info csv")
    try:
        frame = pl.read_csv(path, infer_schema_length=None)
    except Exception as exc:
        raise InputError(path, "a readable csv file", f"{type(exc).__name__}: {exc}") from exc
    check_names(
        path,
        frame.columns,
        ADC_COLUMNS,
        f"the columns {', '.join(ADC_COLUMNS)} (and planet_id, star in 2024)",
        optional=ADC_OPTIONAL_COLUMNS,
    )
    values = {name: frame[name].cast(pl.Float64, strict=False).to_numpy() for name in ADC_COLUMNS}
    if "planet_id" not in frame.columns:
        if frame.height != 1:
            raise InputError(path, "one global row (no planet_id column)", f"{frame.height} rows")
        return {None: {name: float(values[name][0]) for name in ADC_COLUMNS}}
    ids = _planet_ids(frame["planet_id"], path)
    unique, seen = np.unique(ids, return_counts=True)
    if np.any(seen > 1):
        raise InputError(path, "one row per planet_id", f"duplicated planet_id {unique[seen > 1].tolist()}")
    return {int(pid): {name: float(values[name][i]) for name in ADC_COLUMNS} for i, pid in enumerate(ids)}


def adc_constants(
    table: Mapping[int | None, Mapping[str, float]],
    planet_id: int,
    instrument: Instrument,
    path: str | os.PathLike,
) -> tuple[float, float]:
    """(gain, offset) of one planet and instrument; the pipeline inverts raw as raw / gain + offset."""
    row = table.get(None, table.get(int(planet_id)))
    if row is None:
        raise InputError(path, f"a row for planet_id {planet_id}", "no such row")
    gain = row[f"{instrument.name}_adc_gain"]
    offset = row[f"{instrument.name}_adc_offset"]
    if not np.isfinite(gain) or gain <= 0:
        # raw / gain + offset: a negative gain (or gain and offset swapped) negates the product.
        raise InputError(path, f"a finite positive {instrument.name}_adc_gain for planet {planet_id}", repr(gain))
    if not np.isfinite(offset):
        raise InputError(path, f"a finite {instrument.name}_adc_offset for planet {planet_id}", repr(offset))
    return gain, offset


def write_csv(path: str | os.PathLike, columns: Mapping[str, Sequence]) -> None:
    """A csv with floats at full repr precision, as the competition files; text is quoted as needed."""
    import csv
    import io

    names = list(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for row in zip(*(columns[name] for name in names), strict=True):
        writer.writerow([_csv_cell(value) for value in row])
    with atomic_path(path) as tmp:
        tmp.write_text(buffer.getvalue())


def _csv_cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(int(value)) if isinstance(value, (int, np.integer)) else str(value)
