"""Per-visit cost of rule transit's work: the window search, the limb-darkened chord fit and every
channel's depth (``arielcal.science.visit_depths``), on tiny and full-size simulated visits.

    .venv/bin/python bench/transit_cost.py [--tiny-planets 6] [--full-planets 2] [--repeat 3]
                                           [--output bench/results/transit_cost.md]

Each dataset is simulated once into a temporary directory, calibrated in memory
(``arielcal.calibrate_observation``) and extracted as rule extract does
(``tests/science_pipeline.py``); none of that is timed. Then, per visit, ``visit_depths`` on the
two instruments' light curves is timed with ``time.perf_counter``, best of ``--repeat`` calls
(the job itself adds reading its small .npy/.json inputs and writing depths.csv). Datasets:

* tiny (600 AIRS / 7200 FGS1 frames) as ``bench/job_cost.py`` runs them (the default config: 2024
  layout, impact parameter free, 30 / 360 CDS frames per bin: 10 bins);
* tiny, 2025 layout (impact parameter from star_info), binned as the default config (10 bins) and
  as ``.test/config.yaml`` (5 / 60: 60 bins);
* tiny with limb darkening, jitter and drift, 60 bins;
* full size (11250 / 135000 frames, 187 bins), the default demo simulation (2024 layout: the
  impact parameter free).

Targets (issue 11, science helper brief): <= ~0.15 s per tiny visit, <= ~0.3 s per full-size
visit. The table also gives the AIRS recovery statistics of the timed fits (z = (depth - truth) /
sigma over every channel), so a faster fit that recovers worse shows here.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from science_pipeline import observation_curves, simulate_dataset, star_impact, truth_by_label  # noqa: E402

from arielcal import science, simulate  # noqa: E402

TINY = {"airs_frames": 600, "fgs1_frames": 7200}
CASES = (
    # name, simulation settings, binning, impact from star_info
    ("tiny, default config (2024 layout, 10 bins)", {"edition": 2024, **TINY}, {"AIRS-CH0": 30, "FGS1": 360}, False),
    ("tiny, 2025 layout, default binning (10 bins)", {"edition": 2025, **TINY}, {"AIRS-CH0": 30, "FGS1": 360}, True),
    ("tiny, .test binning (60 bins)", {"edition": 2025, **TINY}, {"AIRS-CH0": 5, "FGS1": 60}, True),
    (
        "tiny, limb darkening + jitter + drift (60 bins)",
        {"edition": 2025, **TINY, "limb_darkening": True, "jitter": True, "drift": True},
        {"AIRS-CH0": 5, "FGS1": 60},
        True,
    ),
    ("full size, default demo simulation (187 bins)", {"edition": 2024}, {"AIRS-CH0": 30, "FGS1": 360}, False),
)


def measure(out: Path, settings: dict, binning: dict, with_impact: bool, planets: int, repeat: int):
    cfg = simulate_dataset(out, seed=7, train_planets=planets, test_planets=0, **settings)
    seconds, depth, sigma, truth = [], [], [], []
    for split, planet_id, _ in simulate.planets(cfg):
        curves = {i: observation_curves(out, cfg, split, planet_id, i, binning[i])[0] for i in ("AIRS-CH0", "FGS1")}
        impact = star_impact(cfg, planet_id) if with_impact else None
        best = np.inf
        for _ in range(repeat):
            started = time.perf_counter()
            fit = science.visit_depths(curves, science.Settings(), impact)
            best = min(best, time.perf_counter() - started)
        seconds.append(best)
        rows = {k: np.asarray(v) for k, v in fit.rows.items()}
        airs = rows["instrument"] == "AIRS-CH0"
        depth.append(rows["depth"][airs])
        sigma.append(rows["sigma"][airs])
        truth.append(truth_by_label(cfg, planet_id)[rows["label"][airs].astype(int)])
    stats = science.recovery_statistics(*(np.concatenate(x) for x in (depth, sigma, truth)))
    return seconds, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny-planets", type=int, default=6)
    parser.add_argument("--full-planets", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "transit_cost.md")
    args = parser.parse_args()
    lines = [
        "# Per-visit cost of rule transit (`science.visit_depths`)",
        "",
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"`python bench/transit_cost.py --tiny-planets {args.tiny_planets} --full-planets {args.full_planets} "
        f"--repeat {args.repeat}`: seconds per visit, best of {args.repeat} calls, then median and largest over "
        "the visits; AIRS recovery of those fits (all channels).",
        "",
        "| visits | n | median s | max s | AIRS mean z | chi2/dof | median \\|z\\| |",
        "|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="transit_cost_") as tmp:
        for index, (name, settings, binning, with_impact) in enumerate(CASES):
            planets = args.full_planets if name.startswith("full") else args.tiny_planets
            if planets <= 0:
                continue
            seconds, stats = measure(Path(tmp) / f"case{index}", settings, binning, with_impact, planets, args.repeat)
            lines.append(
                f"| {name} | {len(seconds)} | {statistics.median(seconds):.3f} | {max(seconds):.3f} | "
                f"{stats['mean_z']:+.3f} | {stats['chi2_dof']:.3f} | {stats['median_abs_z']:.3f} |"
            )
            print(lines[-1], flush=True)
    lines += ["", "Targets: <= ~0.15 s per tiny visit, <= ~0.3 s per full-size visit.", ""]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
