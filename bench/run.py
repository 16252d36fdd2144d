"""Throughput benchmark: read floor, the organisers' notebook, fused and staged modes, per planet.

    .venv/bin/python bench/run.py [--planets 4] [--workdir /tmp/arielcal-bench] [--skip-notebook]
                                  [--quick] [--repeats 3] [--profile] [--quiet-wait 300]
                                  [--snakefile PATH] [--output bench/results/latest.md] [--render-only]

Simulates N full-size planets once (``python -m arielcal.simulate``, 2024 layout, train split)
into WORKDIR/data (reused when present with the same settings), then measures, warm page cache:

1. the read floor: both signal parquets of a planet into pixel-major numpy (AIRS projected to
   columns 39:321), nothing else; best of ``--repeats`` after one warm-up;
2. the notebook (tests/notebook_reference.py, pandas I/O as the 29 Aug 2024 notebook) on one
   planet, both instruments, non-linearity off and on, each in its own child process;
3. staged mode through Snakemake (``--cores`` 2): total wall / N, per-job times and RSS;
4. fused mode through Snakemake (``mode: fused``, one thread per job, so two jobs run at once;
   also with ``--set-threads fused=2``) and as a direct call of ``arielcal.fused.calibrate``
   (reading included, threads=2), linearity off and on.

Snakemake's start-up (``snakemake -n`` on the same config and targets) is reported on its own
line, with and without ``SLURM_CONF=/dev/null`` (which the Snakemake runs use, as ``make run``:
it spares the SLURM executor plugin's ``scontrol`` probe at import). Peak RSS: ``ru_maxrss`` of each child process and of each Snakemake job (an exit hook;
exact), plus Snakemake's sampled benchmark ``max_rss``. Disk high-water of staged mode: the
allocated size of results/ polled every 0.2 s during the run, and the job order from Snakemake's
log. Prints a markdown table with ratios and PASS/FAIL per target, and writes it to ``--output``
with the date and machine; WORKDIR/results.json keeps the raw numbers (``--render-only``
re-renders them). The machine is shared: before each measurement the benchmark waits up to
``--quiet-wait`` s for other processes to use < 0.3 cores, and reports the cores they used
during it. ``--quick`` runs a reduced-size smoke test (1200 AIRS / 14400 FGS1 frames, 2 planets)
into a separate work directory and writes WORKDIR/quick.md. If a fused target is missed (or
with ``--profile``) the direct call is profiled with cProfile per stage. ``--snakefile`` runs a
patched copy of the workflow (e.g. to try rule priorities) against the same data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import (
    REPO,
    DiskPoller,
    install_rss_hook,
    machine,
    machine_line,
    median,
    python_task,
    read_benchmarks,
    read_rss_log,
    run_child,
    wait_quiet,
)

INSTRUMENTS = ("AIRS-CH0", "FGS1")
# Snakemake runs: (key, label). fused: the rule's default, one thread per job, so two jobs run
# at once; fused-2threads: --set-threads fused=2.
SNAKEMAKE_RUNS = (("fused", "fused"), ("fused-2threads", "fused, 2 threads per job"), ("staged", "staged"))
# With --science: the workflow's default target (rule all: calibration, science layer, QC tables and
# the worst visits' figures), in each mode; "staged-science" is the default config. Each runs on the
# first half of the planets as well: the difference is the marginal cost of a planet, without the
# run's start-up and the per-split jobs (QC figures of the worst visits, recovery) that a dataset
# of any size pays once.
SCIENCE_RUNS = (("fused-science", "fused + science"), ("staged-science", "default config (staged + science)"))
FULL_PLANETS = 673
SIZES = {"full": {"airs_frames": 11250, "fgs1_frames": 135000}, "quick": {"airs_frames": 1200, "fgs1_frames": 14400}}
TARGETS = {
    "fused_vs_read_floor": 2.0,
    "speedup_on": 40.0,
    "speedup_off": 15.0,
    "fused_rss_mb": 1024.0,
    "staged_vs_fused": 3.0,
    "staged_rss_mb": 1536.0,
    "disk_per_planet_gb": 3.0,
    "fused_snakemake_vs_direct": 1.5,
    "fused_science_vs_read_floor": 3.0,
    "default_science_vs_read_floor": 10.0,
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data


def ensure_data(data: Path, planets: int, size: dict, seed: int = 42) -> list[int]:
    """Simulate the planets once; reuse them when the marker matches the settings."""
    settings = {"planets": planets, "seed": seed, "edition": 2024, **size}
    marker = data / "bench-settings.json"
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        log(f"reusing the simulated data in {data}")
    else:
        if data.exists():
            shutil.rmtree(data)
        log(f"simulating {planets} planets ({size}) into {data}")
        cmd = [
            sys.executable,
            "-m",
            "arielcal.simulate",
            "--out",
            str(data),
            "--edition",
            "2024",
            "--seed",
            str(seed),
            "--train-planets",
            str(planets),
            "--test-planets",
            "0",
            "--airs-frames",
            str(size["airs_frames"]),
            "--fgs1-frames",
            str(size["fgs1_frames"]),
        ]
        done = run_child(cmd)
        if done["returncode"]:
            raise SystemExit(f"simulation failed:\n{done['stderr'][-4000:]}")
        log(f"simulated in {done['wall']:.0f} s")
        marker.write_text(json.dumps(settings))
    ids = sorted(int(p.parent.name) for p in (data / "train").glob("*/AIRS-CH0_signal.parquet"))
    if len(ids) != planets:
        raise SystemExit(f"expected {planets} planets in {data / 'train'}, found {len(ids)}")
    return ids


def thread_env(threads: int) -> dict:
    return {
        name: str(threads)
        for name in ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    }


# --------------------------------------------------------------------------- Snakemake


def snakemake_workdir(
    workdir: Path, data: Path, mode: str, planets: list[int], label: str | None = None
) -> tuple[Path, list[str]]:
    """A fresh Snakemake working directory with its config.yaml, and the targets (products + stacks;
    none, i.e. the default target, for a science run)."""
    root = workdir / f"snakemake-{label or mode}"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    science = label is not None and "-science" in label
    config.update(data_dir=str(data), splits=["train"], planets=list(planets) if science else None, mode=mode)
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    if science:
        return root, []
    targets = [f"results/train/{pid}/0/{name}/calibrated.npy" for pid in planets for name in INSTRUMENTS]
    targets += ["results/train/observations.csv"] + [f"results/train/{name}.npy" for name in INSTRUMENTS]
    return root, targets


SNAKEFILE = REPO / "Snakefile"


def snakemake_cmd(root: Path, cores: int, targets: list[str], *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(root),
        "--cores",
        str(cores),
        *targets,
        *extra,
    ]  # options after the targets: --set-threads takes a list


def no_slurm_env() -> dict:
    """The environment of a local run that skips the SLURM executor plugin's start-up probe: it
    runs ``scontrol show config`` when Snakemake imports it, which retries for ~9-10 s where a
    SLURM client is installed but no controller answers (a stale slurm.conf, or DNS that never
    answers the configless SRV lookup); an empty SLURM_CONF makes scontrol fail at once."""
    return {**os.environ, "SLURM_CONF": "/dev/null"}


def snakemake_startup(workdir: Path, data: Path, planets: list[int], cores: int, repeats: int = 2) -> dict:
    root, targets = snakemake_workdir(workdir, data, "staged", planets)
    result = {}
    for key, env in (("wall", None), ("no_scontrol", no_slurm_env())):
        walls = []
        for _ in range(repeats):
            done = run_child(snakemake_cmd(root, cores, targets, "-n"), env=env)
            if done["returncode"]:
                raise SystemExit(f"snakemake -n failed:\n{done['stderr'][-4000:]}")
            walls.append(done["wall"])
        result[key] = median(walls)
        result[f"{key}_runs"] = walls
    return result


def job_order(root: Path) -> dict:
    """From Snakemake's log: observations whose first stage started before the first product job."""
    logs = sorted((root / ".snakemake" / "log").glob("*.snakemake.log"))
    if not logs:
        return {}
    started_first_stage, observations = set(), set()
    first_product = None
    for line in logs[-1].read_text().splitlines():
        if not line.startswith("Job ") or "planet=" not in line:
            continue
        fields = dict(item.split("=", 1) for item in line.rsplit(" ", 1)[-1].split(",") if "=" in item)
        key = (fields.get("planet"), fields.get("instrument"))
        observations.add(key)
        if line.split(": ", 1)[1].startswith(("Product", "Fused")) and first_product is None:
            first_product = len(started_first_stage)
        if line.split(": ", 1)[1].startswith("ADC inversion"):
            started_first_stage.add(key)
    return {"before_first_product": first_product, "observations": len(observations)}


