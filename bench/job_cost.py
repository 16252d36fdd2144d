"""Per-job cost of the workflow on tiny observations, and the run a user types, as ratios.

    .venv/bin/python bench/job_cost.py [--planets 8 16] [--airs-frames 600] [--fgs1-frames 7200]
                                       [--modes staged fused] [--repeat 7]
                                       [--output bench/results/job_cost.md]

A tiny observation's calibration takes milliseconds, so what a job costs is almost all fixed:
this splits it. In one run, on one machine state:

1. **Fixed parts, each the fastest of --repeat fresh interpreters**: the interpreter alone
   (``python -c pass``), ``import numpy`` (the yardstick of the issue's targets), Snakemake's
   script preamble (``import snakemake.script``, which every ``script:`` job runs before our
   code), our step wrapper's imports (``arielcal.steps``), and the libraries only some
   stages need (polars, matplotlib, numba). The step wrapper's own bookkeeping (package versions,
   input records) is timed in-process.
2. **The workflow**: a tiny dataset (simulated once, outside the timed runs, so only
   calibration and science are timed) run by ``snakemake --cores 2`` with ``data_dir`` there,
   once per mode (default config = staged + science; fused + science), each in a fresh
   working directory. From the run: wall time, jobs, the sum of the jobs' benchmark files
   (a job's whole life: in-process, its imports and work), the sum of the work our step
   wrapper logs ("done in"; reading, computing and writing), and the idle core time
   ``(wall x cores - job sum) / jobs`` (Snakemake's own scheduling and bookkeeping between
   jobs, plus start-up). Per rule: jobs, mean job seconds, mean work seconds. With two
   ``--planets`` sizes, both are run and the slope of the wall time between them is the
   marginal cost of one planet: the per-split jobs (stacks, QC figures of the worst visits,
   recovery), whose cost does not grow with the planets, cancel out.

Targets (issue 11): per planet (the marginal cost when two sizes are run), default config
<= 30x and fused <= 10x the fastest ``import numpy``. Runs are local as ``make run`` (``SLURM_CONF=/dev/null``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _measure import snakemake_command

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TARGETS = {"staged": 30.0, "fused": 10.0}
IMPORTS = {
    "interpreter (python -c pass)": "pass",
    "import numpy": "import numpy",
    "Snakemake script preamble (import snakemake.script)": "import snakemake.script",
    "step wrapper (import arielcal.steps)": "import arielcal.steps",
    "polars (parquet stages only)": "import polars",
    "matplotlib.pyplot (QC figures only)": "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot",
    "numba (fused mode only)": "import numba",
}
DONE = re.compile(r" (\w+) done in ([0-9.]+) s$")


def fastest(code: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([PYTHON, "-c", code], check=True)
        best = min(best, time.perf_counter() - start)
    return best


def bookkeeping_seconds(repeat: int) -> dict[str, float]:
    """The step wrapper's per-job bookkeeping, in-process (the modules are already imported)."""
    from arielcal import provenance

    small = Path(tempfile.mkdtemp()) / "input.csv"
    small.write_text("a,b\n1,2\n")
    timed = {}
    for name, call in (
        ("package versions", provenance.versions),
        ("input record (small csv)", lambda: provenance.file_record(small)),
    ):
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - start)
        timed[name] = best
    shutil.rmtree(small.parent)
    return timed


