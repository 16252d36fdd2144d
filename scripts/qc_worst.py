"""The split's worst planet visits by their QC numbers, for the report: a ranking table and
small copies of those visits' QC figures.

Every observation of ``qc_observations.csv`` gets three robust z-scores, each against the
split's observations of the same instrument (median, 1.4826 x MAD, the scale floored so that
identical values do not make tiny differences look large):

- ``noise_z``: the white light curve's scatter over its propagated sigma (``white_noise_ratio``),
  both ways: the variance model does not describe the noise;
- ``excluded_z``: the fraction of excluded (DO_NOT_USE) pixels, high side only;
- ``depth_z``: the white-light-curve depth, both ways: a fit unlike the others.

A visit's score is the largest z of its observations; a visit without a transit window or with
a non-finite metric ranks first (score inf). The ``report.worst_visits`` highest scores are kept.
"""

from arielcal import threads

threads.limit(snakemake.threads)

import csv
import math
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from arielcal import formats, workflow

# (column, floor of the robust scale, sides): "both" or "high".
METRICS = {
    "noise_z": ("white_noise_ratio", 0.02, "both"),
    "excluded_z": ("excluded_fraction", 1e-3, "high"),
    "depth_z": ("white_depth_ppm", 10.0, "both"),
}
FIGURES = ("images", "white_light_curves", "spectral_light_curves")
# Report copies: at most this wide, 256-colour palette (the originals are ~250 KB each).
MAX_WIDTH_PX = 900


def robust_z(values: np.ndarray, floor: float, sides: str) -> np.ndarray:
    finite = np.isfinite(values)
    if not finite.any():
        return np.full(values.shape, np.inf)
    median = np.median(values[finite])
    scale = max(1.4826 * np.median(np.abs(values[finite] - median)), floor)
    z = (values - median) / scale
    z = np.abs(z) if sides == "both" else np.maximum(z, 0.0)
    return np.where(finite, z, np.inf)


def small_copy(source: str, target: Path) -> None:
    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.width > MAX_WIDTH_PX:
            image = image.resize((MAX_WIDTH_PX, round(image.height * MAX_WIDTH_PX / image.width)), Image.LANCZOS)
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(target, format="PNG", optimize=True)


with workflow.step(snakemake, "qc_worst") as step:
    with open(snakemake.input.table, newline="") as handle:
        rows = list(csv.DictReader(handle))

    def number(row, name):
        try:
            return float(row[name])
        except (KeyError, ValueError):
            return math.nan

    for row in rows:
        row["excluded_fraction"] = number(row, "excluded") / max(number(row, "pixels"), 1.0)
        row["no_window"] = not math.isfinite(number(row, "t1_h"))
    for name, (column, floor, sides) in METRICS.items():
        for instrument in {row["instrument"] for row in rows}:
            members = [row for row in rows if row["instrument"] == instrument]
            values = np.array([number(row, column) if column != "excluded_fraction" else row[column] for row in members], dtype=float)
            for row, z in zip(members, robust_z(values, floor, sides)):
                row[name] = float(z)

    visits = {}
    for row in rows:
        key = (int(row["planet_id"]), int(row["visit"]))
        visit = visits.setdefault(key, {"score": -math.inf, "reason": "", **{name: 0.0 for name in METRICS}})
        for name in METRICS:
            visit[name] = max(visit[name], row[name])
            if row[name] > visit["score"]:
                visit["score"], visit["reason"] = row[name], f"{name} {row['instrument']}"
        if row["no_window"]:
            visit["score"], visit["reason"] = math.inf, "no transit window"

    ranked = sorted(visits.items(), key=lambda item: (-item[1]["score"], item[0]))
    kept = ranked[: max(int(snakemake.params.worst_visits), 0)]
    table = {"rank": [], "planet_id": [], "visit": [], "score": [], "reason": [], **{name: [] for name in METRICS}}
    for rank, ((planet, visit), info) in enumerate(kept, start=1):
        table["rank"].append(rank)
        table["planet_id"].append(planet)
        table["visit"].append(visit)
        for name in ("score", "reason", *METRICS):
            table[name].append(info[name])
    formats.write_csv(snakemake.output.table, table)

    # Figure paths per visit, from .../{split}/{planet}/{visit}/qc/<figure>.png (no per-visit
    # params: the report repeats a rule's params beside every one of its figures).
    paths = {}
    for files in zip(snakemake.input.images, snakemake.input.white, snakemake.input.spectral):
        planet, visit = Path(files[0]).parts[-4:-2]
        paths[(int(planet), int(visit))] = dict(zip(FIGURES, files))
    out = Path(snakemake.output.figures)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    width = len(str(max(len(kept), 1)))
    for rank, ((planet, visit), _) in enumerate(kept, start=1):
        for figure, source in paths[(planet, visit)].items():
            small_copy(source, tmp / f"{rank:0{width}d}_{planet}_{visit}_{figure}.png")
    os.replace(tmp, out)
    workflow.log.info("%d of %d visits kept: %s", len(kept), len(visits), [key for key, _ in kept])