def snakemake_run(
    workdir: Path, data: Path, mode: str, planets: list[int], cores: int, extra: tuple = (), label: str | None = None
) -> dict:
    root, targets = snakemake_workdir(workdir, data, mode, planets, label)
    hook = install_rss_hook(workdir / "rss-hook")
    rss_log = root / "rss.jsonl"
    # As `make run`: local runs skip the SLURM plugin's start-up probe.
    env = {
        **no_slurm_env(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])),
        "ARIELCAL_BENCH_RSS_LOG": str(rss_log),
    }
    (root / "results").mkdir()
    poller = DiskPoller(root / "results")
    poller.start()
    done = run_child(snakemake_cmd(root, cores, targets, *extra), env=env)
    poller.stop()
    if done["returncode"]:
        raise SystemExit(f"snakemake ({mode}) failed:\n{done['stderr'][-6000:]}")
    jobs = read_benchmarks(root / "benchmarks")
    exact = read_rss_log(rss_log)
    return {
        "wall": done["wall"],
        "others_cores": done["others_cores"],
        "per_planet": done["wall"] / len(planets),
        "order": job_order(root),
        "jobs": jobs,
        "exact_rss": exact,
        "disk": {
            "high_water": poller.high_water,
            "planets_at_high_water": poller.planets_at_high_water,
            "max_planet_bytes": poller.max_planet_bytes,
            "max_planets_with_stages": poller.max_planets_with_stages,
            "polls": poller.polls,
        },
    }


