"""The thin step wrapper shared by every ``scripts/<stage>.py``: logging, provenance and outputs.

A stage script reads its inputs, calls pure functions of :mod:`arielcal.calib`, and hands the
result to :meth:`Step.write_cube` / :meth:`Step.write_dq`. This module owns the cross-cutting
parts: the log file, the NaN <-> DQ sync, checksums of input files, and the JSON sidecar that
records each stage's parameters, inputs, outputs and package versions.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import platform
import sys
import time
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path

import numpy as np

from . import calib, dq as dqflags, formats
from .errors import InputError
from .instruments import AIRS, FGS1_FRAME_S, INSTRUMENTS, Instrument

log = logging.getLogger("arielcal")

# Raw inputs are checksummed; our own intermediates are only sized (they are re-derivable).
_CHECKSUMMED_SUFFIXES = (".parquet", ".csv")
_VERSIONED = ("arielcal", "numpy", "polars", "pyarrow", "pandas", "astropy", "snakemake")


# A full-size signal parquet takes ~0.27 s to checksum, half the time to read it: each raw file
# is hashed once (until its size, mtime or inode change) and the digest reused by every later
# job and run that records it. Relative to the run's working directory, as every job's cwd.
CHECKSUM_CACHE = Path(".snakemake") / "arielcal" / "sha256"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_sha256(path: Path, cache: Path = CHECKSUM_CACHE) -> str:
    """The sha256 of ``path``, computed once per file version (size, mtime, inode) per cache."""
    real = Path(os.path.realpath(path))
    stat = real.stat()
    version = {"path": str(real), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}
    entry = cache / (hashlib.sha1(str(real).encode()).hexdigest() + ".json")
    with contextlib.suppress(OSError, ValueError, KeyError, AttributeError):  # absent or damaged
        known = formats.load_json(entry)
        if {key: known.get(key) for key in version} == version:
            return known["sha256"]
    digest = sha256_of(real)
    with contextlib.suppress(OSError):  # a read-only working directory only loses the cache
        entry.parent.mkdir(parents=True, exist_ok=True)
        formats.save_json(entry, {**version, "sha256": digest})
    return digest


def file_record(path: str | os.PathLike) -> dict:
    path = Path(path)
    record = {"path": str(path), "bytes": path.stat().st_size}
    if path.suffix in _CHECKSUMMED_SUFFIXES:
        record["sha256"] = cached_sha256(path)
    return record


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _VERSIONED:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def crop_columns(values: np.ndarray, instrument: Instrument, columns) -> np.ndarray:
    """Cut a calibration map (..., rows, W) to the science columns used for this instrument."""
    return values[..., columns[0] : columns[1]] if columns is not None else values


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


class Step:
    """One stage run for one observation, built from the Snakemake ``snakemake`` object."""

    def __init__(self, smk, stage: str):
        self.smk = smk
        self.stage = stage
        self.instrument: Instrument | None = INSTRUMENTS.get(getattr(smk.wildcards, "instrument", None))
        self.params = dict(smk.params.items())
        self.columns = self.params.get("columns")
        self.extra: dict = {}
        self._started = time.perf_counter()

    def calibration(self, kind: str) -> np.ndarray:
        """A calibration map from the rule input named ``kind``, cut to the stage's columns."""
        path = self.smk.input[kind]
        values = crop_columns(formats.read_calibration(path, self.instrument, kind), self.instrument, self.columns)
        if kind == "dead" and values.all():
            raise InputError(path, "at least one live pixel in the dead map", "every pixel flagged dead")
        return values

    def read_raw(self) -> tuple[np.ndarray, float, float]:
        """The raw signal cut to the stage's columns, and the planet's ADC (gain, offset)."""
        smk = self.smk
        raw = formats.read_signal(smk.input.signal, self.instrument, self.columns)
        table = formats.read_adc_table(smk.input.adc_info)
        gain, offset = formats.adc_constants(table, int(smk.wildcards.planet), self.instrument, smk.input.adc_info)
        self.extra.update(gain=gain, offset=offset, raw_frames=raw.shape[-1])
        return raw, gain, offset

    def input_dq(self) -> np.ndarray:
        return np.array(formats.load_npy(self.smk.input.dq, mmap=False), dtype=dqflags.DQ_DTYPE)

    def write_cube(self, cube: np.ndarray, dq: np.ndarray) -> None:
        """Write the cube with excluded pixels set to NaN (the NaN <-> DQ sync), then its DQ map."""
        calib.exclude_flagged(cube, dq)
        formats.save_npy(self.smk.output.cube, cube)
        self.extra["cube_shape"] = list(cube.shape)
        self.write_dq(dq)

    def write_dq(self, dq: np.ndarray) -> None:
        formats.save_npy(self.smk.output.dq, dq.astype(dqflags.DQ_DTYPE))
        self.extra["dq_counts"] = dqflags.counts(dq)

    def write_meta(self) -> None:
        payload = {
            "stage": self.stage,
            "observation": dict(self.smk.wildcards.items()),
            "params": _jsonable(self.params),
            "inputs": [file_record(path) for path in self.smk.input],
            "versions": versions(),
            "host": platform.node(),
            "seconds": round(time.perf_counter() - self._started, 3),
            **_jsonable(self.extra),
        }
        formats.save_json(self.smk.output.meta, payload)


