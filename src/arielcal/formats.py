"""Every file format of the project, read and written in one place.

Competition files (both editions): signal parquets, calibration parquets, ``axis_info.parquet``,
the ADC csv files. Our own files: ``.npy`` cubes and DQ maps, JSON sidecars. Readers validate
what they read and raise :class:`~arielcal.errors.InputError` naming the file; writers are
atomic (temporary name, then rename), so an interrupted job never leaves a truncated file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from .deferred import DeferredModule
from .errors import InputError
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


# --------------------------------------------------------------------------- atomic output


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


@contextlib.contextmanager
def npy_writer(path: str | os.PathLike, shape: tuple[int, ...], dtype) -> Iterator[np.ndarray]:
    """A writable memory-mapped ``.npy`` to fill in place, renamed into ``path`` only when complete."""
    with atomic_path(path) as tmp:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape)
        yield array
        array.flush()
        del array


def load_npy(path: str | os.PathLike, mmap: bool = True) -> np.ndarray:
    """Load a cube memory-mapped (read-only) by default: stages stream it instead of copying."""
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(path, "a readable .npy array", f"{type(exc).__name__}: {exc}") from exc


def save_json(path: str | os.PathLike, payload: Mapping) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n")


def load_json(path: str | os.PathLike) -> dict:
    return json.loads(Path(path).read_text())


# --------------------------------------------------------------------------- signal parquet


def signal_column_names(instrument: Instrument, col_range: Sequence[int] | None = None) -> list[str]:
    """Parquet columns of the pixels (r, c), row-major: pixel (r, c) is ``column_{W*r + c}``."""
    start, stop = (0, instrument.cols) if col_range is None else col_range
    return [
        f"column_{instrument.cols * r + c}"
        for r in range(instrument.rows)
        for c in range(start, stop)
    ]


def _parquet_schema(path: Path) -> pl.Schema:
    if not path.is_file():
        raise InputError(path, "an existing parquet file", "no such file")
    try:
        return pl.read_parquet_schema(path)
    except Exception as exc:  # polars raises several types for damaged files
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
    if list(schema.names()) != expected:
        raise InputError(
            path,
            f"{len(expected)} columns column_0..column_{len(expected) - 1} "
            f"({instrument.rows} x {instrument.cols} {instrument.name} pixels)",
            f"{len(schema)} columns starting {list(schema.names())[:2]}",
        )
    dtypes = set(schema.dtypes())
    if dtypes != {pl.UInt16}:
        raise InputError(path, "uint16 pixel columns", f"dtypes {sorted(map(str, dtypes))}")
    columns = signal_column_names(instrument, col_range)
    try:
        frames = pl.read_parquet(path, columns=columns).to_numpy()
    except Exception as exc:
        raise InputError(path, "a readable parquet file", f"{type(exc).__name__}: {exc}") from exc
    n_frames = frames.shape[0]
    if n_frames == 0 or n_frames % 2:
        raise InputError(path, "a positive even number of frames (read pairs)", f"{n_frames} frames")
    ncols = instrument.cols if col_range is None else col_range[1] - col_range[0]
    return frames.T.reshape(instrument.rows, ncols, n_frames)


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


def read_calibration(path: str | os.PathLike, instrument: Instrument, kind: str) -> np.ndarray:
    """One calibration map: (rows, cols) float64 (bool for ``dead``), (6, rows, cols) for ``linear_corr``.

    linear_corr stores block k (rows 32k..32k+31) as the coefficient of x**k, constant first.
    """
    if kind not in CALIBRATION_MAPS:
        raise ValueError(f"unknown calibration map {kind!r}")
    path = Path(path)
    schema = _parquet_schema(path)
    n_rows = instrument.rows * (LINEAR_CORR_DEGREE + 1 if kind == "linear_corr" else 1)
    want_dtype = pl.Boolean if kind == "dead" else pl.Float64
    if len(schema) != instrument.cols:
        raise InputError(path, f"{instrument.cols} columns ({instrument.name} {kind})", f"{len(schema)} columns")
    if set(schema.dtypes()) != {want_dtype}:
        raise InputError(path, f"{want_dtype} columns", f"dtypes {sorted(map(str, set(schema.dtypes())))}")
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:
        raise InputError(path, "a readable parquet file", f"{type(exc).__name__}: {exc}") from exc
    if frame.height != n_rows:
        raise InputError(path, f"{n_rows} rows ({instrument.name} {kind})", f"{frame.height} rows")
    if frame.null_count().sum_horizontal().item():
        raise InputError(path, "no null values", "null values")
    values = np.ascontiguousarray(frame.to_numpy())
    if kind == "linear_corr":
        return values.reshape(LINEAR_CORR_DEGREE + 1, instrument.rows, instrument.cols)
    return values


def write_calibration(path: str | os.PathLike, values: np.ndarray) -> None:
    """Write a 2-D calibration map as the organisers do: a default polars parquet of the array."""
    if values.ndim == 3:
        values = values.reshape(-1, values.shape[-1])
    with atomic_path(path) as tmp:
        pl.from_numpy(np.ascontiguousarray(values), schema=[f"column_{i}" for i in range(values.shape[1])]).write_parquet(tmp)


# --------------------------------------------------------------------------- axis_info.parquet


def read_axis_info(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The four axis_info columns, null padding removed."""
    path = Path(path)
    schema = _parquet_schema(path)
    missing = [name for name in AXIS_INFO_COLUMNS if name not in schema.names()]
    if missing:
        raise InputError(path, f"columns {list(AXIS_INFO_COLUMNS)}", f"missing {missing}")
    frame = pl.read_parquet(path, columns=list(AXIS_INFO_COLUMNS))
    return {name: frame[name].drop_nulls().drop_nans().to_numpy().copy() for name in AXIS_INFO_COLUMNS}


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
    if not path.is_file():
        raise InputError(path, "an existing ADC info csv", "no such file")
    try:
        frame = pl.read_csv(path, infer_schema_length=None)
    except Exception as exc:
        raise InputError(path, "a readable csv file", f"{type(exc).__name__}: {exc}") from exc
    missing = [name for name in ADC_COLUMNS if name not in frame.columns]
    if missing:
        raise InputError(path, f"columns {list(ADC_COLUMNS)}", f"missing {missing}")
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
    if not np.isfinite(gain) or gain == 0:
        raise InputError(path, f"a finite non-zero {instrument.name}_adc_gain for planet {planet_id}", repr(gain))
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
    for row in zip(*(columns[name] for name in names)):
        writer.writerow([_csv_cell(value) for value in row])
    with atomic_path(path) as tmp:
        tmp.write_text(buffer.getvalue())


def _csv_cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(int(value)) if isinstance(value, (int, np.integer)) else str(value)
