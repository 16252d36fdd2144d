"""Report size: `snakemake --report` on simulated datasets of N tiny planets.

    .venv/bin/python bench/report_size.py [--planets 10 100] [--workdir DIR]
                                          [--output bench/results/report_size.md]

For each N, in a temporary directory (or --workdir), runs the whole default workflow (staged
mode, science layer) on a simulated train split of N one-visit planets with the test suite's
tiny frame counts (tests/conftest.py: 120 AIRS / 1440 FGS1 raw frames), then
``snakemake --report report.html``, and records the report's size. The QC figures per visit
have the same pixel size as on full-size data, so the report's size does not depend on the
frame counts. Target (issue 11): at most 50 KB more per additional planet, at most 30 MB for
1100 planets; the table extrapolates linearly from the two largest N. Local runs with
``SLURM_CONF=/dev/null`` as ``make run``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _measure import snakemake_command  # noqa: E402
from conftest import Workflow, default_config, merged, tiny_simulation  # noqa: E402


def run(workdir: Path, *args: str) -> float:
    started = time.perf_counter()
    cmd = snakemake_command(workdir, 2, *args)
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "SLURM_CONF": "/dev/null"})
    if done.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return time.perf_counter() - started


def measure(root: Path, planets: int) -> dict:
    config = merged(
        default_config(), {"splits": ["train"], "simulation": tiny_simulation(train_planets=planets, test_planets=0)}
    )
    workdir = root / f"planets{planets}"
    Workflow(workdir, config)
    seconds = run(workdir, "--quiet")
    report = workdir / "report.html"
    run(workdir, "--report", str(report))
    figures = sorted((workdir / "results" / "train" / "qc_worst").glob("*.png"))
    return {
        "planets": planets,
        "observations": 2 * planets,
        "bytes": report.stat().st_size,
        "figures": len(figures),
        "run_s": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planets", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "report_size.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report_size.") as tmp:
        root = args.workdir or Path(tmp)
        rows = [measure(root, n) for n in sorted(args.planets)]
    lines = [
        "# Report size",
        "",
        f"`bench/report_size.py --planets {' '.join(map(str, sorted(args.planets)))}`, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.node() or 'machine'} ({os.cpu_count()} CPUs). Train split of tiny one-visit planets "
        "(AIRS-CH0 + FGS1), staged mode, default `report.worst_visits`.",
        "",
        "| planets | observations | report.html (bytes) | MB | worst-visit figures | workflow run (s) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['planets']} | {row['observations']} | {row['bytes']} | {row['bytes'] / 1e6:.2f} | {row['figures']} | {row['run_s']:.0f} |"
        )
    if len(rows) >= 2:
        a, b = rows[-2], rows[-1]
        per_planet = (b["bytes"] - a["bytes"]) / (b["planets"] - a["planets"])
        lines += [
            "",
            f"Growth between {a['planets']} and {b['planets']} planets: {per_planet / 1e3:.1f} KB per planet (target <= 50 KB); "
            f"linear extrapolation to 1100 planets: {(b['bytes'] + per_planet * (1100 - b['planets'])) / 1e6:.1f} MB (target <= 30 MB).",
        ]
    text = "\n".join(lines) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
