"""Benchmark the simulator: one full-size planet and one 200-frame planet, each in a fresh process.

    python bench/simulate.py [--repeats 3]

Reports the time of ``write_planet`` (inside the child, without interpreter start-up), the
child's wall time, the peak RSS of its largest process (``ru_maxrss`` from ``wait4``) and the
peak total RSS of its process tree (sampled from /proc every 10 ms; the full-size planet runs the
two instruments in two worker processes). Targets: full size <= 15 s and <= 2 GB, 200 frames
well under 1 s. The machine is shared: the load average is printed with each result.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

CHILD = """
import json, sys, time
from arielcal import simulate
cfg = simulate.SimulationConfig.from_mapping(json.loads(sys.argv[1]))
split, planet_id, _ = simulate.planets(cfg)[0]
start = time.perf_counter()
simulate.write_planet(cfg, sys.argv[2], split, planet_id)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""

CASES = {
    "full-size planet (11250 AIRS + 135000 FGS1 frames)": {"train_planets": 1, "test_planets": 0},
    "200-frame planet (200 AIRS + 2400 FGS1 frames)": {"train_planets": 1, "test_planets": 0, "airs_frames": 200},
}


def _tree_rss_bytes(root: int) -> int:
    """Resident memory of a process and all its descendants."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    tree = {root}
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in tree} - tree
        grew = bool(children)
        tree |= children
    return sum(rss.get(pid, 0) for pid in tree)


def run_once(settings: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="arielcal-bench-") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(settings), out], stdout=subprocess.PIPE, text=True
        )
        peak = 0
        done = threading.Event()

        def sample():
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss_bytes(proc.pid))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        output = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
        wall = time.perf_counter() - started
        if proc.returncode:
            raise SystemExit(f"benchmark child failed with exit code {proc.returncode}")
    return {
        "seconds": json.loads(output)["seconds"],
        "wall": wall,
        "max_process_mb": usage.ru_maxrss / 1024,
        "tree_mb": peak / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}, {args.repeats} runs per case (median, min-max)")
    for label, settings in CASES.items():
        runs = [run_once(settings) for _ in range(args.repeats)]
        load = os.getloadavg()[0]

        def summary(key: str, unit: str, fmt: str = ".2f", runs=runs) -> str:
            values = [run[key] for run in runs]
            return f"{statistics.median(values):{fmt}} {unit} ({min(values):{fmt}}-{max(values):{fmt}})"

        print(f"{label}:")
        print(f"  write_planet       {summary('seconds', 's')}")
        print(f"  child wall         {summary('wall', 's')} (with interpreter start-up)")
        print(f"  peak RSS, largest process  {summary('max_process_mb', 'MB', '.0f')}")
        print(f"  peak RSS, process tree     {summary('tree_mb', 'MB', '.0f')} (sampled every 10 ms)")
        print(f"  load average (1 min) after: {load:.2f}")


if __name__ == "__main__":
    main()
