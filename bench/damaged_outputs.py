"""Start-up cost of the damaged-output check (arielcal.preflight.damaged_outputs).

    .venv/bin/python bench/damaged_outputs.py [--observations 120 2200] [--repeat 3] [--workdir DIR]
                                              [--output bench/results/damaged_outputs.md]

Every run's main Snakemake process reads the ``.npy`` header of each output an earlier run may
have left (rules/collect_inputs.smk: calibrated, dq, nvalid and the science arrays of every
observation, and the stacks) before the DAG is built. This builds, in a temporary directory (or
--workdir), N observations' worth of those files at full size (sparse: the header numpy writes
for the real shape, the rest a hole), times the check over all of them N times and reports the
best and worst run. Target: well under a second for 100+ observations. The page cache is warm
after the files are written (the first run of a session on a cold cache pays one metadata read
per file more).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from arielcal import preflight

# (name, full-size shape, dtype) of each per-observation array the check reads (AIRS-CH0 sizes).
FILES = (
    ("calibrated.npy", (187, 282, 32), np.float32),
    ("dq.npy", (282, 32), np.uint32),
    ("nvalid.npy", (187, 282, 32), np.uint16),
    ("variance.npy", (187, 282, 32), np.float32),
    ("spectral.npy", (2, 187, 282), np.float64),
    ("white.npy", (2, 187), np.float64),
)


def _sparse_npy(path: Path, shape, dtype) -> None:
    """A .npy of ``shape``: numpy's header, then a hole as long as the data."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        fh.truncate(fh.tell() + int(np.prod(shape)) * np.dtype(dtype).itemsize)


def build(root: Path, observations: int) -> list[str]:
    paths = []
    for index in range(observations):
        folder = root / "results" / "train" / str(index // 2) / "0" / ("AIRS-CH0", "FGS1")[index % 2]
        folder.mkdir(parents=True, exist_ok=True)
        for name, shape, dtype in FILES:
            path = folder / name
            if not path.exists():
                _sparse_npy(path, shape, dtype)
            paths.append(str(path))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, nargs="+", default=[120, 2200])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--output", type=Path, default=Path("bench/results/damaged_outputs.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.workdir or Path(scratch)
        rows = []
        for n in args.observations:
            paths = build(root, n)
            seconds = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                damaged = preflight.damaged_outputs(paths)
                seconds.append(time.perf_counter() - start)
            assert not damaged, damaged
            rows.append(
                f"| {n} | {len(paths)} | {min(seconds) * 1000:.0f}-{max(seconds) * 1000:.0f} ms | "
                f"{min(seconds) / len(paths) * 1e6:.0f} us |"
            )
    table = "\n".join(
        [
            f"Damaged-output check, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
            f"{os.cpu_count()} CPUs, best and worst of {args.repeat}, warm page cache",
            "",
            "| observations | files | check | per file |",
            "|---|---|---|---|",
            *rows,
        ]
    )
    print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table + "\n")


if __name__ == "__main__":
    main()