def job_table(run: dict, n_planets: int) -> tuple[list[list[str]], float, float]:
    """Rows per rule: jobs, median s per AIRS/FGS1 job, seconds per planet, RSS (tsv, exact)."""
    by_rule: dict[str, list[dict]] = {}
    for job in run["jobs"]:
        by_rule.setdefault(job["rule"], []).append(job)
    exact_by_rule: dict[str, float] = {}
    for record in run["exact_rss"]:
        if record.get("rule"):
            exact_by_rule[record["rule"]] = max(exact_by_rule.get(record["rule"], 0.0), record["maxrss_mb"])
    rows = []
    max_tsv = max_exact = 0.0
    for rule, jobs in by_rule.items():
        per_inst = {name: median([j["s"] for j in jobs if j["instrument"] == name]) for name in INSTRUMENTS}
        total = sum(j["s"] or 0 for j in jobs) / n_planets
        tsv = [j["max_rss"] for j in jobs if j["max_rss"] is not None]
        tsv_max = max(tsv) if tsv else None
        exact = exact_by_rule.get(rule)
        max_tsv = max(max_tsv, tsv_max or 0)
        max_exact = max(max_exact, exact or 0)
        na = len(jobs) - len(tsv)
        rows.append(
            [
                rule,
                str(len(jobs)),
                _fmt(per_inst["AIRS-CH0"]),
                _fmt(per_inst["FGS1"]),
                _fmt(total),
                (f"{tsv_max:.0f}" if tsv_max is not None else "NA") + (f" ({na} NA)" if na and tsv else ""),
                f"{exact:.0f}" if exact else "n/a",
            ]
        )
    order = ["adc", "mask", "linearity", "dark", "cds", "bin", "flat", "product", "fused", "stack"]
    rows.sort(key=lambda r: order.index(r[0]) if r[0] in order else len(order))
    return rows, max_tsv, max_exact


# --------------------------------------------------------------------------- parity


def parity(save_dir: Path) -> dict:
    """Fused (linearity on) vs the float64 notebook on pixels neither side excludes."""
    from arielcal.dq import DQ

    out = {}
    for name in INSTRUMENTS:
        try:
            ours = np.load(save_dir / f"fused_{name}.npy")
            dq = np.load(save_dir / f"fused_{name}.dq.npy")
            ref = np.load(save_dir / f"notebook_{name}.npy")
        except FileNotFoundError:
            return {}
        good = np.broadcast_to((dq & (DQ.DEAD | DQ.HOT | DQ.DO_NOT_USE)) == 0, ours.shape)
        scale = np.abs(ref[good]).max()
        out[name] = float(np.abs(ours[good] - ref[good]).max() / scale)
    return out


# --------------------------------------------------------------------------- report


