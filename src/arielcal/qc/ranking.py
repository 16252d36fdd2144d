"""Ranking of the visits worth a look: robust z-scores of per-visit QC metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

# (column of qc_observations.csv, floor of the robust scale, sides: "both" or "high").
METRICS = {
    "noise_z": ("white_noise_ratio", 0.02, "both"),
    "excluded_z": ("excluded_fraction", 1e-3, "high"),
    "depth_z": ("white_depth_ppm", 10.0, "both"),
}


def robust_z(values: np.ndarray, floor: float, sides: str) -> np.ndarray:
    """|value - median| / max(1.4826 MAD, floor) (high side only for ``sides="high"``); inf where not finite."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    if not finite.any():
        return np.full(values.shape, np.inf)
    median = np.median(values[finite])
    scale = max(1.4826 * np.median(np.abs(values[finite] - median)), floor)
    z = (values - median) / scale
    z = np.abs(z) if sides == "both" else np.maximum(z, 0.0)
    return np.where(finite, z, np.inf)


def _number(row: Mapping, name: str) -> float:
    try:
        return float(row[name])
    except (KeyError, TypeError, ValueError):
        return math.nan


RANKING_COLUMNS = ("rank", "planet_id", "visit", "score", "reason", *METRICS)


def rank_visits(rows: Sequence[Mapping], keep: int) -> list[dict]:
    """The ``keep`` worst visits of a split's ``qc_observations.csv`` rows, worst first.

    Each observation gets the robust z of every METRICS column against the observations of its
    instrument; a visit scores its largest z (inf without a transit window or with a non-finite
    metric). Returns dicts with rank, planet_id, visit, score, reason and each metric's largest z.
    """
    rows = [dict(row) for row in rows]
    for row in rows:
        row["excluded_fraction"] = _number(row, "excluded") / max(_number(row, "pixels"), 1.0)
    for name, (column, floor, sides) in METRICS.items():
        for instrument in {row["instrument"] for row in rows}:
            members = [row for row in rows if row["instrument"] == instrument]
            for row, z in zip(members, robust_z([_number(row, column) for row in members], floor, sides), strict=True):
                row[name] = float(z)
    visits: dict[tuple[int, int], dict] = {}
    for row in rows:
        key = (int(row["planet_id"]), int(row["visit"]))
        visit = visits.setdefault(key, {"score": -math.inf, "reason": "", **{name: 0.0 for name in METRICS}})
        for name in METRICS:
            visit[name] = max(visit[name], row[name])
            if row[name] > visit["score"]:
                visit["score"], visit["reason"] = row[name], f"{name} {row['instrument']}"
        if not math.isfinite(_number(row, "t1_h")):
            visit["score"], visit["reason"] = math.inf, "no transit window"
    ranked = sorted(visits.items(), key=lambda item: (-item[1]["score"], item[0]))
    return [
        {"rank": rank, "planet_id": planet, "visit": visit, **info}
        for rank, ((planet, visit), info) in enumerate(ranked[: max(int(keep), 0)], start=1)
    ]
