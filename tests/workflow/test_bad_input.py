"""Bad input: a clear message naming the file, a non-zero exit, no product of the bad
observation, and every good observation still calibrated under --keep-going.

One run covers the per-observation defects (each planet of the dataset carries one); defects
that make the whole run meaningless (no data, an empty split, a damaged ADC table) stop it at
DAG build.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from arielcal import formats, layout, simulate
from arielcal.dq import DQ
from arielcal.instruments import AIRS, FGS1
from conftest import TINY_FRAMES, Workflow, default_config, merged

pytestmark = pytest.mark.workflow

EDITION = 2024
N_PLANETS = 14


def _dataset(root, n_planets=N_PLANETS):
    cfg = simulate.SimulationConfig.from_mapping({**TINY_FRAMES, "train_planets": n_planets, "test_planets": 0})
    ids = [planet_id for _, planet_id, _ in simulate.planets(cfg)]
    for planet_id in ids:
        simulate.write_planet(cfg, root, "train", planet_id)
    simulate.write_tables(cfg, root)
    return ids


def _signal(root, planet_id, instrument):
    return layout.signal_file(root, EDITION, "train", planet_id, 0, instrument)


def _calibration(root, planet_id, instrument, kind):
    return layout.calibration_file(root, EDITION, "train", planet_id, 0, instrument, kind)


def _edit_adc(root, planet_id, column=None, value=None, drop=False):
    path = layout.adc_info_file(root, EDITION, "train")
    table = pd.read_csv(path)
    if drop:
        table = table[table.planet_id != planet_id]
    else:
        table.loc[table.planet_id == planet_id, column] = value
    formats.write_csv(path, {name: table[name].tolist() for name in table.columns})


def _edit_map(root, planet_id, instrument, kind, edit):
    path = _calibration(root, planet_id, instrument.name, kind)
    values = formats.read_calibration(path, instrument, kind).copy()
    edit(values)
    formats.write_calibration(path, values)


def _edit_signal(root, planet_id, instrument, edit):
    path = _signal(root, planet_id, instrument.name)
    formats.write_signal(path, edit(np.array(formats.read_signal(path, instrument))))


# (planet index, instrument) -> (the stage that fails, a fragment of its message)
FAILURES = {
    (1, "AIRS-CH0"): ("reject", "AIRS-CH0_signal.parquet: expected an existing file, found no such file"),
    (2, "FGS1"): ("reject", "flat.parquet: expected an existing file, found no such file"),
    (3, "AIRS-CH0"): ("adc", "AIRS-CH0_signal.parquet: expected a readable parquet file"),
    (4, "AIRS-CH0"): ("adc", "expected 11392 columns column_0..column_11391"),
    (5, "FGS1"): ("adc", "expected a positive even number of frames (read pairs), found 1439 frames"),
    (6, "AIRS-CH0"): ("reject", "train_adc_info.csv: expected a row for planet_id"),
    (6, "FGS1"): ("reject", "train_adc_info.csv: expected a row for planet_id"),
    (7, "AIRS-CH0"): ("reject", "expected a finite non-zero AIRS-CH0_adc_gain"),
    (7, "FGS1"): ("reject", "expected a finite non-zero FGS1_adc_gain"),
    (10, "FGS1"): ("mask", "dead.parquet: expected at least one live pixel in the dead map, found every pixel flagged dead"),
    (13, "AIRS-CH0"): (
        "dark",
        "axis_info.parquet: expected 60 AIRS-CH0 integration times (one per raw frame), found 120",
    ),
}


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    root = tmp_path_factory.mktemp("broken_data")
    ids = _dataset(root)
    p = dict(enumerate(ids))
    _signal(root, p[1], "AIRS-CH0").unlink()
    _calibration(root, p[2], "FGS1", "flat").unlink()
    data = _signal(root, p[3], "AIRS-CH0").read_bytes()
    _signal(root, p[3], "AIRS-CH0").write_bytes(data[: len(data) // 3])
    formats.write_signal(_signal(root, p[4], "AIRS-CH0"), np.zeros((32, 32, 120), np.uint16))
    _edit_signal(root, p[5], FGS1, lambda raw: raw[..., :-1])
    _edit_adc(root, p[6], drop=True)
    _edit_adc(root, p[7], "AIRS-CH0_adc_gain", 0.0)
    _edit_adc(root, p[7], "FGS1_adc_gain", float("nan"))
    _edit_map(root, p[8], FGS1, "flat", lambda f: f.__setitem__((slice(0, 3), 0), [np.nan, 0.0, -0.5]))
    _edit_map(root, p[9], AIRS, "dark", lambda d: d.__setitem__((4, 100), np.nan))
    _edit_map(root, p[10], FGS1, "dead", lambda d: d.fill(True))
    _edit_map(root, p[11], AIRS, "linear_corr", lambda c: c.__setitem__((slice(None), 6, 200), np.nan))

    def saturate(raw):
        raw[5, 5, 10:20] = 65535
        return raw

    _edit_signal(root, p[12], FGS1, saturate)
    _edit_signal(root, p[13], AIRS, lambda raw: raw[..., :60])
    wf = Workflow(tmp_path_factory.mktemp("broken_run"), merged(default_config(), {"data_dir": str(root), "splits": ["train"]}))
    done = wf.run("--keep-going", check=False)
    return wf, p, done


def _obs_dir(wf, planet_id, instrument):
    return wf.path("results", "train", planet_id, 0, instrument)


def test_run_fails_but_good_observations_complete(broken):
    wf, p, done = broken
    assert done.returncode != 0
    for index, planet_id in p.items():
        for instrument in ("AIRS-CH0", "FGS1"):
            product = _obs_dir(wf, planet_id, instrument) / "calibrated.npy"
            assert product.exists() != ((index, instrument) in FAILURES), (index, instrument, done.stdout[-3000:])


@pytest.mark.parametrize("index, instrument", sorted(FAILURES))
def test_each_failure_is_named_in_output_log_and_summary(broken, index, instrument):
    wf, p, done = broken
    stage, fragment = FAILURES[index, instrument]
    assert fragment in done.stdout + done.stderr
    log = wf.path("logs", stage, "train", p[index], 0, f"{instrument}.log")
    assert fragment in log.read_text()
    assert not any(_obs_dir(wf, p[index], instrument).glob("*.npy"))
    summary = pd.read_csv(wf.path("results", "failed_observations.csv"))
    (row,) = summary[(summary.planet == p[index]) & (summary.instrument == instrument)].itertuples()
    assert row.stage == stage and fragment in row.reason


def test_non_fatal_defects_are_flagged_and_counted(broken):
    wf, p, _ = broken
    checks = [
        (8, "FGS1", (0, 0), DQ.NO_FLAT_FIELD | DQ.DO_NOT_USE),  # NaN flat; dq is (column, row)
        (8, "FGS1", (0, 2), DQ.NO_FLAT_FIELD | DQ.DO_NOT_USE),  # negative flat
        (9, "AIRS-CH0", (100 - 39, 4), DQ.UNRELIABLE_DARK | DQ.DO_NOT_USE),
        (11, "AIRS-CH0", (200 - 39, 6), DQ.NO_LIN_CORR),
        (12, "FGS1", (5, 5), DQ.SATURATED | DQ.DO_NOT_USE),  # bad_pixels.saturated: nan excludes it
    ]
    for index, instrument, pixel, flags in checks:
        obs = _obs_dir(wf, p[index], instrument)
        dq = np.load(obs / "dq.npy")
        assert dq[pixel] & flags == flags, (index, instrument, dq[pixel])
        meta = json.loads((obs / "meta.json").read_text())
        for flag in DQ(flags):
            assert meta["dq_counts"][flag.name] >= 1
        calibrated = np.load(obs / "calibrated.npy")
        if flags & DQ.DO_NOT_USE:
            assert np.isnan(calibrated[(slice(None), *pixel)]).all()
            # Never spread into neighbouring values.
            for dc, dr in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                near = (pixel[0] + dc, pixel[1] + dr)
                if min(near) >= 0 and near[1] < 32 and not dq[near] & DQ.DO_NOT_USE:
                    assert np.isfinite(calibrated[(slice(None), *near)]).all(), (index, near)
    # Ten saturated raw frames (5 pairs): the pixel is excluded, no valid frame in any bin.
    n_valid = np.load(_obs_dir(wf, p[12], "FGS1") / "nvalid.npy")
    assert n_valid[:, 5, 5].sum() == 0 and n_valid[:, 5, 4].max() > 0


def test_rerun_retries_only_the_failed_observations(broken):
    wf, p, _ = broken
    planned = wf.planned("--keep-going")
    rejected = sum(stage == "reject" for stage, _ in FAILURES.values())
    assert planned["reject_observation"] == rejected
    assert planned["product"] == len(FAILURES) - rejected


@pytest.mark.parametrize(
    "setup, fragment",
    [
        ("missing", "expected a competition data directory, found no such directory"),
        ("empty", "expected train_adc_info.csv / test_adc_info.csv (2024) or adc_info.csv (2025), found neither"),
        ("empty_split", "test: expected planet folders named by their integer id, found none"),
        ("duplicated_adc", "train_adc_info.csv: expected one row per planet_id, found duplicated planet_id"),
    ],
)
def test_dataset_level_problems(tmp_path, setup, fragment):
    root = tmp_path / "data"
    if setup == "empty":
        root.mkdir()
    elif setup != "missing":
        _dataset(root, n_planets=1)
        (root / "test").mkdir(exist_ok=True)
        if setup == "duplicated_adc":
            path = layout.adc_info_file(root, EDITION, "train")
            path.write_text(path.read_text() + path.read_text().splitlines()[1] + "\n")
    splits = ["train"] if setup == "duplicated_adc" else ["train", "test"]
    wf = Workflow(tmp_path / "run", merged(default_config(), {"data_dir": str(root), "splits": splits}))
    done = wf.run("--keep-going", check=False)
    assert done.returncode != 0
    assert fragment in done.stdout + done.stderr
    assert not list(wf.path().glob("results/**/calibrated.npy"))
