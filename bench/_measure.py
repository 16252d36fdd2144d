"""Measuring helpers of bench/run.py: child processes with exact peak RSS, per-job RSS of Snakemake
jobs, a disk high-water poller, Snakemake benchmark tsv files, and the machine description.

Peak RSS is measured three ways, each where it is exact:

* a direct call runs in a fresh child interpreter; its peak is ``ru_maxrss`` from ``wait4``;
* every Python process started under Snakemake (the scheduler and each job's script) loads a
  ``sitecustomize`` hook (via PYTHONPATH) that appends its own ``ru_maxrss``, rule and wildcards
  to a JSON-lines log at exit: the exact peak of each job, which Snakemake's benchmark ``max_rss``
  (sampled every 0.5 s, NA for jobs under 0.5 s) can miss;
* Snakemake's own benchmark tsv ``max_rss`` is reported as well, as asked of the workflow.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Written into a private directory that is put first on PYTHONPATH of the Snakemake run only.
RSS_HOOK = """
import atexit, json, os, resource, sys

def _arielcal_bench_rss():
    path = os.environ.get("ARIELCAL_BENCH_RSS_LOG")
    if not path:
        return
    main = sys.modules.get("__main__")
    smk = getattr(main, "snakemake", None)
    record = {
        "pid": os.getpid(),
        "argv": sys.argv[:3],
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rule": getattr(smk, "rule", None),
        "wildcards": dict(smk.wildcards.items()) if smk is not None else None,
    }
    with open(path, "a") as fh:
        fh.write(json.dumps(record) + "\\n")