def _fmt(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render(r: dict) -> tuple[str, list[tuple[str, bool]]]:
    floor = r["read_floor"]
    nb = r.get("notebook", {})
    n = r["n_planets"]
    rows = []

    def row(label, seconds, rss, others, linearity=None, note="", projected=None):
        vs_floor = f"{seconds / floor:.1f}×" if seconds else "–"
        ref = nb.get(linearity) if linearity is not None else None
        ratio = ref["seconds"] / seconds if ref and seconds else None
        speedup = "–" if ratio is None else (f"{ratio:.1f}×" if ratio < 10 else f"{ratio:.0f}×")
        projected = seconds * FULL_PLANETS if projected is None else projected
        rows.append(
            [
                label,
                _fmt(seconds),
                vs_floor,
                speedup,
                f"{rss:.0f}" if rss else "–",
                _duration(projected) if seconds else "–",
                f"{others:.1f}",
                note,
            ]
        )

    row(
        "read floor: both signal parquets → numpy (AIRS cols 39:321)",
        floor,
        r["read_floor_rss"],
        r["read_floor_others"],
        note=f"AIRS {r['read_floor_split']['AIRS-CH0']:.2f} s + FGS1 {r['read_floor_split']['FGS1']:.2f} s; runs "
        + ", ".join(f"{t:.2f}" for t in r["read_floor_runs"]),
    )
    for lin in ("off", "on"):
        if lin in nb:
            x = nb[lin]
            row(
                f"notebook (float64 reference, pandas I/O), linearity {lin}",
                x["seconds"],
                x["rss"],
                x["others"],
                lin,
                note=f"wall {x['wall']:.1f} s, CPU {x['cpu']:.1f} s; AIRS {x['AIRS-CH0']:.1f} s + FGS1 {x['FGS1']:.1f} s (wall)",
            )
    for lin in ("off", "on"):
        d = r["direct"][lin]
        row(
            f"fused, direct call fused.calibrate (threads=2), linearity {lin}",
            d["seconds"],
            d["rss"],
            d["others"],
            lin,
            note=f"reading {d['read']:.2f} s, calibrate {d['calibrate']:.2f} s, CPU {d['cpu']:.2f} s; runs "
            + ", ".join(f"{t:.2f}" for t in d["runs"]),
        )
    # The Snakemake runs are local, with SLURM_CONF=/dev/null as `make run`.
    startup = r["startup"]["no_scontrol"]
    for key, label in SNAKEMAKE_RUNS + SCIENCE_RUNS:
        s = r["snakemake"].get(key)
        if s:
            # Start-up is paid once per run: projected = start-up + (wall - start-up) / N per planet.
            projected = startup + max(0.0, s["wall"] - startup) / n * FULL_PLANETS
            row(
                f"{label}, Snakemake --cores {r['cores']} (wall / {n} planets), linearity on",
                s["per_planet"],
                s["max_job_rss"],
                s["others_cores"],
                "on",
                projected=projected,
                note=f"total wall {s['wall']:.1f} s; sum of job times {s['job_seconds']:.1f} s/planet; "
                f"{(s['wall'] - startup) / n:.2f} s/planet without start-up",
            )
    header = [
        "measurement",
        "s / planet",
        "× read floor",
        "notebook ÷ this",
        "peak RSS MB",
        f"{FULL_PLANETS} planets",
        "others' load (cores)",
        "notes",
    ]
    out = [_table(header, rows), ""]
    d = r["direct"]["on"]
    if "first_calibrate" in d:
        out.append(
            f"numba (counted in every fused job, excluded from the direct rows above, which are best of warm runs): "
            f"importing the pipeline with numba {d['import_s']:.2f} s; the first calibration of a fresh process, which "
            f"loads the kernel from numba's cache, {d['first_calibrate']:.2f} s for both instruments (warm: "
            f"{d['calibrate']:.2f} s); with an empty cache (the first run after installing) it compiles: "
            f"{r['numba_compile_calibrate']:.2f} s."
        )
        out.append("")
    su = r["startup"]
    out.append(
        f"Snakemake start-up (`snakemake -n`, same config and targets, {n} planets), local as `make run` "
        f"(`SLURM_CONF=/dev/null`, which makes the SLURM executor plugin's `scontrol show config` probe at import "
        f"fail at once): **{su['no_scontrol']:.2f} s** (runs: {', '.join(f'{w:.2f}' for w in su['no_scontrol_runs'])}), "
        f"included once in each Snakemake total wall above. Without it: {su['wall']:.2f} s"
        + (
            f", i.e. the probe costs {su['wall'] - su['no_scontrol']:.1f} s on this machine"
            if su["wall"] - su["no_scontrol"] > 0.5
            else ": no measurable probe cost on this machine now"
        )
        + " (it is ~10 s where a SLURM client is installed and no controller answers)."
    )
    out.append("")
    for key, label in SNAKEMAKE_RUNS + SCIENCE_RUNS:
        s = r["snakemake"].get(key)
        if not s:
            continue
        out.append(
            f"**{label}, per job** (median s per job; s per planet = sum over its jobs / {n}; "
            "RSS: Snakemake benchmark `max_rss` sampled every 0.5 s, and exact `ru_maxrss` of the job's process)"
        )
        out.append("")
        out.append(
            _table(["rule", "jobs", "AIRS s", "FGS1 s", "s / planet", "max_rss tsv MB", "ru_maxrss MB"], s["job_rows"])
        )
        out.append("")
        if s.get("scheduler_rss"):
            out.append(f"Snakemake scheduler process peak RSS: {s['scheduler_rss']:.0f} MB.")
            out.append("")
    st = r["snakemake"].get("staged")
    if st:
        d = st["disk"]
        in_flight = max(1, d["planets_at_high_water"])
        out.append(
            f"Staged disk high-water (allocated size of results/, polled {d['polls']} times): "
            f"**{d['high_water'] / 1e9:.2f} GB** total; high-water / cores = **{d['high_water'] / 1e9 / r['cores']:.2f} GB**; "
            f"{d['planets_at_high_water']} planets had intermediates at that moment (at most {d['max_planets_with_stages']} "
            f"at once), i.e. {d['high_water'] / 1e9 / in_flight:.2f} GB per planet actually in flight; largest single-planet "
            f"footprint seen {d['max_planet_bytes'] / 1e9:.2f} GB (both instruments)."
        )
        order = st.get("order") or {}
        if order.get("before_first_product") is not None:
            out.append("")
            out.append(
                f"Job order: {order['before_first_product']} of {order['observations']} observations had started their "
                "first stage (adc) before the first product job started. "
                + (
                    "Snakemake schedules the staged DAG breadth-first, so the planets in flight, and the disk high-water, "
                    "grow with the number of planets rather than with the cores."
                    if order["before_first_product"] > r["cores"]
                    else ""
                )
            )
        out.append("")
    if r.get("parity"):
        out.append(
            "Parity of the measured fused output with the notebook (linearity on, pixels neither excludes): max |Δ| / max |notebook| = "
            + ", ".join(f"{k} {v:.1e}" for k, v in r["parity"].items())
            + "."
        )
        out.append("")

    checks = []
    fused_on = r["direct"]["on"]["seconds"]
    checks.append(
        (
            "fused per planet (direct, linearity on) ≤ 2× read floor",
            fused_on / floor,
            f"{fused_on / floor:.2f}×",
            fused_on / floor <= TARGETS["fused_vs_read_floor"],
        )
    )
    for lin, key in (("on", "speedup_on"), ("off", "speedup_off")):
        if lin in nb:
            sp = nb[lin]["seconds"] / r["direct"][lin]["seconds"]
            checks.append(
                (
                    f"fused ≥ {TARGETS[key]:.0f}× faster than the notebook, linearity {lin}",
                    sp,
                    f"{sp:.1f}×",
                    sp >= TARGETS[key],
                )
            )
    fused_jobs = [r["snakemake"][k]["max_job_rss"] for k in ("fused", "fused-2threads") if k in r["snakemake"]]
    if fused_jobs:
        fused_rss = max(fused_jobs)
        direct_rss = max(r["direct"]["on"]["rss"], r["direct"]["off"]["rss"])
        checks.append(
            (
                f"fused peak RSS ≤ 1 GB per job (Snakemake fused jobs; the direct call, both instruments in one "
                f"process, peaks at {direct_rss:.0f} MB)",
                fused_rss,
                f"{fused_rss:.0f} MB",
                fused_rss <= TARGETS["fused_rss_mb"],
            )
        )
    sf, ss = r["snakemake"].get("fused"), st
    if sf:
        ratio = sf["per_planet"] / r["direct"]["on"]["seconds"]
        checks.append(
            (
                f"fused calibration through Snakemake ≤ {TARGETS['fused_snakemake_vs_direct']}× the direct call "
                f"(wall / {n} planets, start-up included)",
                ratio,
                f"{ratio:.2f}×",
                ratio <= TARGETS["fused_snakemake_vs_direct"],
            )
        )
    for key, target in (
        ("fused-science", "fused_science_vs_read_floor"),
        ("staged-science", "default_science_vs_read_floor"),
    ):
        run, half = r["snakemake"].get(key), r["snakemake"].get(f"{key}-half")
        if run and half:
            marginal = (run["wall"] - half["wall"]) / (n - half["planets"])
            ratio = marginal / floor
            checks.append(
                (
                    f"{dict(SCIENCE_RUNS)[key]} ≤ {TARGETS[target]:.0f}× read floor per planet (marginal: wall of "
                    f"{n} planets − wall of {half['planets']}, {marginal:.2f} s per planet; wall / {n} planets "
                    f"{run['per_planet'] / floor:.2f}×, wall / {half['planets']} "
                    f"{half['wall'] / half['planets'] / floor:.2f}×)",
                    ratio,
                    f"{ratio:.2f}×",
                    ratio <= TARGETS[target],
                )
            )
    if sf and ss:
        ratio = ss["per_planet"] / sf["per_planet"]
        # For information: start-up excluded (the ratio of a long run) and summed job times.
        startup = r["startup"]["no_scontrol"]
        long_run = (ss["wall"] - startup) / max(1e-9, sf["wall"] - startup)
        job_sums = ss["job_seconds"] / sf["job_seconds"]
        checks.append(
            (
                f"staged ≤ 3× fused per planet (both through Snakemake, wall / {n} planets; without the start-up "
                f"{long_run:.2f}×, summed job times {job_sums:.2f}×)",
                ratio,
                f"{ratio:.2f}×",
                ratio <= TARGETS["staged_vs_fused"],
            )
        )
        checks.append(
            (
                "staged peak RSS ≤ 1.5 GB per job",
                ss["max_job_rss"],
                f"{ss['max_job_rss']:.0f} MB",
                ss["max_job_rss"] <= TARGETS["staged_rss_mb"],
            )
        )
        per = ss["disk"]["high_water"] / 1e9 / r["cores"]
        checks.append(
            (
                "staged disk high-water ≤ 3 GB per planet in flight (high-water / cores)",
                per,
                f"{per:.2f} GB",
                per <= TARGETS["disk_per_planet_gb"],
            )
        )
    out.append(
        _table(
            ["target", "measured", "result"], [[name, text, "PASS" if ok else "FAIL"] for name, _, text, ok in checks]
        )
    )
    out.append("")
    if r.get("profile"):
        p = r["profile"]
        out.append(
            f"**Profile of the direct fused call** (cProfile, one planet, linearity on, pipeline threads=1 (cProfile sees one thread), polars reading with the run's threads; total {p['total']:.2f} s; "
            "cumulative seconds per stage function, both instruments):"
        )
        out.append("")
        stages = sorted(p["stages"].items(), key=lambda kv: -kv[1])
        out.append(
            _table(["function", "s", "share"], [[k, f"{v:.2f}", f"{100 * v / p['total']:.0f} %"] for k, v in stages])
        )
        out.append("")
        out.append("Top functions by own time:")
        out.append("")
        out.append(
            _table(
                ["function", "calls", "own s", "cum s"],
                [
                    [t["function"].replace("|", "/"), str(t["ncalls"]), f"{t['tottime']:.2f}", f"{t['cumtime']:.2f}"]
                    for t in p["top_tottime"][:10]
                ],
            )
        )
        out.append("")
    return "\n".join(out), [(name, ok) for name, _, _, ok in checks]


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    global SNAKEFILE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--planets", type=int, default=None, help="planets to simulate and run (default 4; 2 with --quick)"
    )
    parser.add_argument(
        "--workdir", default=None, help="default /tmp/arielcal-bench (/tmp/arielcal-bench-quick with --quick)"
    )
    parser.add_argument(
        "--skip-notebook", action="store_true", help="skip the slow notebook reference (no speed-up targets)"
    )
    parser.add_argument("--quick", action="store_true", help="reduced-size smoke run: 1200 AIRS / 14400 FGS1 frames")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed repeats of the read floor and direct calls (median)"
    )
    parser.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument(
        "--profile", action="store_true", help="profile the direct fused call even if it meets its target"
    )
    parser.add_argument(
        "--science", action="store_true", help="also run the default target (science layer, QC) in both modes"
    )
    parser.add_argument("--render-only", action="store_true", help="re-render WORKDIR/results.json of an earlier run")
    parser.add_argument("--snakefile", default=str(SNAKEFILE), help="workflow to run (e.g. a patched copy)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=300,
        help="before each measurement, wait up to this many s for other processes to use < 0.3 cores",
    )
    parser.add_argument(
        "--output", default=None, help="markdown file (default bench/results/latest.md; WORKDIR/quick.md with --quick)"
    )
    args = parser.parse_args(argv)
    SNAKEFILE = Path(args.snakefile).resolve()
    size_name = "quick" if args.quick else "full"
    n = args.planets or (2 if args.quick else 4)
    workdir = Path(args.workdir or ("/tmp/arielcal-bench-quick" if args.quick else "/tmp/arielcal-bench")).resolve()
    output = Path(args.output or (workdir / "quick.md" if args.quick else REPO / "bench" / "results" / "latest.md"))
    if args.render_only:
        return write_report(json.loads((workdir / "results.json").read_text()), output)
    workdir.mkdir(parents=True, exist_ok=True)
    info = machine()
    load_start = os.getloadavg()
    started = time.perf_counter()
    data = workdir / "data"
    planets = ensure_data(data, n, SIZES[size_name])
    first = planets[0]
    save_dir = workdir / "parity"
    save_dir.mkdir(exist_ok=True)
    r: dict = {"n_planets": n, "cores": args.cores, "snakemake": {}}

    def quiet():
        wait_quiet(args.quiet_wait, log=log)

    log("read floor")
    quiet()
    floor = python_task(
        "read_floor", {"data_dir": str(data), "planet": first, "repeats": args.repeats}, thread_env(args.cores)
    )
    best = min(floor["runs"], key=lambda run: run["total"])
    r["read_floor"] = best["total"]
    r["read_floor_runs"] = [run["total"] for run in floor["runs"]]
    r["read_floor_split"] = {name: best[name] for name in INSTRUMENTS}
    r["read_floor_rss"] = floor["maxrss_mb"]
    r["read_floor_others"] = floor["others_cores"]
    log(f"  {r['read_floor']:.2f} s, {floor['maxrss_mb']:.0f} MB")

    r["direct"] = {}
    for lin in ("off", "on"):
        log(f"fused direct call, linearity {lin}")
        quiet()
        res = python_task(
            "fused_direct",
            {
                "data_dir": str(data),
                "planet": first,
                "repeats": args.repeats,
                "threads": args.cores,
                "linearity": lin == "on",
                "save_dir": str(save_dir) if lin == "on" else None,
            },
            thread_env(args.cores),
        )
        totals = [run["total"] for run in res["runs"]]
        best = min(res["runs"], key=lambda run: run["total"])
        r["direct"][lin] = {
            "seconds": best["total"],
            "runs": totals,
            "read": sum(best[i]["read_signal"] + best[i]["read_other"] for i in INSTRUMENTS),
            "calibrate": sum(best[i]["calibrate"] for i in INSTRUMENTS),
            "cpu": best["cpu"],
            "rss": res["maxrss_mb"],
            "others": res["others_cores"],
            "first_calibrate": sum(res["first"][i]["calibrate"] for i in INSTRUMENTS),
            "import_s": res["import_s"],
        }
        log(
            f"  {r['direct'][lin]['seconds']:.2f} s (runs {', '.join(f'{t:.2f}' for t in totals)}), {res['maxrss_mb']:.0f} MB"
        )

    log("fused direct call with an empty numba cache (compile time)")
    quiet()
    with tempfile.TemporaryDirectory() as cache:
        res = python_task(
            "fused_direct",
            {"data_dir": str(data), "planet": first, "repeats": 0, "threads": args.cores, "linearity": True},
            {**thread_env(args.cores), "NUMBA_CACHE_DIR": cache},
        )
    r["numba_compile_calibrate"] = sum(res["first"][i]["calibrate"] for i in INSTRUMENTS)
    log(f"  calibrate {r['numba_compile_calibrate']:.2f} s on the first call (compile)")

    if not args.skip_notebook:
        r["notebook"] = {}
        for lin in ("off", "on"):
            log(f"notebook, linearity {lin} (slow)")
            quiet()
            res = python_task(
                "notebook",
                {
                    "data_dir": str(data),
                    "planet": first,
                    "linearity": lin == "on",
                    "save_dir": str(save_dir) if lin == "on" else None,
                },
                thread_env(1),
            )
            run = res["runs"][0]
            # One run, single-threaded: min(wall, CPU time) discounts time lost to other processes.
            r["notebook"][lin] = {
                "seconds": min(run["total"], run["cpu"]),
                "wall": run["total"],
                "cpu": run["cpu"],
                "rss": res["maxrss_mb"],
                "others": res["others_cores"],
                **{name: run[name]["total"] for name in INSTRUMENTS},
            }
            log(f"  wall {run['total']:.1f} s, CPU {run['cpu']:.1f} s, {res['maxrss_mb']:.0f} MB")
        r["parity"] = parity(save_dir)

    log("snakemake -n (start-up)")
    quiet()
    r["startup"] = snakemake_startup(workdir, data, planets, args.cores)
    log(f"  {r['startup']['wall']:.2f} s ({r['startup']['no_scontrol']:.2f} s without the scontrol stall)")
    if args.science and n >= 2:
        for key, label in SCIENCE_RUNS:
            half = planets[: n // 2]
            log(f"snakemake {label}, {len(half)} planets, --cores {args.cores}")
            quiet()
            run = snakemake_run(workdir, data, key.split("-")[0], half, args.cores, label=f"{key}-half")
            r["snakemake"][f"{key}-half"] = {"wall": run["wall"], "planets": len(half)}
            log(f"  wall {run['wall']:.1f} s")
    for key, label in SNAKEMAKE_RUNS + (SCIENCE_RUNS if args.science else ()):
        log(f"snakemake {label}, {n} planets, --cores {args.cores}")
        quiet()
        mode = key.split("-")[0]
        extra = ("--set-threads", "fused=2") if key == "fused-2threads" else ()
        run = snakemake_run(workdir, data, mode, planets, args.cores, extra=extra, label=key)
        rows, max_tsv, max_exact = job_table(run, n)
        run["job_rows"] = rows
        run["max_job_rss"] = max(max_tsv, max_exact)
        run["job_seconds"] = sum(j["s"] or 0 for j in run["jobs"]) / n
        sched = [
            rec["maxrss_mb"]
            for rec in run["exact_rss"]
            if not rec.get("rule") and any("snakemake" in a for a in rec["argv"])
        ]
        run["scheduler_rss"] = max(sched) if sched else None
        del run["jobs"], run["exact_rss"]
        r["snakemake"][key] = run
        log(f"  wall {run['wall']:.1f} s = {run['per_planet']:.2f} s/planet, peak job RSS {run['max_job_rss']:.0f} MB")

    _, checks = render(r)
    fused_ok = all(ok for name, ok in checks if name.startswith("fused"))
    if args.profile or not fused_ok:
        log("profiling the direct fused call (cProfile, threads=1)")
        quiet()
        r["profile"] = python_task(
            "profile_fused", {"data_dir": str(data), "planet": first, "linearity": True}, thread_env(args.cores)
        )

    r["meta"] = {
        "machine": info,
        "load_start": load_start[0],
        "load_end": os.getloadavg()[0],
        "stamp": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "size": size_name,
        "repeats": args.repeats,
        "quiet_wait": args.quiet_wait,
        "skip_notebook": args.skip_notebook,
        "science": args.science,
        "snakefile": str(SNAKEFILE),
        "minutes": (time.perf_counter() - started) / 60,
    }
    (workdir / "results.json").write_text(json.dumps(r, indent=2, default=str))
    return write_report(r, output)


def header(r: dict) -> str:
    m, n = r["meta"], r["n_planets"]
    size_text = (
        f"{n} simulated full-size planets (AIRS 11250 × 32 × 356, FGS1 135000 × 32 × 32 raw frames, 2024 layout)"
        if m["size"] == "full"
        else f"{n} reduced-size planets ({SIZES['quick']}) — smoke run, not a measurement"
    )
    snakefile = "" if Path(m["snakefile"]) == REPO / "Snakefile" else f" --snakefile {m['snakefile']}"
    head = [
        f"# arielcal throughput benchmark — {m['stamp']}",
        "",
        f"- Machine: {machine_line(m['machine'])}.",
        f"- Load average (1 min) at start {m['load_start']:.2f}, at end {m['load_end']:.2f} (the machine is shared; "
        "other sessions' jobs compete for the same 2 cores).",
        f"- Data: {size_text}; warm page cache. Read floor and direct calls: best of {m['repeats']} after a warm-up, in a "
        "fresh child process each (peak RSS = child `ru_maxrss`). Notebook: one planet, one run each, time = min(wall, CPU "
        "time) (it is single-threaded, so this discounts time lost to other processes). Before each measurement the "
        f"benchmark waits up to {m['quiet_wait']:.0f} s for other processes to use < 0.3 cores; the column "
        '"others\' load" is the cores other processes used during the measurement (machine busy time minus ours).',
        f"- Command: `.venv/bin/python bench/run.py{' --quick' if m['size'] == 'quick' else ''} --planets {n}"
        f"{' --skip-notebook' if m['skip_notebook'] else ''}{' --science' if m.get('science') else ''}{snakefile}`; benchmark wall time {m['minutes']:.1f} min.",
        f"- {FULL_PLANETS}-planet column: on this machine, s / planet × {FULL_PLANETS}; for Snakemake rows, start-up once "
        f"+ (wall − start-up) / {n} per planet (per-job start-up included; DAG size effects of {FULL_PLANETS} planets not "
        "measured). The notebook single-process, as written.",
        "",
        "",
    ]
    return "\n".join(head)


def write_report(r: dict, output: Path) -> int:
    body, checks = render(r)
    text = header(r) + body + "\n"
    print(text)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    log(f"wrote {output}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
