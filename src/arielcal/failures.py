"""Failure records of observations (left beside the job logs) and the run's failure summary,
results/failed_observations.csv."""

from __future__ import annotations

import os
from pathlib import Path

from . import formats

SUFFIX = ".failed"
COLUMNS = ("split", "planet", "visit", "instrument", "stage", "reason")


def record(path: Path, stage: str, wildcards, reason: str) -> None:
    """Leave the failure of ``stage`` for the observation of ``wildcards`` at ``path``."""
    formats.save_json(path, {**{k: str(v) for k, v in wildcards.items()}, "stage": stage, "reason": reason})


def summarize(log_root: str | os.PathLike, summary: str | os.PathLike, requested: set[tuple]) -> int:
    """Write the failed observations of the run (records left beside the job logs) to ``summary``.

    ``requested`` holds (split, planet, visit, instrument) string tuples: records of observations
    no longer requested are ignored. Without failures the summary is removed. Returns the count.
    """
    rows = []
    for path in sorted(Path(log_root).glob(f"**/*{SUFFIX}")):
        failure = formats.load_json(path)
        if tuple(failure.get(k, "") for k in COLUMNS[:4]) in requested:
            rows.append(failure)
    if not rows:
        Path(summary).unlink(missing_ok=True)
        return 0
    formats.write_csv(summary, {name: [row.get(name, "") for row in rows] for name in COLUMNS})
    return len(rows)