atexit.register(_arielcal_bench_rss)
"""


def snakemake_command(workdir: Path, cores: int, *args: str) -> list[str]:
    """``python -m snakemake`` on this repository's Snakefile, in ``workdir``."""
    return [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--cores", str(cores), *args]  # fmt: skip


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# --------------------------------------------------------------------------- child processes


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def machine_busy(seconds: float = 1.0) -> float:
    """Cores busy over ``seconds`` (0..ncores)."""
    b0, t0 = cpu_jiffies()
    time.sleep(seconds)
    b1, t1 = cpu_jiffies()
    return (b1 - b0) / max(1, t1 - t0) * len(os.sched_getaffinity(0))


def wait_quiet(max_wait: float, threshold: float = 0.3, log=None) -> float:
    """Wait (up to ``max_wait`` s) until other processes use under ``threshold`` cores; return the last reading."""
    deadline = time.monotonic() + max_wait
    busy = machine_busy()
    while busy > threshold and time.monotonic() < deadline:
        if log:
            log(f"  machine busy ({busy:.1f} cores used by others); waiting")
        time.sleep(10)
        busy = machine_busy()
    return busy


def run_child(cmd: list[str], env: dict | None = None, cwd: Path | None = None, timeout: float = 3600) -> dict:
    """Run a command; return its wall time, exit code, stdout/stderr, the peak RSS (MB) of its
    largest process (``ru_maxrss`` of the child and its waited-for descendants), its CPU time and
    the cores other processes used meanwhile (machine busy time minus the child's CPU time)."""
    busy0, total0 = cpu_jiffies()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
    # Drain both pipes without reaping the child, then reap it with wait4 to get its rusage.
    out, err = _communicate(proc, timeout)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    busy1, total1 = cpu_jiffies()
    cpu = usage.ru_utime + usage.ru_stime
    ncores = len(os.sched_getaffinity(0))
    machine_cpu = (busy1 - busy0) / max(1, total1 - total0) * ncores * wall
    return {
        "wall": wall,
        "cpu_s": cpu,
        "others_cores": max(0.0, (machine_cpu - cpu) / wall) if wall > 0 else 0.0,
        "returncode": proc.returncode,
        "stdout": out,
        "stderr": err,
        "maxrss_mb": usage.ru_maxrss / 1024,
    }


def _communicate(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """Read stdout and stderr to EOF without reaping the process (so wait4 gets its rusage)."""
    chunks = {"out": [], "err": []}

    def drain(stream, key):
        for line in stream:
            chunks[key].append(line)

    threads = [
        threading.Thread(target=drain, args=(proc.stdout, "out"), daemon=True),
        threading.Thread(target=drain, args=(proc.stderr, "err"), daemon=True),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return "".join(chunks["out"]), "".join(chunks["err"])


def python_task(task: str, payload: dict, env_extra: dict | None = None) -> dict:
    """Run ``bench/_tasks.py task payload`` in a fresh interpreter; its last stdout line is JSON."""
    env = {**os.environ, **(env_extra or {})}
    done = run_child([sys.executable, str(REPO / "bench" / "_tasks.py"), task, json.dumps(payload)], env=env)
    if done["returncode"]:
        raise RuntimeError(f"bench task {task} failed ({done['returncode']}):\n{done['stderr'][-4000:]}")
    result = json.loads(done["stdout"].strip().splitlines()[-1])
    result["child_wall"] = done["wall"]
    result["maxrss_mb"] = done["maxrss_mb"]
    result["others_cores"] = done["others_cores"]
    return result


def install_rss_hook(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(RSS_HOOK)
    return directory


def read_rss_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------- disk high-water


class DiskPoller(threading.Thread):
    """Poll the allocated size of a directory tree (st_blocks, like du) every ``interval`` s.

    Tracks the total high-water mark, how many planets had per-stage intermediates at that
    moment, and the largest footprint of any one planet (results/{split}/{planet}/...).
    """

    def __init__(self, root: Path, interval: float = 0.2):
        super().__init__(daemon=True)
        self.root = Path(root)
        self.interval = interval
        self.stop_event = threading.Event()
        self.high_water = 0
        self.planets_at_high_water = 0
        self.max_planet_bytes = 0
        self.max_planets_with_stages = 0
        self.polls = 0

    def run(self):
        while not self.stop_event.is_set():
            self.poll()
            self.stop_event.wait(self.interval)
        self.poll()

    def poll(self):
        total = 0
        per_planet: dict[str, int] = defaultdict(int)
        staged_planets: set[str] = set()
        for dirpath, _, filenames in os.walk(self.root):
            rel = Path(dirpath).relative_to(self.root).parts
            key = "/".join(rel[:2]) if len(rel) >= 2 else None
            for name in filenames:
                try:
                    size = os.lstat(os.path.join(dirpath, name)).st_blocks * 512
                except FileNotFoundError:
                    continue
                total += size
                if key:
                    per_planet[key] += size
                    if "stages" in rel and size:
                        staged_planets.add(key)
        self.polls += 1
        if total > self.high_water:
            self.high_water = total
            self.planets_at_high_water = len(staged_planets)
        self.max_planets_with_stages = max(self.max_planets_with_stages, len(staged_planets))
        if per_planet:
            self.max_planet_bytes = max(self.max_planet_bytes, max(per_planet.values()))

    def stop(self):
        self.stop_event.set()
        self.join()


# --------------------------------------------------------------------------- Snakemake benchmarks


def read_benchmarks(bench_dir: Path) -> list[dict]:
    """Every benchmark tsv below ``bench_dir``: rule (first path part), observation, s, max_rss."""
    rows = []
    for path in sorted(Path(bench_dir).rglob("*.tsv")):
        rel = path.relative_to(bench_dir).parts
        with open(path, newline="") as fh:
            for record in csv.DictReader(fh, delimiter="\t"):
                rows.append(
                    {
                        "rule": rel[0],
                        "instrument": Path(rel[-1]).stem,
                        "planet": rel[2] if len(rel) >= 5 else None,
                        "s": _number(record.get("s")),
                        "max_rss": _number(record.get("max_rss")),
                        "cpu_time": _number(record.get("cpu_time")),
                    }
                )
    return rows


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value


# --------------------------------------------------------------------------- machine


def machine() -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gb = None
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal"):
                ram_gb = int(line.split()[1]) / 2**20
                break
    versions = {"python": platform.python_version()}
    for name in ("numpy", "polars", "pyarrow", "pandas", "snakemake"):
        try:
            from importlib import metadata

            versions[name] = metadata.version(name)
        except Exception:
            versions[name] = "n/a"
    flags = ""
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("flags"):
                flags = line
                break
    simd = "avx512f" if " avx512f" in flags else ("avx2" if " avx2" in flags else "no avx2")
    return {
        "cpu": cpu,
        "simd": simd,
        "cores": len(os.sched_getaffinity(0)),
        "ram_gb": ram_gb,
        "versions": versions,
        "openblas": {name: os.environ.get(name, "unset") for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
        "host": platform.node(),
    }


def machine_line(info: dict) -> str:
    v = info["versions"]
    ob = ", ".join(f"{k}={val}" for k, val in info["openblas"].items())
    return (
        f"{info['cpu']} ({info['simd']}), {info['cores']} cores, {info['ram_gb']:.1f} GB RAM; "
        f"python {v['python']}, numpy {v['numpy']}, polars {v['polars']}, pyarrow {v['pyarrow']}, "
        f"pandas {v['pandas']}, snakemake {v['snakemake']}; {ob}"
    )
