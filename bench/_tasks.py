"""Child-process tasks of bench/run.py, one per fresh interpreter (so each peak RSS is its own).

    python bench/_tasks.py TASK JSON

TASK is read_floor, fused_direct, notebook or profile_fused; JSON holds the data directory, the
planet id and task options. The last stdout line is a JSON result. Thread limits are set in the
environment by the parent before numpy/polars load.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AIRS_COLUMNS = (39, 321)
BINNING = {"AIRS-CH0": 30, "FGS1": 360}
SECOND_READ_EXTRA_S = 0.1
INSTRUMENT_NAMES = ("AIRS-CH0", "FGS1")


def _columns(name: str, instrument) -> list[int]:
    return list(AIRS_COLUMNS) if name == "AIRS-CH0" else [0, instrument.cols]


# --------------------------------------------------------------------------- read floor


def read_floor(args: dict) -> dict:
    """Both signal parquets of one planet into pixel-major numpy, nothing else."""
    from arielcal import formats, layout
    from arielcal.instruments import INSTRUMENTS

    data, pid = args["data_dir"], args["planet"]

    def once() -> dict:
        times = {}
        for name in INSTRUMENT_NAMES:
            inst = INSTRUMENTS[name]
            path = layout.signal_file(data, 2024, "train", pid, 0, name)
            t0 = time.perf_counter()
            raw = formats.read_signal(path, inst, _columns(name, inst) if name == "AIRS-CH0" else None)
            times[name] = time.perf_counter() - t0
            del raw
        return times

    once()  # warm-up: imports, page cache
    runs = []
    for _ in range(args["repeats"]):
        c0 = time.process_time()
        times = once()
        runs.append({**times, "total": sum(times.values()), "cpu": time.process_time() - c0})
    return {"runs": runs}


# --------------------------------------------------------------------------- fused, direct call


def _fused_planet(args: dict, settings_for, threads: int, keep: bool = False) -> tuple[dict, dict]:
    """One planet (both instruments) through fused.calibrate, reading included."""
    from arielcal import formats, fused, layout, observation
    from arielcal.instruments import INSTRUMENTS

    data, pid = args["data_dir"], args["planet"]
    times, outputs = {}, {}
    adc_path = layout.adc_info_file(data, 2024, "train")
    axis_path = layout.axis_info_file(data)
    for name in INSTRUMENT_NAMES:
        inst = INSTRUMENTS[name]
        cols = _columns(name, inst)
        t0 = time.perf_counter()
        raw = formats.read_signal(layout.signal_file(data, 2024, "train", pid, 0, name), inst, cols)
        t1 = time.perf_counter()
        gain, offset = formats.adc_constants(formats.read_adc_table(adc_path), pid, inst, adc_path)
        axis = formats.read_axis_info(axis_path)
        dt = observation.integration_times(inst, axis, raw.shape[-1], SECOND_READ_EXTRA_S, axis_path)
        maps = {
            kind: observation.crop_columns(
                formats.read_calibration(layout.calibration_file(data, 2024, "train", pid, 0, name, kind), inst, kind),
                cols,
            )
            for kind in observation.FUSED_MAPS
        }
        t2 = time.perf_counter()
        cube, dq, n_valid = fused.calibrate(raw, gain, offset, dt, maps, settings_for(name), threads=threads)
        t3 = time.perf_counter()
        times[name] = {"read_signal": t1 - t0, "read_other": t2 - t1, "calibrate": t3 - t2, "total": t3 - t0}
        if keep:
            outputs[name] = (cube, dq)
        del raw, cube, dq, n_valid
    return times, outputs


def _settings(linearity: bool):
    from arielcal import fused

    stages = frozenset(s for s in fused.SWITCHABLE if linearity or s != "linearity")
    return lambda name: fused.Settings(stages=stages, frames_per_bin=BINNING[name])


def fused_direct(args: dict) -> dict:
    import numpy as np

    t0 = time.perf_counter()
    from arielcal import fused  # noqa: F401  (numba's import is part of every fused job)

    import_s = time.perf_counter() - t0
    settings_for = _settings(args["linearity"])
    # The warm-up is the first call of a fresh process: it loads the kernel from numba's cache
    # (or compiles it, with an empty NUMBA_CACHE_DIR), as every fused job does once.
    first, _ = _fused_planet(args, settings_for, args["threads"])
    runs = []
    outputs = {}
    for i in range(args["repeats"]):
        keep = i == args["repeats"] - 1 and bool(args.get("save_dir"))
        c0 = time.process_time()
        times, outputs = _fused_planet(args, settings_for, args["threads"], keep=keep)
        runs.append({**times, "total": sum(t["total"] for t in times.values()), "cpu": time.process_time() - c0})
    if args.get("save_dir"):
        for name, (cube, dq) in outputs.items():
            # The notebook's layout (time, column, row) and (column, row) for the parity check.
            np.save(Path(args["save_dir"]) / f"fused_{name}.npy", np.ascontiguousarray(cube.transpose(2, 1, 0)))
            np.save(Path(args["save_dir"]) / f"fused_{name}.dq.npy", np.ascontiguousarray(dq.T))
    return {"runs": runs, "first": first, "import_s": import_s}


def profile_fused(args: dict) -> dict:
    """cProfile of one planet, linearity on, threads=1 (cProfile sees only the calling thread)."""
    import cProfile
    import pstats

    settings_for = _settings(args["linearity"])
    _fused_planet(args, settings_for, 1)  # warm-up
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    _fused_planet(args, settings_for, 1)
    profiler.disable()
    total = time.perf_counter() - t0
    stats = pstats.Stats(profiler)
    wanted = {
        ("formats", "read_signal"),
        ("formats", "read_calibration"),
        ("formats", "read_axis_info"),
        ("formats", "read_adc_table"),
        ("fused", "calibrate"),
        ("calib", "adc_lookup_table"),
        ("calib", "flat_divisor"),
        ("calib", "usable_dark"),
        ("calib", "adc_invert"),
        ("calib", "pixel_dq"),
        ("calib", "clean_linearity_coefficients"),
        ("calib", "apply_linearity"),
        ("calib", "subtract_dark"),
        ("calib", "cds"),
        ("calib", "bin_frames"),
        ("calib", "flat_field"),
        ("calib", "exclude_flagged"),
    }
    stages = {}
    for (filename, _, func), (_, _, _, cumtime, _) in stats.stats.items():
        path = Path(filename)
        module = path.parent.name if path.parent.name == "calib" else path.stem  # calib is a package
        if (module, func) in wanted:
            key = f"{module}.{func}"
            stages[key] = stages.get(key, 0.0) + cumtime
    top = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:15]
    return {
        "total": total,
        "stages": stages,
        "top_tottime": [
            {"function": f"{Path(f).name}:{line}({func})", "ncalls": nc, "tottime": tt, "cumtime": ct}
            for (f, line, func), (_, nc, tt, ct, _) in top
        ],
    }


# --------------------------------------------------------------------------- the notebook


def notebook(args: dict) -> dict:
    """tests/notebook_reference on one planet, both instruments, read as the 29 Aug notebook (pandas)."""
    import numpy as np
    import pandas as pd

    sys.path.insert(0, str(REPO / "tests"))
    from notebook_reference import notebook_calibrate

    from arielcal import layout
    from arielcal.instruments import INSTRUMENTS

    data, pid = args["data_dir"], args["planet"]
    times = {}
    t_start, c_start = time.perf_counter(), time.process_time()
    adc = pd.read_csv(layout.adc_info_file(data, 2024, "train"))
    axis = pd.read_parquet(layout.axis_info_file(data))
    for name in INSTRUMENT_NAMES:
        inst = INSTRUMENTS[name]
        t0, c0 = time.perf_counter(), time.process_time()
        frame = pd.read_parquet(layout.signal_file(data, 2024, "train", pid, 0, name))
        raw = frame.values.reshape(len(frame), inst.rows, inst.cols)
        del frame
        cal = {
            kind: pd.read_parquet(layout.calibration_file(data, 2024, "train", pid, 0, name, kind)).values
            for kind in ("dark", "dead", "flat", "linear_corr")
        }
        row = adc[adc.planet_id == pid]
        gain = row[f"{name}_adc_gain"].to_numpy()
        offset = row[f"{name}_adc_offset"].to_numpy()
        if name == "AIRS-CH0":
            dt = axis["AIRS-CH0-integration_time"].dropna().to_numpy().copy()
        else:
            dt = np.ones(raw.shape[0]) * 0.1
        dt[1::2] += SECOND_READ_EXTRA_S
        t1 = time.perf_counter()
        out = notebook_calibrate(
            raw,
            gain,
            offset,
            cal["dark"],
            cal["dead"],
            cal["flat"],
            cal["linear_corr"].reshape(6, inst.rows, inst.cols),
            dt,
            crop=AIRS_COLUMNS if name == "AIRS-CH0" else None,
            do_nl=args["linearity"],
            binning=BINNING[name],
        )
        t2 = time.perf_counter()
        times[name] = {"read": t1 - t0, "calibrate": t2 - t1, "total": t2 - t0, "cpu": time.process_time() - c0}
        if args.get("save_dir"):
            np.save(Path(args["save_dir"]) / f"notebook_{name}.npy", out)
        del raw, out
    return {"runs": [{**times, "total": time.perf_counter() - t_start, "cpu": time.process_time() - c_start}]}


TASKS = {"read_floor": read_floor, "fused_direct": fused_direct, "notebook": notebook, "profile_fused": profile_fused}

if __name__ == "__main__":
    result = TASKS[sys.argv[1]](json.loads(sys.argv[2]))
    print(json.dumps(result))
