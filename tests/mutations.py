"""Mutation check: does the test suite catch deliberate defects?

Each defect below is a text substitution in the package or the scripts. For every defect this
script copies the repository (src/, scripts/, rules/, Snakefile, tests/ and the config files) to
a temporary directory once, applies that one defect to the copy, runs the fast tests chosen to
catch it, restores the file, and reports a table: caught (a selected test failed) or NOT caught
(every selected test passed). The real tree is never modified.

A defect is targeted by a text pattern searched across every ``*.py`` under src/ and scripts/,
not by file and line, so it survives modules being moved or split. A pattern must occur exactly
once in the whole tree, else the check stops and says so (fix the pattern here).

Exit status: 0 when every defect is caught; 1 when one survives; 2 when the check itself is
broken (a pattern not found exactly once, the selected tests failing on the unmutated copy, a
test id that does not exist).

    python tests/mutations.py              # every defect
    python tests/mutations.py --list       # the defects and their tests
    python tests/mutations.py -k dark      # defects whose name contains "dark"
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# What the copy needs to import the package, run the scripts and rules (envs/: the conda file
# the simulation rules name), and run pytest.
COPIED = (
    "src",
    "scripts",
    "rules",
    "Snakefile",
    "tests",
    "config",
    "config.yaml",
    "profiles",
    "report",
    "envs",
    "pyproject.toml",
)
SEARCHED = ("src", "scripts")
TIMEOUT_S = 1800

# Test ids (relative to the repository root), grouped by what they check.
CHAIN = "tests/scripts/test_stage_scripts.py::test_full_chain_of_stage_scripts"
DARK_SCRIPT = "tests/scripts/test_stage_scripts.py::test_dark_stage_by_hand"
MASK_SCRIPT = "tests/scripts/test_stage_scripts.py::test_hot_pixels_by_hand"
FUSED_SCRIPT = "tests/scripts/test_stage_scripts.py::test_fused_script_equals_the_stage_chain"
VARIANCE_CLASSES = "tests/unit/test_science.py::test_variance_per_pixel_class_matches_the_scatter"
RECOVERY_UNIT = "tests/unit/test_recovery.py::test_recovery_sees_a_reversed_or_shifted_spectrum_and_a_depth_bias"
STACKS = "tests/workflow/test_workflow.py::test_stacks_follow_observations_csv_with_a_nan_slab"
PARITY_2025 = "tests/workflow/test_workflow.py::test_2025_products_match_the_notebook_with_each_visits_maps"


@dataclass(frozen=True)
class Defect:
    name: str
    pattern: str
    replacement: str
    tests: tuple[str, ...]


DEFECTS = (
    Defect(
        "dark subtracted with the wrong sign",
        "np.subtract(cube[idx], current, out=current)",
        "np.add(cube[idx], current, out=current)",
        (DARK_SCRIPT, CHAIN),
    ),
    Defect(
        "dark dropped (the dark script subtracts nothing)",
        "calib.subtract_dark(cube, dark, dt, out=",
        "calib.subtract_dark(cube, 0.0 * dark, dt, out=",
        (DARK_SCRIPT, CHAIN),
    ),
    Defect(
        "second_read_extra_s added to the first (short) read",
        "dt[1::2] = second_read_s\n    dt[1::2] += second_read_extra_s",
        "dt[1::2] = second_read_s\n    dt[0::2] += second_read_extra_s",
        (DARK_SCRIPT, CHAIN),
    ),
    Defect(
        "AIRS: second_read_extra_s added to the first read",
        "dt = dt[:n_valid].copy()\n    dt[1::2] += second_read_extra_s",
        "dt = dt[:n_valid].copy()\n    dt[0::2] += second_read_extra_s",
        (DARK_SCRIPT,),
    ),
    Defect(
        "AIRS: second_read_extra_s ignored (the 0.1 s convention)",
        "calib.integration_times_from_axis(axis[formats.AXIS_INTEGRATION], extra_s)",
        "calib.integration_times_from_axis(axis[formats.AXIS_INTEGRATION], 0.0)",
        (DARK_SCRIPT,),
    ),
    Defect(
        "FGS1 frame integration time 0.2 s instead of the notebook's 0.1 s",
        "FGS1_FRAME_S = 0.1",
        "FGS1_FRAME_S = 0.2",
        (DARK_SCRIPT,),
    ),
    Defect(
        "gain inverted (raw * gain + offset)",
        "lut64 /= gain",
        "lut64 *= gain",
        (CHAIN,),
    ),
    Defect(
        "ADC offset subtracted instead of added",
        "lut64 += offset",
        "lut64 -= offset",
        (CHAIN,),
    ),
    Defect(
        "gain and offset swapped",
        "    return gain, offset\n",
        "    return offset, gain\n",
        (CHAIN,),
    ),
    Defect(
        "hot-pixel sigma 6 instead of the configured 5",
        "hot = sigma_clip_mask(dark, sigma=sigma, maxiters=maxiters)",
        "hot = sigma_clip_mask(dark, sigma=sigma + 1, maxiters=maxiters)",
        (MASK_SCRIPT,),
    ),
    Defect(
        "bad_pixels hot: flag ignored (hot pixels always excluded)",
        'hot_bits = DQ.HOT | (DQ.DO_NOT_USE if hot_action == "nan" else 0)',
        "hot_bits = DQ.HOT | DQ.DO_NOT_USE",
        (MASK_SCRIPT,),
    ),
    Defect(
        "linearity coefficients reversed (highest power first)",
        "coeffs = np.array(coeffs, dtype=F64, copy=True)",
        "coeffs = np.array(np.asarray(coeffs)[::-1], dtype=F64, copy=True)",
        (CHAIN,),
    ),
    Defect(
        "CDS order swapped (first minus second read)",
        "np.subtract(block[..., 1::2], block[..., 0::2]",
        "np.subtract(block[..., 0::2], block[..., 1::2]",
        (CHAIN,),
    ),
    Defect(
        "bins off by one frame",
        "block = np.asarray(cube[idx])[..., : n_bins * n]",
        "block = np.roll(np.asarray(cube[idx]), -1, axis=-1)[..., : n_bins * n]",
        (CHAIN,),
    ),
    Defect(
        "bin times from the first read's stamps",
        "long_reads = frame_times[1::2]",
        "long_reads = frame_times[0::2]",
        (CHAIN,),
    ),
    Defect(
        "flat applied twice",
        'np.divide(cube[idx], divisor[idx][..., None], out=out[idx], casting="same_kind")',
        'np.divide(cube[idx], divisor[idx][..., None] ** 2, out=out[idx], casting="same_kind")',
        (CHAIN,),
    ),
    Defect(
        "fused kernel: the second read's dark uses the first read's time",
        "second = np.float32(np.float64(samples[2 * k + 1]) - d * dt[2 * k + 1])",
        "second = np.float32(np.float64(samples[2 * k + 1]) - d * dt[2 * k])",
        (FUSED_SCRIPT,),
    ),
    Defect(
        "fused kernel: flat applied twice",
        "out[p, b] = np.float32(np.float64(np.float32(value)) / divisor[p])",
        "out[p, b] = np.float32(np.float64(np.float32(value)) / divisor[p] ** 2)",
        (FUSED_SCRIPT,),
    ),
    Defect(
        "stack rows shuffled (reversed against observations.csv)",
        "rows = rows_of(slots, split, instrument, failures.latest(log_root))",
        "rows = rows_of(slots, split, instrument, failures.latest(log_root))[::-1]",
        (STACKS,),
    ),
    Defect(
        "every visit calibrated with visit 0's maps",
        'f"{instrument}_calibration{_suffix(edition, visit)}"',
        'f"{instrument}_calibration{_suffix(edition, 0)}"',
        (PARITY_2025,),
    ),
    Defect(
        "AIRS wavelength order reversed (labels follow the columns)",
        "stop + 1 - c, 0)",
        "c - start + 2, 0)",
        (RECOVERY_UNIT,),
    ),
    Defect(
        "AIRS labels shifted by one channel",
        "stop + 1 - c, 0)",
        "stop + 2 - c, 0)",
        (RECOVERY_UNIT,),
    ),
    Defect(
        "depths biased 3 % high",
        'rows["depth"] += depths.depth.tolist()',
        'rows["depth"] += (1.03 * depths.depth).tolist()',
        (RECOVERY_UNIT,),
    ),
    Defect(
        "shot-noise term removed from the variance",
        "per_frame = 2.0 * read**2 + signal_per_frame(cube, frames_per_bin, divisor_map)",
        "per_frame = 2.0 * read**2 + 0.0 * signal_per_frame(cube, frames_per_bin, divisor_map)",
        (VARIANCE_CLASSES,),
    ),
    Defect(
        "read noise counted once per CDS frame instead of twice",
        "per_frame = 2.0 * read**2 + signal_per_frame(cube, frames_per_bin, divisor_map)",
        "per_frame = 1.0 * read**2 + signal_per_frame(cube, frames_per_bin, divisor_map)",
        (VARIANCE_CLASSES,),
    ),
    Defect(
        "dark-current noise removed from the variance",
        "per_frame += np.maximum(dark_map, 0.0) * float(accumulation_s)",
        "per_frame += 0.0 * np.maximum(dark_map, 0.0) * float(accumulation_s)",
        (VARIANCE_CLASSES,),
    ),
)


def python_files(root: Path) -> list[Path]:
    return sorted(p for top in SEARCHED for p in (root / top).rglob("*.py") if "__pycache__" not in p.parts)


def locate(root: Path, defect: Defect) -> Path:
    """The one file holding the defect's pattern; SystemExit(2) unless it occurs exactly once."""
    hits = [(path, path.read_text().count(defect.pattern)) for path in python_files(root)]
    hits = [(path, n) for path, n in hits if n]
    total = sum(n for _, n in hits)
    if total != 1:
        where = ", ".join(f"{p.relative_to(root)} ({n}x)" for p, n in hits) or "nowhere"
        raise SystemExit(
            f"tests/mutations.py: the pattern of defect {defect.name!r} must occur exactly once across "
            f"{'/, '.join(SEARCHED)}/, found {total}: {where}\npattern: {defect.pattern!r}"
        )
    return hits[0][0]


