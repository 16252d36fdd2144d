"""The 2025 star metadata ({split}_star_info.csv): the transit's impact parameter b = sma cos(i)."""

from __future__ import annotations

import math
import os

from .deferred import DeferredModule
from .errors import InputError

pl = DeferredModule("polars")


def impact_parameter(sma: float, inclination_deg: float) -> float | None:
    """b = (a/Rs) cos(i), i in degrees; None unless finite and in [0, 1.5)."""
    try:
        b = float(sma) * math.cos(math.radians(float(inclination_deg)))
    except (TypeError, ValueError):
        return None
    return b if math.isfinite(b) and 0.0 <= b < 1.5 else None


def star_impact(path: str | os.PathLike | None, planet_id) -> float | None:
    """The impact parameter of ``planet_id`` from a star_info csv; None without the file, the
    planet or usable sma and i (star_info is never required)."""
    if not path or not os.path.isfile(path):
        return None
    try:
        table = pl.read_csv(path, infer_schema_length=None)
    except Exception as exc:
        raise InputError(path, "a readable star_info csv", f"{type(exc).__name__}: {exc}") from exc
    if not {"planet_id", "sma", "i"} <= set(table.columns):
        return None
    for row in table.iter_rows(named=True):
        try:
            if int(float(row["planet_id"])) == int(planet_id):
                return impact_parameter(row["sma"], row["i"])
        except (TypeError, ValueError):
            continue
    return None
