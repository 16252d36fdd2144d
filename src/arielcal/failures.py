"""Failure records of observations (left beside the job logs) and the run's failure summary,
results/failed_observations.csv."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from . import formats
from .errors import InputError

SUFFIX = ".failed"
COLUMNS = ("split", "planet", "visit", "instrument", "stage", "reason")


def describe(exc: BaseException) -> str:
    """An unexpected error in words: an OSError names its file and its cause
    (``<path>: No space left on device``), anything else its type and message."""
    if isinstance(exc, OSError):
        words, _ = formats.os_error_words(exc)
        where = " -> ".join(os.fspath(f) for f in (exc.filename, exc.filename2) if f is not None)
        return f"{where}: {words}" if where else f"{type(exc).__name__}: {words}"
    return f"{type(exc).__name__}: {exc}"


def record(path: Path, stage: str, wildcards, reason: str) -> None:
    """Leave the failure of ``stage`` for the observation of ``wildcards`` at ``path``."""
    formats.save_json(path, {**{k: str(v) for k, v in wildcards.items()}, "stage": stage, "reason": reason})


def _records(log_root: str | os.PathLike):
    """(path, record, mtime) of every failure record under ``log_root``, in path order."""
    for path in sorted(Path(log_root).glob(f"**/*{SUFFIX}")):
        try:
            yield path, formats.load_json(path), path.stat().st_mtime
        except (OSError, InputError):
            continue  # removed meanwhile, or cut short by a full disk: not a record


def latest(log_root: str | os.PathLike) -> dict[tuple, tuple[str, float]]:
    """The newest failure of each observation: (split, planet, visit, instrument) -> (reason, mtime)."""
    found: dict[tuple, tuple[str, float]] = {}
    for _, failure, mtime in _records(log_root):
        key = tuple(str(failure.get(k, "")) for k in COLUMNS[:4])
        if key not in found or mtime > found[key][1]:
            found[key] = (str(failure.get("reason", "")), mtime)
    return found


def summarize(
    log_root: str | os.PathLike,
    summary: str | os.PathLike,
    requested: set[tuple],
    product_of: Callable[[tuple], str | os.PathLike] | None = None,
) -> int:
    """Write the failed observations of the run (records left beside the job logs) to ``summary``.

    ``requested`` holds (split, planet, visit, instrument) string tuples: records of observations
    no longer requested are ignored, and so are records older than the observation's product
    (``product_of(key)``): the observation was calibrated since. Without failures the summary is
    removed. Returns the count.
    """
    rows = []
    for _, failure, mtime in _records(log_root):
        key = tuple(str(failure.get(k, "")) for k in COLUMNS[:4])
        if key not in requested:
            continue
        if product_of is not None:
            with contextlib.suppress(OSError):
                if os.stat(product_of(key)).st_mtime > mtime:
                    continue
        rows.append(failure)
    if not rows:
        Path(summary).unlink(missing_ok=True)
        return 0
    formats.write_csv(summary, {name: [row.get(name, "") for row in rows] for name in COLUMNS})
    return len(rows)
