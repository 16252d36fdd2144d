"""Staged mode's I/O floor: what its per-stage cubes cost to write and read, against its jobs.

    nice -n 19 .venv/bin/python bench/staged_io.py --workdir DIR [--repeat 3]
        [--output bench/results/staged_io.md]

DIR is a finished staged run with ``keep_intermediates: true`` (its ``results/**/stages`` cubes
and ``benchmarks/``), e.g. ``snakemake --config data_dir=<one full-size planet> mode=staged
keep_intermediates=true``. For every observation and stage the script times, on this machine,
what the stage's I/O alone costs: reading its input cube and DQ map whole from the page cache
(``np.load``; the stage itself streams a memory map, which touches the same pages; adc's
parquet read is the read floor of ``bench/run.py`` and is not counted here) and writing
its outputs as the stage does (``arielcal.files.save_npy``: a temporary file renamed into
place), then deleting them (as Snakemake deletes temporary intermediates). Each cell is the best
of ``--repeat`` runs after one warm-up read. The table sets that floor beside the stage job's
own time (its ``benchmark:`` file): the part of a job that no arithmetic or Snakemake setting
can remove while every stage exchanges full float32 cubes through files.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "src"))
from _measure import machine, machine_line  # noqa: E402

from arielcal import files  # noqa: E402

STAGES = ["adc", "mask", "linearity", "dark", "cds", "outliers", "bin", "flat"]


def best_of(repeat: int, action) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def stage_files(stages_dir: Path, stage: str) -> list[Path]:
    return sorted(p for p in stages_dir.glob(f"{stage}.*npy"))


def job_seconds(workdir: Path, stage: str, observation: Path) -> float:
    rel = observation.relative_to(workdir / "results")
    tsv = workdir / "benchmarks" / stage / rel.parent / f"{rel.name}.tsv"
    with open(tsv) as fh:
        return float(list(csv.DictReader(fh, delimiter="\t"))[-1]["s"])


def memory_touch(megabytes: float, count: int = 6) -> tuple[float, float]:
    """Seconds to allocate and fill an array of ``megabytes``: memory this process just freed
    (best of ``count``), and memory it has not held before (mean of ``count`` arrays kept alive,
    so each needs new pages: what a stage job's fresh output costs)."""
    n = int(megabytes * 1e6 / 4)

    def fill():
        array = np.empty(n, np.float32)
        array.fill(1.0)
        return array

    fill()
    recycled = best_of(count, fill)
    kept, start = [], time.perf_counter()
    for _ in range(count):
        kept.append(fill())
    return recycled, (time.perf_counter() - start) / count


def measure_observation(workdir: Path, observation: Path, repeat: int) -> list[dict]:
    stages_dir = observation / "stages"
    rows, previous = [], []
    for stage in STAGES:
        outputs = stage_files(stages_dir, stage)
        if not outputs:
            continue
        arrays = [np.load(p) for p in outputs]

        def read(paths=previous):
            for path in paths:
                np.load(path)

        def write(arrays=arrays, outputs=outputs):
            with tempfile.TemporaryDirectory(dir=stages_dir) as scratch:
                for array, path in zip(arrays, outputs, strict=True):
                    files.save_npy(Path(scratch) / path.name, array)

        read()  # warm the page cache
        rows.append(
            {
                "observation": str(observation.relative_to(workdir / "results")),
                "stage": stage,
                "read_mb": sum(p.stat().st_size for p in previous) / 1e6,
                "write_mb": sum(p.stat().st_size for p in outputs) / 1e6,
                "read_s": best_of(repeat, read),
                "write_s": best_of(repeat, write),
                "job_s": job_seconds(workdir, stage, observation),
            }
        )
        # The next stage reads the newest cube and DQ map (mask adds only a DQ map).
        cube = [p for p in outputs if p.name == f"{stage}.npy"]
        dq = [p for p in outputs if p.name.endswith(".dq.npy")]
        previous = (cube or [p for p in previous if not p.name.endswith(".dq.npy")]) + dq
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=REPO / "bench/results/staged_io.md")
    args = parser.parse_args(argv)
    observations = sorted({p.parent.parent for p in args.workdir.glob("results/**/stages/adc.npy")})
    if not observations:
        raise SystemExit(f"{args.workdir}: no results/**/stages/adc.npy (run staged with keep_intermediates: true)")
    rows = [row for obs in observations for row in measure_observation(args.workdir, obs, args.repeat)]

    lines = [
        "# Staged mode's I/O floor",
        "",
        f"- {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; {machine_line(machine())}; "
        f"load average (1 min) {os.getloadavg()[0]:.2f} at the end.",
        f"- Command: `python bench/staged_io.py --workdir {args.workdir} --repeat {args.repeat}`; "
        f"{len(observations)} observations.",
        "- read: the stage's input cube and DQ map loaded whole from the page cache; write: its outputs "
        "written as the stage writes them (temporary file, rename), then deleted; best of the repeats. "
        "job: the stage job's benchmark file (s).",
        "",
        "| observation | stage | read MB | write MB | read s | write s | I/O floor s | job s | floor / job |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        floor = r["read_s"] + r["write_s"]
        lines.append(
            f"| {r['observation']} | {r['stage']} | {r['read_mb']:.0f} | {r['write_mb']:.0f} | {r['read_s']:.2f} | "
            f"{r['write_s']:.2f} | {floor:.2f} | {r['job_s']:.2f} | {floor / r['job_s']:.0%} |"
        )
    floor = sum(r["read_s"] + r["write_s"] for r in rows)
    jobs = sum(r["job_s"] for r in rows)
    written = sum(r["write_mb"] for r in rows)
    lines += [
        "",
        f"Over the {len(observations)} observations: {written / 1e3:.2f} GB written, I/O floor {floor:.2f} s, "
        f"stage jobs {jobs:.2f} s: the I/O alone is {floor / jobs:.0%} of the stage jobs' time.",
    ]
    largest = max(r["write_mb"] for r in rows)
    recycled, fresh = memory_touch(largest)
    lines += [
        "",
        f"Memory, the rest of a job's time beside its arithmetic: allocating and filling {largest:.0f} MB (the "
        f"largest stage output) takes {recycled:.3f} s in memory the process just freed and {fresh:.3f} s on average "
        "in memory it has not held before (six such arrays kept at once). Every stage job allocates its output "
        "and temporaries afresh, and on a virtual machine that hands freed memory back to its host the new "
        "pages cost that again on every job.",
    ]
    text = "\n".join(lines) + "\n"
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
