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
import threading
import time
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path

import numpy as np

from . import calib, dq as dqflags, formats, observation, product
from .errors import InputError
from .instruments import INSTRUMENTS, Instrument

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
        return observation.read_map(self.smk.input[kind], self.instrument, kind, self.columns)

    def read_raw(self) -> tuple[np.ndarray, float, float]:
        """The raw signal cut to the stage's columns, and the planet's ADC (gain, offset)."""
        smk = self.smk
        raw, gain, offset = observation.read_raw(
            smk.input.signal, smk.input.adc_info, int(smk.wildcards.planet), self.instrument, self.columns
        )
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
    # Jobs may run as threads of one process (arielcal.jobs): each log takes its own thread's records.
    handler.addFilter(_ThreadFilter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    current = Step(smk, stage)
    try:
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
            log.exception("%s failed", stage)
            _record_failure(failure, stage, smk.wildcards, f"{type(exc).__name__}: {exc}")
            raise
        failure.unlink(missing_ok=True)
        log.info("%s done in %.2f s", stage, time.perf_counter() - current._started)
    finally:
        log.removeHandler(handler)
        handler.close()


class _ThreadFilter(logging.Filter):
    """Pass the records of the thread that created the filter."""

    def __init__(self):
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.thread


def write_product(
    current: Step,
    cube: np.ndarray,
    dq: np.ndarray,
    n_valid: np.ndarray | None,
    axis: Mapping[str, np.ndarray],
    frames_per_bin: int,
    stages: list[dict],
) -> None:
    """Write an observation's products (:mod:`arielcal.product`) from a pixel-major cube;
    meta.json gains the product's axes and keys and the metadata of every stage, in order."""
    smk = current.smk
    made = product.assemble(
        cube, dq, n_valid, axis, current.instrument, current.columns, frames_per_bin, smk.input.axis_info
    )
    product.save_arrays(made, smk.output)
    current.extra.update(made.meta, stages=list(stages))


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
