"""Writing a dataset: every file of a planet (large ones in worker processes) and the top-level tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import formats, layout
from ..errors import InputError
from ..instruments import AIRS, FGS1, INSTRUMENTS
from .config import CONFIG_SOURCE, SimulationConfig, _rng
from .detector import ADC_MAX
from .frames import observation_model, simulate_frames
from .sky import (
    ADC_2025,
    N_LABELS,
    STAR_INFO_COLUMNS,
    _n_visits,
    airs_wavelengths,
    label_wavelengths,
    planet,
    planets,
)
from .transit import frame_times_s
from .truth import (
    observation_truth,
    observation_truth_file,
    observation_truth_wanted,
    planet_truth_columns,
    planet_truth_wanted,
)

# Observations this large (raw values) run in worker processes: starting one costs ~1 s, and
# threads are slower than one after the other here (measured: 14 s against 10 s).
PARALLEL_MIN_VALUES = 30_000_000
# Keep freed temporaries in the heap: concurrent processes that map and unmap them on every
# numpy operation run 3x slower on the 2-vCPU VM (page-fault contention, measured).
WORKER_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 28), "MALLOC_TRIM_THRESHOLD_": str(1 << 28)}

SAMPLE_SUBMISSION_VALUE = 0.456
WAVELENGTHS_FILE = "wavelengths.csv"
SAMPLE_SUBMISSION_FILE = "sample_submission.csv"
TRUTH_FILE = "simulation_truth.csv"


def planet_files(cfg: SimulationConfig, split: str, planet_id: int) -> list[str]:
    """Paths, relative to the dataset root, of every file :func:`write_planet` writes."""
    paths = []
    for visit in range(_n_visits(cfg, split, planet_id)):
        for name in INSTRUMENTS:
            paths.append(layout.signal_file("", cfg.edition, split, planet_id, visit, name))
            paths.extend(
                layout.calibration_file("", cfg.edition, split, planet_id, visit, name, kind)
                for kind in formats.CALIBRATION_MAPS
            )
            if observation_truth_wanted(cfg):
                paths.append(observation_truth_file("", cfg.edition, split, planet_id, visit, name))
    return [str(path) for path in paths]


def _star_info_file(split: str) -> str:
    return f"{split}_star_info.csv"


def table_files(cfg: SimulationConfig) -> list[str]:
    """Paths, relative to the dataset root, of every top-level file :func:`write_tables` writes."""
    adc = dict.fromkeys(str(layout.adc_info_file("", cfg.edition, split)) for split in layout.SPLITS)
    names = [
        *adc,
        str(layout.axis_info_file("")),
        str(layout.labels_file("", cfg.edition)),
        WAVELENGTHS_FILE,
        SAMPLE_SUBMISSION_FILE,
    ]
    if cfg.edition == 2025:
        names += [_star_info_file(split) for split in layout.SPLITS]
    return names + [TRUTH_FILE]


def write_observation(cfg: SimulationConfig, out_dir, split: str, planet_id: int, visit: int, instrument: str) -> int:
    """Signal and calibration maps of one visit of one instrument; returns the clipped-value count."""
    if visit >= _n_visits(cfg, split, planet_id):
        raise InputError(
            CONFIG_SOURCE, f"a visit below {_n_visits(cfg, split, planet_id)} for planet {planet_id}", f"visit {visit}"
        )
    inst = INSTRUMENTS[instrument]
    model = observation_model(cfg, planet(cfg, planet_id), visit, inst)
    rng = _rng(cfg, "noise", planet_id, visit, instrument)
    cube, clipped = simulate_frames(model, rng, noise=cfg.noise, nonlinearity=cfg.nonlinearity)
    if clipped and not cfg.saturation:
        warnings.warn(
            f"{split}/{planet_id} visit {visit} {instrument}: {clipped} raw values clipped to 0 or {ADC_MAX}",
            stacklevel=2,
        )
    if observation_truth_wanted(cfg):
        truth = {"split": split, "planet_id": int(planet_id), "visit": visit, **observation_truth(cfg, model, cube)}
        path = observation_truth_file(out_dir, cfg.edition, split, planet_id, visit, instrument)
        formats.save_json(path, truth)
    formats.write_signal(layout.signal_file(out_dir, cfg.edition, split, planet_id, visit, instrument), cube)
    del cube
    for kind in formats.CALIBRATION_MAPS:
        path = layout.calibration_file(out_dir, cfg.edition, split, planet_id, visit, instrument, kind)
        formats.write_calibration(path, model.maps[kind])
    return clipped


def write_planet(cfg: SimulationConfig, out_dir, split: str, planet_id: int) -> None:
    """Every file of one planet: both instruments, all visits; large ones in parallel processes."""
    visits = range(_n_visits(cfg, split, planet_id))
    jobs = [(visit, name) for visit in visits for name in INSTRUMENTS]
    workers = min(len(jobs), len(os.sched_getaffinity(0)))
    largest = max(cfg.frames(name) * INSTRUMENTS[name].pixels for name in INSTRUMENTS)
    if workers < 2 or largest < PARALLEL_MIN_VALUES:
        for visit, name in jobs:
            write_observation(cfg, out_dir, split, planet_id, visit, name)
        return
    # Fresh interpreters rather than multiprocessing: fork can deadlock polars' thread pool, and
    # spawn re-imports the caller's __main__.
    running: list[tuple[subprocess.Popen, str]] = []
    failed: list[str] = []
    for visit, name in jobs:
        if len(running) == workers:
            failed += _finished(*running.pop(0))
        if failed:
            break
        job = {
            "config": asdict(cfg),
            "out_dir": os.fspath(out_dir),
            "split": split,
            "planet_id": int(planet_id),
            "visit": visit,
            "instrument": name,
        }
        command = [
            sys.executable,
            "-c",
            "import sys; from arielcal.simulate.writer import _run_job; _run_job(sys.argv[1])",
            json.dumps(job),
        ]
        env = {**WORKER_MALLOC_ENV, **os.environ}
        running.append((subprocess.Popen(command, env=env), f"{split}/{planet_id} visit {visit} {name}"))
    for proc, label in running:
        failed += _finished(proc, label)
    if failed:
        raise RuntimeError(f"simulating {', '.join(failed)} failed in a worker process (see its stderr above)")


def _run_job(text: str) -> None:
    job = json.loads(text)
    cfg = SimulationConfig.from_mapping(job.pop("config"))
    write_observation(cfg, **job)


def _finished(proc: subprocess.Popen, label: str) -> list[str]:
    """Wait for a worker; its label if it failed."""
    return [f"{label} (exit {proc.returncode})"] if proc.wait() else []


def _hours(seconds: float) -> float | str:
    """A contact time in hours; a grazing transit's missing t2, t3 as "NaN", which csv readers
    (polars, pandas) parse as a float where a lone "nan" would be text."""
    return "NaN" if np.isnan(seconds) else float(seconds / 3600.0)


def _label_columns(depths_by_planet: list[np.ndarray]) -> dict[str, list[float]]:
    return {f"wl_{j + 1}": [float(d[j]) for d in depths_by_planet] for j in range(N_LABELS)}


def write_tables(cfg: SimulationConfig, out_dir) -> None:
    """ADC info, axis_info, labels, wavelengths, sample submission, 2025 star info and the truth."""
    plan = [(split, pid) for split, pid, _ in planets(cfg)]
    bodies = {pid: planet(cfg, pid) for _, pid in plan}
    by_split = {split: [pid for s, pid in plan if s == split] for split in layout.SPLITS}

    airs_times = frame_times_s(AIRS, cfg.airs_frames)
    formats.write_axis_info(
        layout.axis_info_file(out_dir),
        {
            "AIRS-CH0-axis0-h": airs_times / 3600.0,
            formats.AXIS_WAVELENGTH: airs_wavelengths(),
            formats.AXIS_INTEGRATION: np.tile(
                [AIRS.short_read_s, AIRS.long_read_s - AIRS.short_read_s], cfg.airs_frames // 2
            ),
            "FGS1-axis0-h": frame_times_s(FGS1, cfg.fgs1_frames) / 3600.0,
        },
    )
    if cfg.edition == 2024:
        for split, ids in by_split.items():
            columns = {"planet_id": ids}
            for name in formats.ADC_COLUMNS:
                instrument, _, quantity = name.rpartition("_adc_")
                columns[name] = [bodies[pid].adc[instrument][0 if quantity == "gain" else 1] for pid in ids]
            columns["star"] = [bodies[pid].star for pid in ids]
            formats.write_csv(layout.adc_info_file(out_dir, cfg.edition, split), columns)
    else:
        values = {
            f"{name}_adc_{quantity}": [ADC_2025[quantity]]
            for name in ("FGS1", "AIRS-CH0")
            for quantity in ("offset", "gain")
        }
        formats.write_csv(
            layout.adc_info_file(out_dir, cfg.edition, "train"), {name: values[name] for name in formats.ADC_COLUMNS}
        )
        for split, ids in by_split.items():
            # The competition's test file prints planet ids as floats (1103775.0).
            columns = {"planet_id": [float(pid) if split == "test" else pid for pid in ids]}
            columns.update({key: [bodies[pid].star_info[key] for pid in ids] for key in STAR_INFO_COLUMNS})
            formats.write_csv(Path(out_dir) / _star_info_file(split), columns)

    train = by_split["train"]
    formats.write_csv(
        layout.labels_file(out_dir, cfg.edition),
        {"planet_id": train, **_label_columns([bodies[pid].depths for pid in train])},
    )
    wavelengths = label_wavelengths(cfg.edition)
    formats.write_csv(
        Path(out_dir) / WAVELENGTHS_FILE, {f"wl_{j + 1}": [float(wavelengths[j])] for j in range(N_LABELS)}
    )
    test = by_split["test"]
    submission = {"planet_id": test}
    for prefix in ("wl", "sigma"):
        submission.update({f"{prefix}_{j + 1}": [SAMPLE_SUBMISSION_VALUE] * len(test) for j in range(N_LABELS)})
    formats.write_csv(Path(out_dir) / SAMPLE_SUBMISSION_FILE, submission)

    truth = {"split": [split for split, _ in plan], "planet_id": [pid for _, pid in plan]}
    for i in range(4):
        truth[f"t{i + 1}_h"] = [_hours(bodies[pid].contacts_s[i]) for _, pid in plan]
    truth.update(_label_columns([bodies[pid].depths for _, pid in plan]))
    if planet_truth_wanted(cfg):
        truth.update(planet_truth_columns(cfg, [bodies[pid] for _, pid in plan]))
    formats.write_csv(Path(out_dir) / TRUTH_FILE, truth)