class Rejected(Exception):
    """An observation rejected before the run; the message is the reason, verbatim."""


FAILURE_SUFFIX = ".failed"
FAILURE_COLUMNS = ("split", "planet", "visit", "instrument", "stage", "reason")


def _record_failure(path: Path, stage: str, wildcards, reason: str) -> None:
    record = {**{k: str(v) for k, v in wildcards.items()}, "stage": stage, "reason": reason}
    formats.save_json(path, record)


def summarize_failures(log_root: str | os.PathLike, summary: str | os.PathLike, requested: set[tuple]) -> int:
    """Write the failed observations of the run (records left beside the job logs) to ``summary``.

    ``requested`` holds (split, planet, visit, instrument) string tuples: records of observations
    no longer requested are ignored. Without failures the summary is removed. Returns the count.
    """
    rows = []
    for path in sorted(Path(log_root).glob(f"**/*{FAILURE_SUFFIX}")):
        record = formats.load_json(path)
        if tuple(record.get(k, "") for k in FAILURE_COLUMNS[:4]) in requested:
            rows.append(record)
    if not rows:
        Path(summary).unlink(missing_ok=True)
        return 0
    formats.write_csv(summary, {name: [row.get(name, "") for row in rows] for name in FAILURE_COLUMNS})
    return len(rows)


@contextlib.contextmanager
def step(smk, stage: str) -> Iterator[Step]:
    """Run a stage: log to the rule's log file, report bad input as one clear line, write metadata.

    A failure leaves ``<log>.failed`` (stage, observation, reason) for the run's failure summary;
    a later success removes it.
    """
    failure = Path(str(smk.log[0]) + FAILURE_SUFFIX)
    Path(smk.log[0]).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(smk.log[0], mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler, logging.StreamHandler(sys.stderr)], force=True)
    current = Step(smk, stage)
    log.info("%s %s", stage, dict(smk.wildcards.items()))
    try:
        yield current
        if "meta" in current.smk.output.keys():
            current.write_meta()
    except (InputError, Rejected) as exc:
        log.error("%s failed: %s", stage, exc)
        _record_failure(failure, stage, smk.wildcards, str(exc))
        raise SystemExit(f"arielcal {stage}: {exc}") from None
    except Exception as exc:
        _record_failure(failure, stage, smk.wildcards, f"{type(exc).__name__}: {exc}")
        raise
    failure.unlink(missing_ok=True)
    log.info("%s done in %.2f s", stage, time.perf_counter() - current._started)


def write_product(
    current: Step,
    cube: np.ndarray,
    dq: np.ndarray,
    n_valid: np.ndarray | None,
    axis: Mapping[str, np.ndarray],
    frames_per_bin: int,
    stages: list[dict],
) -> None:
    """Write an observation's products from a pixel-major (rows, cols, time) cube.

    calibrated.npy and nvalid.npy take the notebook's layout (time, column, row), dq.npy
    (column, row); meta.json gains the axes (wavelength per column, time per bin) and the
    metadata of every stage, in pipeline order.
    """
    smk, instrument = current.smk, current.instrument
    frame_times = formats.axis_times_h(axis, instrument)
    n_times = cube.shape[-1]
    if frame_times.size < 2 * n_times * frames_per_bin:
        raise InputError(
            smk.input.axis_info,
            f"at least {2 * n_times * frames_per_bin} {instrument.name} time stamps",
            f"{frame_times.size}",
        )
    times = calib.bin_times(frame_times, frames_per_bin)[:n_times]
    start, stop = current.columns
    wavelength = axis[formats.AXIS_WAVELENGTH][start:stop].tolist() if instrument.name == "AIRS-CH0" else None
    formats.save_npy(smk.output.calibrated, np.ascontiguousarray(cube.transpose(2, 1, 0)))
    formats.save_npy(smk.output.dq, np.ascontiguousarray(dq.T).astype(dqflags.DQ_DTYPE))
    if n_valid is not None:
        formats.save_npy(smk.output.nvalid, np.ascontiguousarray(n_valid.transpose(2, 1, 0)))
    current.extra.update(
        axes=["time", "column", "row"],
        shape=[cube.shape[2], cube.shape[1], cube.shape[0]],
        units="e- summed over the frames of each bin (ADC-inverted units)",
        columns=[start, stop],
        wavelength_um=wavelength,
        wavelength_order="detector columns; AIRS wavelength decreases with column index",
        time_h=times.tolist(),
        dq_flags={flag.name: int(flag) for flag in dqflags.DQ},
        dq_counts=dqflags.counts(dq),
        excluded_pixels=int(np.count_nonzero(dqflags.excluded(dq))),
        stages=list(stages),
    )


def _jsonable(value):
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value
