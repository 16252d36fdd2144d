"""DAG scale: `snakemake -n` on a 2025-layout dataset of competition size (1100 planets).

    .venv/bin/python bench/dag_scale.py [--planets 1100] [--two-visit 100] [--modes staged fused]
                                        [--workdir DIR] [--repeat 1] [--profile] [--top 25]
                                        [--output bench/results/dag_scale.md]

Builds, in a temporary directory (or --workdir), a train split of N planets in the 2025 layout
whose signal and calibration files are hard links to one small simulated observation's (the
pre-run checks read parquet footers), of which --two-visit have a second visit, plus the
simulator's ``adc_info.csv`` and ``axis_info.parquet``. Then runs the dry run ``snakemake -n --cores 2`` with ``data_dir`` there, once
per mode, and once on a one-planet tree (the fixed start-up cost: imports, plugins, parsing).

Measures each run under ``/usr/bin/time -v`` when available (wall time, peak RSS of the Snakemake
process), else with ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` (each run is then made in
a fresh child so the maximum is its own). Targets: <= 30 s (issue 11) and <= 2 GB for the full tree. Prints
a table. With --profile, or when a target is missed, profiles the slowest full-tree dry run
under cProfile and prints the hot spots by cumulative and own time, then the workflow's own
functions (input functions run once per job: a helper that scans every observation is
quadratic). cProfile about doubles the run time and overweights small calls: read its seconds
as proportions (a sampling profiler, ``py-spy record -f raw``, distorts far less).

The CPU column (user + system) is less sensitive than wall time to other load on a shared
machine, but a virtual machine's speed drifts as well (identical runs measured 50 to 56 s CPU):
compare changes with interleaved runs, or with ``--repeat N`` (every cell is then the median of
N fresh runs, the wall column adds their range). The start-up row is the fixed cost. Runs are
local as ``make run``: ``SLURM_CONF=/dev/null`` spares snakemake-executor-plugin-slurm's
``scontrol show config`` at import, which waits ~10 s on a machine with SLURM clients but no
reachable controller. The table, with date and machine, also goes to ``--output``
(bench/results/dag_scale.md).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from _measure import machine, machine_line  # noqa: E402

# Local dry runs, as `make run`: spare the SLURM executor plugin's start-up probe (README).
LOCAL_ENV = {**os.environ, "SLURM_CONF": "/dev/null"}
INSTRUMENTS = ("AIRS-CH0", "FGS1")
CALIBRATION = ("dark", "dead", "flat", "linear_corr", "read")
TARGET_S = 30.0
TARGET_MB = 2048.0
TIME = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)


def build_tree(root: Path, planets: int, two_visit: int) -> int:
    """2025 layout in which every observation's files are hard links to one small simulated
    observation's (real parquet, as the pre-run checks read footers; no disk space per planet).
    Returns the number of observations."""
    marker = root / ".complete"
    if marker.is_file() and marker.read_text() == f"{planets} {two_visit} links":
        return sum(1 for _ in root.glob("train/*/*_signal_*.parquet"))
    shutil.rmtree(root, ignore_errors=True)
    source = root / ".source"
    subprocess.run(
        [sys.executable, "-m", "arielcal.simulate", "--out", str(source), "--edition", "2025",
         "--train-planets", "1", "--test-planets", "0", "--airs-frames", "120", "--fgs1-frames", "1440"],
        check=True, capture_output=True,
    )  # fmt: skip
    for name in ("adc_info.csv", "axis_info.parquet"):
        shutil.copy(source / name, root / name)
    (simulated,) = (source / "train").iterdir()
    observations = 0
    for index in range(planets):
        planet = root / "train" / str(100_000 + 7919 * index)  # distinct, not consecutive
        for visit in range(2 if index < two_visit else 1):
            for instrument in INSTRUMENTS:
                calibration = planet / f"{instrument}_calibration_{visit}"
                calibration.mkdir(parents=True)
                os.link(simulated / f"{instrument}_signal_0.parquet", planet / f"{instrument}_signal_{visit}.parquet")
                for kind in CALIBRATION:
                    os.link(
                        simulated / f"{instrument}_calibration_0" / f"{kind}.parquet", calibration / f"{kind}.parquet"
                    )
                observations += 1
    marker.write_text(f"{planets} {two_visit} links")
    return observations


def snakemake_command(workdir: Path, config: Path, extra: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir), "--configfile", str(config), "--cores", "2", "-n", *extra,
    ]  # fmt: skip


def measure(command: list[str]) -> dict:
    """Wall time, peak RSS (MB) and the job count of one dry run."""
    if TIME:
        command = [TIME, "-v", *command]
    start = time.perf_counter()
    if TIME:
        done = subprocess.run(command, capture_output=True, text=True, env=LOCAL_ENV)
        wall = time.perf_counter() - start
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
        rss_mb = int(match.group(1)) / 1024 if match else float("nan")
        cpu_s = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", done.stderr))
    else:
        # A fresh interpreter per run: RUSAGE_CHILDREN's maximum is then this run's.
        probe = (
            "import resource, subprocess, sys, json, time;"
            "t = time.perf_counter(); d = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
            "u = resource.getrusage(resource.RUSAGE_CHILDREN);"
            "print(json.dumps({'wall': time.perf_counter() - t, 'rc': d.returncode, 'out': d.stdout,"
            " 'err': d.stderr, 'rss': u.ru_maxrss, 'cpu': u.ru_utime + u.ru_stime}))"
        )
        raw = json.loads(
            subprocess.run(
                [sys.executable, "-c", probe, *command], capture_output=True, text=True, env=LOCAL_ENV
            ).stdout
        )
        done = subprocess.CompletedProcess(command, raw["rc"], raw["out"], raw["err"])
        wall, rss_mb, cpu_s = raw["wall"], raw["rss"] / 1024, raw["cpu"]
    if done.returncode != 0:
        raise SystemExit(f"snakemake failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    said = done.stdout + done.stderr
    total = re.search(r"^total\s+(\d+)", said, re.MULTILINE)
    return {"wall_s": wall, "cpu_s": cpu_s, "rss_mb": rss_mb, "jobs": int(total.group(1)) if total else 0}


def profile(workdir: Path, config: Path, top: int) -> None:
    """cProfile of one dry run (quiet: no job listing): where the time goes."""
    out = workdir / "dag.prof"
    command = snakemake_command(workdir, config, ["--quiet", "all"])
    profiled = [sys.executable, "-m", "cProfile", "-o", str(out), *command[1:]]
    subprocess.run(profiled, check=True, capture_output=True, env=LOCAL_ENV)
    stats = pstats.Stats(str(out))
    for key, title in (("cumulative", "cumulative time"), ("tottime", "own time")):
        print(f"\n## Hot spots by {title} (top {top})\n")
        stats.sort_stats(key).print_stats(top)
    # The workflow's own code (Snakefile, rules/*.smk helpers, the arielcal package): input
    # functions run once per job, so anything scanning all observations there is quadratic.
    print(f"\n## The workflow's own code by cumulative time (top {top})\n")
    stats.sort_stats("cumulative").print_stats(r"Snakefile|\.smk|arielcal", top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--planets", type=int, default=1100)
    parser.add_argument("--two-visit", type=int, default=100, help="planets with a second visit")
    parser.add_argument("--modes", nargs="+", default=["staged", "fused"], choices=["staged", "fused"])
    parser.add_argument("--workdir", type=Path, help="keep the tree here (default: a temporary dir)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; the table gives medians")
    parser.add_argument("--profile", action="store_true", help="always profile the staged dry run")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO / "bench" / "results" / "dag_scale.md",
        help="markdown table with date and machine (default bench/results/dag_scale.md)",
    )
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]

    keep = args.workdir is not None
    base = args.workdir or Path(tempfile.mkdtemp(prefix="arielcal-dag-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        observations = build_tree(base / "data", args.planets, args.two_visit)
        build_s = time.perf_counter() - start
        build_tree(base / "one", 1, 0)
        print(
            f"tree: {args.planets} planets ({args.two_visit} with 2 visits), {observations} observations, "
            f"2025 layout, built in {build_s:.1f} s; rss via {'/usr/bin/time -v' if TIME else 'getrusage'}; "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        rows = []
        for label, data, modes in (
            ("1 planet (start-up)", base / "one", ["staged"]),
            (f"{args.planets} planets", base / "data", args.modes),
        ):
            for mode in modes:
                workdir = base / f"run-{data.name}-{mode}"
                workdir.mkdir(exist_ok=True)
                config = workdir / "bench-config.yaml"
                settings = yaml.safe_load((REPO / "config.yaml").read_text())
                settings.update(data_dir=str(data), splits=["train"], mode=mode)
                config.write_text(yaml.safe_dump(settings))
                runs = []
                for _ in range(max(1, args.repeat)):
                    shutil.rmtree(workdir / ".snakemake", ignore_errors=True)
                    runs.append(measure(snakemake_command(workdir, config, [])))
                result = {key: statistics.median(run[key] for run in runs) for key in ("wall_s", "cpu_s", "rss_mb")}
                result["jobs"] = runs[0]["jobs"]
                walls = [run["wall_s"] for run in runs]
                result["wall_range"] = f" ({min(walls):.1f}-{max(walls):.1f})" if len(runs) > 1 else ""
                rows.append({"tree": label, "mode": mode, **result, "full": data.name == "data"})
        lines = [
            f"# arielcal DAG scale benchmark — {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
            "",
            f"- Machine: {machine_line(machine())}; load average (1 min) {load_start:.2f} at start, "
            f"{os.getloadavg()[0]:.2f} at end.",
            f"- Tree: {args.planets} planets ({args.two_visit} with 2 visits), {observations} observations, 2025 layout, "
            "signal and calibration files hard-linked to one small simulated observation; default config "
            "(staged, science layer on) unless the mode says otherwise.",
            f"- Command: `.venv/bin/python bench/dag_scale.py --repeat {args.repeat}`; each cell the median of "
            f"{max(1, args.repeat)} fresh `snakemake -n --cores 2` runs (wall range in brackets), local "
            "(`SLURM_CONF=/dev/null`, as `make run`); peak RSS of the Snakemake process.",
            "",
            f"| tree | mode | jobs | wall (s) | CPU (s) | peak RSS (MB) | target ({TARGET_S:.0f} s, {TARGET_MB / 1024:.0f} GB) |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        missed = False
        for row in rows:
            verdict = "-"
            if row["full"]:
                ok = row["wall_s"] <= TARGET_S and row["rss_mb"] <= TARGET_MB
                missed |= not ok
                verdict = "PASS" if ok else "FAIL"
            lines.append(
                f"| {row['tree']} | {row['mode']} | {row['jobs']} | {row['wall_s']:.1f}{row['wall_range']} "
                f"| {row['cpu_s']:.1f} | {row['rss_mb']:.0f} | {verdict} |"
            )
        print()
        print("\n".join(lines))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text("\n".join(lines) + "\n")
        print(f"\nwrote {args.output}")
        if args.profile or missed:
            slowest = max((row for row in rows if row["full"]), key=lambda row: row["wall_s"])
            print(f"\n{'Target missed: p' if missed else 'P'}rofiling the {slowest['mode']} dry run.")
            workdir = base / f"run-data-{slowest['mode']}"
            profile(workdir, workdir / "bench-config.yaml", args.top)
        return 1 if missed else 0
    finally:
        if not keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