def copy_repo(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis")
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, dest / name)


def run_tests(root: Path, tests: tuple[str, ...], env: dict) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", *tests]
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    return done.returncode, done.stdout + done.stderr


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the defects and their tests, run nothing")
    parser.add_argument("-k", default="", help="only the defects whose name contains this text")
    parser.add_argument("--tests", nargs="+", help="run these test ids for every defect instead of its own selection")
    args = parser.parse_args(argv)
    defects = [d for d in DEFECTS if args.k.lower() in d.name.lower()]
    if not defects:
        raise SystemExit(f"tests/mutations.py: no defect matches {args.k!r}")
    if args.tests:
        defects = [Defect(d.name, d.pattern, d.replacement, tuple(args.tests)) for d in defects]
    for defect in defects:
        locate(REPO, defect)
    if args.list:
        for defect in defects:
            print(f"{defect.name}\n    {locate(REPO, defect).relative_to(REPO)}\n    " + "\n    ".join(defect.tests))
        return 0

    with tempfile.TemporaryDirectory(prefix="arielcal-mutations-") as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        copy_repo(root)
        env = {
            **os.environ,
            "PYTHONPATH": str(root / "src"),
            "SLURM_CONF": "/dev/null",
            "NUMBA_CACHE_DIR": str(Path(tmp) / "numba-cache"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        imported = subprocess.run(
            [sys.executable, "-c", "import arielcal; print(arielcal.__file__)"],
            cwd=root, env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        if not Path(imported).resolve().is_relative_to(root.resolve()):
            print(f"tests/mutations.py: the copy imports arielcal from {imported}, not from its own src/")
            return 2
        selected = tuple(dict.fromkeys(t for d in defects for t in d.tests))
        started = time.perf_counter()
        rc, out = run_tests(root, selected, env)
        if rc != 0:
            print(out[-6000:])
            print(f"tests/mutations.py: the selected tests fail (exit {rc}) on the unmutated copy: nothing to measure")
            return 2
        print(f"unmutated copy: {len(selected)} selected tests pass ({time.perf_counter() - started:.0f} s)")

        rows, broken = [], []
        for defect in defects:
            path = locate(root, defect)
            original = path.read_text()
            stat = path.stat()
            path.write_text(original.replace(defect.pattern, defect.replacement))
            started = time.perf_counter()
            try:
                rc, out = run_tests(root, defect.tests, env)
            finally:
                path.write_text(original)
                os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            seconds = time.perf_counter() - started
            if rc == 1:
                verdict = "caught"
            elif rc == 0:
                verdict = "NOT caught"
            else:  # interrupted, internal error, usage error, no test collected
                verdict = f"ERROR (pytest exit {rc})"
                broken.append((defect, out))
            rows.append((defect.name, str(path.relative_to(root)), verdict, f"{seconds:.0f} s"))
            print(f"{verdict:>12}  {defect.name}  ({seconds:.0f} s)", flush=True)

    widths = [max(len(r[i]) for r in rows + [("defect", "file", "result", "time")]) for i in range(4)]
    print()
    for row in [("defect", "file", "result", "time"), tuple("-" * w for w in widths), *rows]:
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    for defect, out in broken:
        print(f"\n--- {defect.name}: pytest output\n{out[-4000:]}")
    survivors = [r for r in rows if r[2] == "NOT caught"]
    print(f"\n{len(rows) - len(survivors) - len(broken)} of {len(rows)} defects caught", end="")
    print(f"; NOT caught: {', '.join(r[0] for r in survivors)}" if survivors else "")
    if broken:
        return 2
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