def simulate(root: Path, args) -> None:
    subprocess.run(
        [
            PYTHON,
            "-m",
            "arielcal.simulate",
            "--out",
            str(root),
            "--train-planets",
            str(args.planets - max(1, args.planets // 4)),
            "--test-planets",
            str(max(1, args.planets // 4)),
            "--airs-frames",
            str(args.airs_frames),
            "--fgs1-frames",
            str(args.fgs1_frames),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def run_workflow(workdir: Path, data: Path, mode: str, extra: list[str]) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config.update(data_dir=str(data), mode=mode)
    workdir.mkdir(parents=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "SLURM_CONF": "/dev/null"}
    cmd = snakemake_command(workdir, 2, "--quiet", *extra)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"snakemake ({mode}) failed:\n{done.stderr[-3000:]}")
    rules: dict[str, dict] = {}
    for tsv in (workdir / "benchmarks").rglob("*.tsv"):
        rule = tsv.relative_to(workdir / "benchmarks").parts[0]
        seconds = float(tsv.read_text().splitlines()[1].split("\t")[0])
        entry = rules.setdefault(rule, {"jobs": 0, "job_s": 0.0, "work_s": 0.0})
        entry["jobs"] += 1
        entry["job_s"] += seconds
    for log in (workdir / "logs").rglob("*.log"):
        rule = log.relative_to(workdir / "logs").parts[0]  # logs/ and benchmarks/ share the rule's folder
        for line in log.read_text().splitlines():
            found = DONE.search(line)
            if found and rule in rules:
                rules[rule]["work_s"] += float(found.group(2))
    jobs = sum(r["jobs"] for r in rules.values())
    job_s = sum(r["job_s"] for r in rules.values())
    return {
        "wall": wall,
        "jobs": jobs,
        "job_s": job_s,
        "work_s": sum(r["work_s"] for r in rules.values()),
        "idle_per_job": (wall * 2 - job_s) / jobs,
        "rules": rules,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--planets",
        type=int,
        nargs="+",
        default=[8, 16],
        help="one size, or two: the second run gives the marginal cost of a planet (the slope)",
    )
    parser.add_argument("--airs-frames", type=int, default=600)
    parser.add_argument("--fgs1-frames", type=int, default=7200)
    parser.add_argument("--modes", nargs="+", default=["staged", "fused"], choices=["staged", "fused"])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--snakemake-args", default="", help="extra arguments for every run, e.g. '--scheduler ilp'")
    parser.add_argument("--output", default=str(REPO / "bench/results/job_cost.md"))
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="arielcal-jobcost-"))
    try:
        imports = {name: fastest(code, args.repeat) for name, code in IMPORTS.items()}
        bookkeeping = bookkeeping_seconds(args.repeat)
        sizes = sorted(set(args.planets))
        runs, slopes = {}, {}
        for n in sizes:
            simulate(root / f"data{n}", argparse.Namespace(**{**vars(args), "planets": n}))
            for mode in args.modes:
                run = run_workflow(root / f"{mode}{n}", root / f"data{n}", mode, args.snakemake_args.split())
                if n == sizes[0]:
                    runs[mode] = run
                else:  # what one more planet costs, the per-split jobs (stacks, QC, recovery) left out
                    slopes[mode] = (run["wall"] - runs[mode]["wall"]) / (n - sizes[0])
        numpy_s = min(imports["import numpy"], fastest("import numpy", args.repeat))  # again, after the runs
    finally:
        shutil.rmtree(root, ignore_errors=True)

    lines = [
        f"# Per-job cost on tiny observations ({args.airs_frames} AIRS / {args.fgs1_frames} FGS1 frames)",
        "",
        f"{datetime.date.today()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"`python bench/job_cost.py --planets {' '.join(map(str, sizes))}`; tables for {sizes[0]} planets "
        "(2 instruments each); the marginal column is the wall time one more planet adds, the slope between "
        f"the runs of {' and '.join(map(str, sizes))} planets (the per-split jobs, stacks, QC and recovery, cancel out). "
        "Targets are judged on the marginal cost where there is one: it is what the whole dataset pays per planet.",
        "",
        f"## Fixed parts of a job (fastest of {args.repeat} fresh interpreters; in-process for bookkeeping)",
        "",
        "| part | seconds |",
        "|---|---|",
        *[f"| {name} | {seconds:.3f} |" for name, seconds in imports.items()],
        *[f"| step wrapper bookkeeping: {name} | {seconds:.4f} |" for name, seconds in bookkeeping.items()],
        "",
        "## The run a user types (`snakemake --cores 2`, science layer on)",
        "",
        "| mode | jobs | wall s | s / planet | marginal s / planet | x `import numpy` | target | job sum s "
        "| work sum s | idle core s / job |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mode, run in runs.items():
        per_planet = run["wall"] / sizes[0]
        judged = slopes.get(mode, per_planet)
        ratio = judged / numpy_s
        verdict = "PASS" if ratio <= TARGETS[mode] else "FAIL"
        marginal = f"{slopes[mode]:.2f}" if mode in slopes else "-"
        lines.append(
            f"| {mode} | {run['jobs']} | {run['wall']:.1f} | {per_planet:.2f} | {marginal} | {ratio:.1f}x "
            f"| <= {TARGETS[mode]:.0f}x {verdict} | {run['job_s']:.1f} | {run['work_s']:.1f} | {run['idle_per_job']:.3f} |"
        )
    lines += ["", f"`import numpy`, fastest: {numpy_s:.3f} s.", ""]
    for mode, run in runs.items():
        lines += [f"### {mode}: per rule", "", "| rule | jobs | mean job s | mean work s |", "|---|---|---|---|"]
        for rule, entry in sorted(run["rules"].items(), key=lambda item: -item[1]["job_s"]):
            lines.append(
                f"| {rule} | {entry['jobs']} | {entry['job_s'] / entry['jobs']:.3f} | {entry['work_s'] / entry['jobs']:.3f} |"
            )
        lines.append("")
    text = "\n".join(lines)
    print(text)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text)


if __name__ == "__main__":
    main()
