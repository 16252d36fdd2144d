"""Injection-recovery with every simulated systematic on, through the real workflow, and an ablation.

    nice -n 19 .venv/bin/python bench/realistic_validation.py [--planets 12] [--airs-frames 1200]
        [--seed 13] [--cases all none jitter ...] [--editions 2024 2025] [--keep DIR]
        [--output bench/results/realistic_validation.md]

Each case simulates ``--planets`` train planets (``--airs-frames`` AIRS and 12x as many FGS1 raw
frames, binned by 5 / 60 CDS frames: 120 bins of 24 s at 1200 frames) with the simulator's
systematics of that case, then runs ``snakemake --cores 2`` (this repository's Snakefile, its
default config with ``data_dir`` there, ``splits: [train]``) in a fresh working directory up to
``results/train/recovery.csv``: calibration, variance, light curves, transit fit, depths and the
injection-recovery statistics of the workflow itself. The table reports, per case, layout, mode
and instrument, recovery.csv's rows (all channels and each SNR tercile): n, mean z, chi2/dof,
median |z|, against the targets of tests/workflow/test_science_systematics.py (issue 13: AIRS
|mean z| <= 0.1, chi2/dof in [0.8, 1.25], median |z| in [0.55, 0.80] per tercile).

Cases (``--cases``): ``all`` (``realistic: true``: cosmic rays, saturating stars, limb darkening,
grazing transits, jitter, drift; staged and fused mode, whose products and depths must be
bit-equal), ``all-no-outliers`` (the same data, ``stages.outliers: false``), ``all-saturated-flag``
(the same data, ``bad_pixels.saturated: flag``: the saturated pixels' unclipped frames kept),
``none`` (no systematic), and each systematic alone: ``jitter``, ``drift``, ``limb-darkening``,
``cosmic-rays``, ``saturation``, ``grazing`` (25 % grazing transits, uniform discs); and two that
isolate the extraction of excluded pixels under jitter: ``jitter-no-bad-pixels`` (no hot or dead
pixel, so nothing excluded) and ``all-but-jitter``. Ablations run
in fused mode (the same numbers as staged, which ``all`` checks). With cosmic rays, the outlier
stage's detections are matched against the simulator's truth sidecars
(:func:`arielcal.simulate.truth.hit_detection`): hits above 10 sigma found, all hits found, and
rejected frames that were no hit (false rejections) per valid frame.

Seeded: the same arguments give the same datasets and numbers.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from _measure import snakemake_command

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BINNING = {"AIRS-CH0": 5, "FGS1": 60}
TARGETS = {"mean_z": 0.1, "chi2_dof": (0.8, 1.25), "median_abs_z": (0.55, 0.80)}
TERCILES = ("all", "low", "mid", "high")


@dataclass(frozen=True)
class Case:
    name: str
    simulation: dict
    config: dict = field(default_factory=dict)
    modes: tuple[str, ...] = ("fused",)
    what: str = ""


REALISTIC = {"realistic": True}
CASES = {
    case.name: case
    for case in (
        Case("all", REALISTIC, modes=("staged", "fused"), what="every systematic (`realistic: true`)"),
        Case("all-no-outliers", REALISTIC, {"stages": {"outliers": False}}, what="every systematic, outliers off"),
        Case(
            "all-saturated-flag",
            REALISTIC,
            {"bad_pixels": {"saturated": "flag"}},
            what="every systematic, saturated pixels kept (`flag`)",
        ),
        Case("none", {}, what="no systematic"),
        Case("jitter", {"jitter": True}, what="pointing jitter alone"),
        Case("drift", {"drift": True}, what="drift alone"),
        Case("limb-darkening", {"limb_darkening": True}, what="limb darkening alone"),
        Case("cosmic-rays", {"cosmic_rays": True}, what="cosmic rays alone"),
        Case("saturation", {"saturation": True}, what="saturating stars alone (pixels excluded)"),
        Case("grazing", {"grazing_fraction": 0.25}, what="25 % grazing transits alone (uniform discs)"),
        Case(
            "jitter-no-bad-pixels",
            {"jitter": True, "hot_fraction": 0.0, "dead_fraction": 0.0},
            what="jitter alone on detectors without hot or dead pixels (no excluded pixel)",
        ),
        Case("all-but-jitter", {"realistic": True, "jitter": False}, what="every systematic except jitter"),
    )
}


def default_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def merged(base: dict, overrides: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def simulation_settings(case: Case, edition: int, args) -> dict:
    return {
        "edition": edition,
        "seed": args.seed,
        "train_planets": args.planets,
        "test_planets": 0,
        "airs_frames": args.airs_frames,
        "fgs1_frames": 12 * args.airs_frames,
        **case.simulation,
    }


def simulate(out: Path, settings: dict) -> float:
    """Write the dataset in a child process (the simulator's API, as its command line)."""
    code = (
        "import json, sys\nfrom arielcal import simulate\n"
        "cfg = simulate.SimulationConfig.from_mapping(json.loads(sys.argv[1]))\n"
        "simulate.write_tables(cfg, sys.argv[2])\n"
        "for split, planet_id, _ in simulate.planets(cfg):\n"
        "    simulate.write_planet(cfg, sys.argv[2], split, planet_id)\n"
    )
    start = time.perf_counter()
    subprocess.run([PYTHON, "-c", code, json.dumps(settings), str(out)], check=True, env=_env())
    return time.perf_counter() - start


def _env() -> dict:
    return {**os.environ, "SLURM_CONF": "/dev/null", "PYTHONPATH": str(REPO / "src")}


def run_workflow(workdir: Path, data: Path, mode: str, overrides: dict) -> float:
    config = merged(
        default_config(),
        {"data_dir": str(data), "splits": ["train"], "binning": BINNING, "mode": mode, **overrides},
    )
    workdir.mkdir(parents=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    cmd = snakemake_command(workdir, 2, "--quiet", "progress", "--", "results/train/recovery.csv")
    start = time.perf_counter()
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        raise SystemExit(f"snakemake ({workdir.name}) failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return time.perf_counter() - start


def recovery_rows(workdir: Path) -> list[dict]:
    import polars as pl

    table = pl.read_csv(workdir / "results" / "train" / "recovery.csv")
    return [row for row in table.iter_rows(named=True) if row["instrument"] in ("AIRS-CH0", "FGS1")]


def nan_depths(workdir: Path) -> int:
    import polars as pl

    depths = pl.read_csv(workdir / "results" / "train" / "depths.csv", schema_overrides={"wavelength_um": pl.Float64})
    return int((~depths["depth"].is_finite()).sum())


def planet_statistics(workdir: Path, data: Path) -> dict:
    """AIRS statistics per SNR tercile without the grazing planets (simulation_truth.csv's
    ``grazing``; every planet without that column), and each planet's FGS1 z and AIRS mean z."""
    import polars as pl

    from arielcal import science

    depths = pl.read_csv(workdir / "results" / "train" / "depths.csv", schema_overrides={"wavelength_um": pl.Float64})
    truth = pl.read_csv(data / "simulation_truth.csv")
    grazing = set(truth.filter(pl.col("grazing") == 1)["planet_id"].to_list()) if "grazing" in truth.columns else set()
    airs = depths.filter((pl.col("instrument") == "AIRS-CH0") & ~pl.col("planet_id").is_in(list(grazing)))
    stats = science.tercile_statistics(*(airs[c].to_numpy() for c in ("depth", "sigma", "truth")))
    planets = []
    for (planet,), part in sorted(depths.group_by("planet_id")):
        fgs1 = part.filter(pl.col("instrument") == "FGS1")["z"].to_list()
        airs_z = part.filter(pl.col("instrument") == "AIRS-CH0")["z"].to_numpy()
        planets.append(
            {
                "planet_id": planet,
                "grazing": planet in grazing,
                "fgs1_z": fgs1[0] if fgs1 else float("nan"),
                "airs_mean_z": float(np.mean(airs_z)),
                "airs_median_sigma": float(part.filter(pl.col("instrument") == "AIRS-CH0")["sigma"].median()),
            }
        )
    return {"grazing": len(grazing), "terciles": stats, "planets": planets}


def attribution(workdir: Path, data: Path, settings: dict) -> dict:
    """Calibration and extraction apart from the fit, per planet and instrument, against the
    simulator's noiseless expectation E (its source factors x the accumulation time, summed per
    bin: what an unbiased calibration returns, jitter and drift included).

    ``calibration_z``: over the aperture's pixels valid in every bin (per AIRS column, averaged
    over the columns; the FGS1 box), (out-of-transit mean - in-transit mean) of product / E over
    its standard error: N(0, 1) for an unbiased calibration. ``extraction_ppm``: the white light
    curve's crude depth (1 - mean of the middle half of the transit / out-of-transit mean) of
    the science extraction (arielcal.science.observation_curves) applied to E with the product's
    NaN pattern, minus the same of E without any missing pixel (ppm): what the product's
    excluded pixels alone do to the white light curve."""
    from arielcal import science, simulate
    from arielcal.instruments import AIRS, INSTRUMENTS

    cfg = simulate.SimulationConfig.from_mapping(settings)
    defaults = default_config()["science"]
    out = {name: {"calibration_z": [], "extraction_ppm": []} for name in INSTRUMENTS}
    for split, planet_id, _ in simulate.planets(cfg):
        body = simulate.planet(cfg, planet_id)
        if body.grazing:
            continue
        for name, inst in INSTRUMENTS.items():
            obs = workdir / "results" / split / str(planet_id) / "0" / name
            cube = np.load(obs / "calibrated.npy").astype(np.float64)
            columns = json.loads((obs / "meta.json").read_text())["columns"]
            model = simulate.observation_model(cfg, body, 0, inst)
            n_bins, step = cube.shape[0], BINNING[name]
            rows = np.broadcast_to(model.row_factor, (model.row_factor.shape[0], model.n_pairs))[:, : n_bins * step]
            cols = np.broadcast_to(model.col_factor, (model.col_factor.shape[0], model.n_pairs))
            cols = cols[columns[0] : columns[1], : n_bins * step]
            exact = np.einsum("rk,ck->kcr", rows, cols) * (inst.long_read_s - inst.short_read_s)
            exact = exact.reshape(n_bins, step, *exact.shape[1:]).sum(axis=1)
            t = (np.arange(n_bins) + 0.5) * step * inst.pair_cadence_s
            t1, t2, t3, t4 = body.contacts_s
            inside = (t > t2 + 100) & (t < t3 - 100)
            outside = (t < t1 - 100) | (t > t4 + 100)
            aperture, _ = science.aperture_masks(
                cube.shape[1:], inst is AIRS, defaults["aperture"][name], defaults["background_outside"][name]
            )
            use = aperture & np.isfinite(cube).all(axis=0)
            axes = 2 if inst is AIRS else (1, 2)
            ratio = np.where(use, cube, 0.0).sum(axis=axes) / np.where(use, exact, 0.0).sum(axis=axes)
            ratio = ratio.reshape(n_bins, -1)
            error = np.sqrt(ratio[outside].var(0, ddof=1) / outside.sum() + ratio[inside].var(0, ddof=1) / inside.sum())
            z = (ratio[outside].mean(0) - ratio[inside].mean(0)) / error
            out[name]["calibration_z"].append(float(np.nanmean(z)))
            middle = np.abs(t - (t1 + t4) / 2) < (t4 - t1) / 4
            depth = []
            for e in (np.where(np.isfinite(cube), exact, np.nan), exact):
                curves = science.observation_curves(
                    e,
                    np.ones_like(e),
                    columns,
                    inst.per_column_channels,
                    defaults["aperture"][name],
                    defaults["background_outside"][name],
                )
                white = curves.white_flux / curves.white_flux[outside].mean()
                depth.append(1.0 - white[middle].mean())
            out[name]["extraction_ppm"].append((depth[0] - depth[1]) * 1e6)
    return out


def hit_statistics(workdir: Path, data: Path, edition: int) -> dict[str, int]:
    """The outlier stage's detections against the simulator's truth, summed over the observations."""
    from arielcal import formats, layout, product, simulate
    from arielcal.dq import DQ
    from arielcal.instruments import INSTRUMENTS

    total = {"hits": 0, "found": 0, "strong": 0, "strong_found": 0, "rejected": 0, "valid_frames": 0}
    for obs in sorted((workdir / "results" / "train").glob("*/*/*/calibrated.npy")):
        obs = obs.parent
        instrument, visit, planet = obs.name, int(obs.parent.name), int(obs.parent.parent.name)
        sidecar = simulate.observation_truth_file(data, edition, "train", planet, visit, instrument)
        truth = json.loads(sidecar.read_text())
        if "cosmic_rays" not in truth:
            continue
        meta = json.loads((obs / "meta.json").read_text())
        columns = tuple(meta["columns"])
        inst = INSTRUMENTS[instrument]
        dq = np.load(obs / "dq.npy")
        n_valid = np.load(obs / "nvalid.npy")
        calibrated = np.load(obs / "calibrated.npy").astype(np.float64)

        flat, read = (
            formats.read_calibration(
                layout.calibration_file(data, edition, "train", planet, visit, instrument, kind), inst, kind
            )[:, columns[0] : columns[1]].T
            for kind in ("flat", "read")
        )
        usable = (dq & DQ.DO_NOT_USE) == 0
        divisor = product.flat_divisor(dq, flat)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # excluded pixels: no valid bin
            signal = np.nanmedian(calibrated / n_valid, axis=0) * divisor
        found = simulate.hit_detection(truth, n_valid, usable, read, signal, columns, BINNING[instrument])
        for key, value in found.items():
            total[key] += value
        (stage,) = [s for s in meta["stages"] if s["stage"] == "outliers"] or [{"rejected_frames": 0}]
        total["rejected"] += stage["rejected_frames"]
        total["valid_frames"] += int(n_valid.sum(dtype=np.int64))
    return total


def identical(a: Path, b: Path) -> bool:
    """The products and depth tables of two working directories are byte-identical."""
    names = ("calibrated.npy", "dq.npy", "nvalid.npy")
    files = sorted(p.relative_to(a) for name in names for p in (a / "results").rglob(name))
    files += [Path("results/train/depths.csv")]
    return bool(files) and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def verdict(row: dict) -> str:
    if row["instrument"] != "AIRS-CH0" or row["snr_tercile"] == "all":
        return ""
    lo_c, hi_c = TARGETS["chi2_dof"]
    lo_m, hi_m = TARGETS["median_abs_z"]
    misses = []
    if not abs(row["mean_z"]) <= TARGETS["mean_z"]:
        misses.append("mean z")
    if not lo_c <= row["chi2_dof"] <= hi_c:
        misses.append("chi2")
    if not lo_m <= row["median_abs_z"] <= hi_m:
        misses.append("median |z|")
    return "ok" if not misses else "MISS: " + ", ".join(misses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--planets", type=int, default=12)
    parser.add_argument("--airs-frames", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--editions", type=int, nargs="+", default=[2024, 2025], help="layouts of the `all` case")
    parser.add_argument("--ablation-edition", type=int, default=2025, help="layout of every other case")
    parser.add_argument("--keep", help="keep the datasets and working directories here")
    parser.add_argument("--resume", action="store_true", help="with --keep: reuse the runs found there")
    parser.add_argument("--output", default=str(REPO / "bench/results/realistic_validation.md"))
    args = parser.parse_args()

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="arielcal-realistic-"))
    root.mkdir(parents=True, exist_ok=True)
    datasets: dict[str, Path] = {}
    results = []
    started = time.perf_counter()
    try:
        for name in args.cases:
            case = CASES[name]
            for edition in args.editions if name == "all" else [args.ablation_edition]:
                settings = simulation_settings(case, edition, args)
                key = json.dumps(settings, sort_keys=True)
                sim_s = 0.0
                if key not in datasets:
                    datasets[key] = root / f"data-{len(datasets)}"
                    if not (datasets[key] / "axis_info.parquet").is_file():
                        sim_s = simulate(datasets[key], settings)
                data = datasets[key]
                dirs = {}
                for mode in case.modes:
                    workdir = root / f"{name}-{edition}-{mode}"
                    timing = workdir / "bench_wall_s.json"
                    if args.resume and timing.is_file():
                        wall = json.loads(timing.read_text())
                    else:
                        shutil.rmtree(workdir, ignore_errors=True)
                        wall = run_workflow(workdir, data, mode, case.config)
                        timing.write_text(json.dumps(wall))
                    dirs[mode] = workdir
                    entry = {
                        "case": name,
                        "edition": edition,
                        "mode": mode,
                        "wall_s": wall,
                        "simulate_s": sim_s,
                        "rows": recovery_rows(workdir),
                        "nan_depths": nan_depths(workdir),
                        "by_planet": planet_statistics(workdir, data),
                        "attribution": attribution(workdir, data, settings),
                        "hits": hit_statistics(workdir, data, edition)
                        if settings.get("cosmic_rays") or settings.get("realistic")
                        else None,
                    }
                    results.append(entry)
                    print(f"{name} {edition} {mode}: {wall:.0f} s", flush=True)
                if len(dirs) == 2:
                    results[-1]["staged_equals_fused"] = identical(dirs["staged"], dirs["fused"])
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    write_report(args, results, time.perf_counter() - started)


def write_report(args, results: list[dict], seconds: float) -> None:
    lines = [
        "# Injection-recovery under every simulated systematic, through the workflow (issue 13)",
        "",
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores "
        f"(shared), {seconds / 60:.1f} min in all. `python bench/realistic_validation.py --planets {args.planets} "
        f"--airs-frames {args.airs_frames} --seed {args.seed}`: {args.planets} train planets per case, "
        f"{args.airs_frames} AIRS / {12 * args.airs_frames} FGS1 raw frames binned by 5 / 60 CDS frames "
        f"({args.airs_frames // 10} bins of 24 s), `snakemake --cores 2` up to `results/train/recovery.csv` "
        "with the default config otherwise. Rows: the workflow's recovery.csv (z = (depth - truth) / sigma; "
        "terciles of the injected SNR |truth| / sigma). Targets (AIRS, per tercile): |mean z| <= 0.1, "
        "chi2/dof in [0.8, 1.25], median |z| in [0.55, 0.80].",
        "",
        "| case | layout | mode | instrument | tercile | n | mean z | chi2/dof | median abs z | NaN depths | target |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in results:
        for row in sorted(entry["rows"], key=lambda r: (r["instrument"], TERCILES.index(r["snr_tercile"]))):
            lines.append(
                f"| {entry['case']} | {entry['edition']} | {entry['mode']} | {row['instrument']} | "
                f"{row['snr_tercile']} | {row['n']} | {row['mean_z']:+.3f} | {row['chi2_dof']:.3f} | "
                f"{row['median_abs_z']:.3f} | {entry['nan_depths']} | {verdict(row)} |"
            )
    lines += [
        "",
        "## Without the grazing planets",
        "",
        "AIRS, the same runs, every planet except those simulation_truth.csv marks grazing; FGS1: each "
        "planet's z (one channel per planet: the terciles above hold 4 values each), grazing ones marked g.",
        "",
        "| case | layout | mode | grazing planets | tercile | n | mean z | chi2/dof | median abs z | target "
        "| FGS1 z per planet | FGS1 chi2/dof (non-grazing) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in results:
        by = entry["by_planet"]
        fgs1 = " ".join(f"{p['fgs1_z']:+.1f}{'g' if p['grazing'] else ''}" for p in by["planets"])
        clean = np.array([p["fgs1_z"] for p in by["planets"] if not p["grazing"]])
        fgs1_chi2 = float(np.mean(clean**2)) if clean.size else float("nan")
        for tercile in ("low", "mid", "high"):
            s = by["terciles"][tercile]
            row = {"instrument": "AIRS-CH0", "snr_tercile": tercile, **s}
            first = tercile == "low"
            lines.append(
                f"| {entry['case']} | {entry['edition']} | {entry['mode']} | {by['grazing']} | {tercile} | {s['n']} "
                f"| {s['mean_z']:+.3f} | {s['chi2_dof']:.3f} | {s['median_abs_z']:.3f} | {verdict(row)} "
                f"| {fgs1 if first else ''} | {f'{fgs1_chi2:.2f}' if first else ''} |"
            )
    lines += [
        "",
        "## Calibration and extraction apart from the fit (planets that are not grazing)",
        "",
        "Against the simulator's noiseless expectation E (`attribution` in the script). Calibration z: "
        "(out - in of transit) of product / E over its standard error, per planet (AIRS: mean over the "
        "columns), N(0, 1) for an unbiased calibration: mean and rms over the planets. Extraction: the "
        "white light curve's depth error that the product's excluded pixels alone cause in the science "
        "extraction (E with the product's NaN pattern against E without), rms and largest over the planets, ppm.",
        "",
        "| case | layout | mode | instrument | calibration z: mean | rms | extraction error: rms ppm | largest ppm |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in results:
        for name, a in entry["attribution"].items():
            z, ppm = np.array(a["calibration_z"]), np.array(a["extraction_ppm"])
            if not z.size:
                continue
            lines.append(
                f"| {entry['case']} | {entry['edition']} | {entry['mode']} | {name} | {z.mean():+.2f} "
                f"| {np.sqrt(np.mean(z**2)):.2f} | {np.sqrt(np.mean(ppm**2)):.0f} | {ppm[np.argmax(abs(ppm))]:+.0f} |"
            )
    lines += [
        "",
        "## Cosmic rays: the outlier stage against the simulator's truth",
        "",
        "CDS hits (charge in the long read only) on usable pixels in binned frames; found = their bin lost a "
        "frame; sigma = sqrt(2 read^2 + signal) of the pixel; false rejections = rejected frames that were "
        "no hit, per valid frame (an upper bound: two hits in one bin count once).",
        "",
        "| case | layout | mode | hits > 10 sigma | found | hits (all) | found | rejected frames | false / frame |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in results:
        h = entry["hits"]
        if not h or not h["hits"]:
            continue
        false = max(0, h["rejected"] - h["found"]) / max(1, h["valid_frames"])
        lines.append(
            f"| {entry['case']} | {entry['edition']} | {entry['mode']} | {h['strong']} | "
            f"{h['strong_found'] / max(1, h['strong']):.2%} | {h['hits']} | {h['found'] / h['hits']:.1%} | "
            f"{h['rejected']} | {false:.1e} |"
        )
    equal = [e for e in results if "staged_equals_fused" in e]
    if equal:
        lines += ["", "## Staged and fused", ""]
        for e in equal:
            word = "byte-identical" if e["staged_equals_fused"] else "DIFFERENT"
            lines.append(f"- `all`, {e['edition']}: products and depths.csv of staged and fused mode {word}.")
    lines += ["", "## Run times", "", "| case | layout | mode | simulate s | workflow s |", "|---|---|---|---|---|"]
    lines += [
        f"| {e['case']} | {e['edition']} | {e['mode']} | {e['simulate_s']:.0f} | {e['wall_s']:.0f} |" for e in results
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text)


if __name__ == "__main__":
    main()
