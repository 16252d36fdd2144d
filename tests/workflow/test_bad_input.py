"""Bad input: a clear message naming the file, a non-zero exit, no product of the bad
observation, and every good observation still calibrated under --keep-going.

One run covers the per-observation defects (each planet of the dataset carries one); defects
that make the whole run meaningless (no data, an empty split, a damaged ADC table) stop it at
DAG build.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_FRAMES, Workflow, default_config, merged

from arielcal import formats, layout, simulate
from arielcal.dq import DQ
from arielcal.instruments import AIRS, FGS1

pytestmark = pytest.mark.workflow

EDITION = 2024
N_PLANETS = 24


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


def _reorder_columns(path, order):
    """Rewrite a parquet with its columns stored in another order (names and values intact)."""
    import polars as pl

    frame = pl.read_parquet(path)
    frame.select(order(frame.columns)).write_parquet(path)


def _rename_column(path, old, new):
    import polars as pl

    pl.read_parquet(path).rename({old: new}).write_parquet(path)


def _null_sample(path, column, row):
    import polars as pl

    frame = pl.read_parquet(path)
    value = pl.when(pl.int_range(pl.len()) == row).then(None).otherwise(pl.col(column))
    frame.with_columns(value.alias(column)).write_parquet(path)


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
    (7, "AIRS-CH0"): ("reject", "expected a finite positive AIRS-CH0_adc_gain"),
    (7, "FGS1"): ("reject", "expected a finite positive FGS1_adc_gain"),
    (14, "AIRS-CH0"): ("reject", "expected a finite positive AIRS-CH0_adc_gain for planet {id}, found -0.9"),
    # gain and offset swapped: the offset (about -343) read as the gain
    (14, "FGS1"): ("reject", "expected a finite positive FGS1_adc_gain for planet {id}, found -3"),
    (15, "AIRS-CH0"): (
        "flat",
        "flat.parquet: expected 356 columns column_0..column_355 (AIRS-CH0 flat), "
        "found unexpected column 'colunm_7' (position 7)",
    ),
    (15, "FGS1"): (
        "mask",
        "dark.parquet: expected 32 columns column_0..column_31 (FGS1 dark), "
        "found column 'column_3 ' (position 3) with stray spaces",
    ),
    (16, "FGS1"): (
        "mask",
        "dark.parquet: expected at least one pixel with a finite value in columns 0..31 (dark map), found no usable pixel",
    ),
    (16, "AIRS-CH0"): (
        "flat",
        "flat.parquet: expected at least one pixel with a finite positive value in columns 39..320 (flat map), "
        "found no usable pixel",
    ),
    (17, "FGS1"): (
        "adc",
        "FGS1_signal.parquet: expected uint16 samples (no null samples), found 1 null samples, first in column 'column_70'",
    ),
    (17, "AIRS-CH0"): (
        "adc",
        "AIRS-CH0_signal.parquet: expected 11392 columns column_0..column_11391 (32 x 356 AIRS-CH0 pixels, "
        "in this order), found column 'column_101' at position 100, where 'column_100' belongs",
    ),
    (18, "FGS1"): (
        "reject",
        "FGS1_signal.parquet: expected an existing file, found a directory (this path is a directory",
    ),
    (19, "AIRS-CH0"): (
        "reject",
        "expected a planet folder named {id} (its integer id, no leading zeros), found '0{id}'",
    ),
    (19, "FGS1"): ("reject", "expected a planet folder named {id} (its integer id, no leading zeros), found '0{id}'"),
    (10, "FGS1"): (
        "mask",
        "dead.parquet: expected at least one live pixel in the dead map, found every pixel flagged dead",
    ),
    (13, "AIRS-CH0"): (
        "dark",
        "axis_info.parquet: expected 60 AIRS-CH0 integration times (one per raw frame), found 120",
    ),
}


# Observations whose product differs from the clean run's by design (flagged defects).
ALTERED = {(8, "FGS1"), (9, "AIRS-CH0"), (11, "AIRS-CH0"), (12, "FGS1")}
# Calibration maps stored with their columns in another order (names intact): same products.
REORDERED = {(20, "AIRS-CH0", "dark"), (20, "FGS1", "flat"), (21, "AIRS-CH0", "linear_corr"), (21, "FGS1", "dead")}


def _break(root, p):
    """Give each planet of the dataset at ``root`` its defect (see FAILURES, ALTERED, REORDERED)."""
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
    _edit_adc(root, p[14], "AIRS-CH0_adc_gain", -0.9)
    _edit_adc(root, p[14], "FGS1_adc_gain", -3.0)
    _rename_column(_calibration(root, p[15], "AIRS-CH0", "flat"), "column_7", "colunm_7")
    _rename_column(_calibration(root, p[15], "FGS1", "dark"), "column_3", "column_3 ")
    _edit_map(root, p[16], FGS1, "dark", lambda d: d.fill(np.nan))
    _edit_map(root, p[16], AIRS, "flat", lambda f: f.fill(0.0))
    _null_sample(_signal(root, p[17], "FGS1"), "column_70", 3)
    _reorder_columns(_signal(root, p[17], "AIRS-CH0"), lambda c: c[:100] + [c[101], c[100]] + c[102:])
    _signal(root, p[18], "FGS1").unlink()
    _signal(root, p[18], "FGS1").mkdir()
    folder = layout.planet_dir(root, "train", p[19])
    folder.rename(folder.with_name(f"0{p[19]}"))
    for index, instrument, kind in REORDERED:
        _reorder_columns(_calibration(root, p[index], instrument, kind), lambda c: c[::-1])


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """(broken run, planet ids by index, its result, the clean run of the same dataset)."""
    clean_root = tmp_path_factory.mktemp("clean_data")
    ids = _dataset(clean_root)
    p = dict(enumerate(ids))
    root = tmp_path_factory.mktemp("broken_data") / "data"
    shutil.copytree(clean_root, root)
    _break(root, p)
    cfg = merged(default_config(), {"splits": ["train"], "science": {"extract": False}})
    wf = Workflow(tmp_path_factory.mktemp("broken_run"), {**cfg, "data_dir": str(root)})
    done = wf.run("--keep-going", check=False)
    clean = Workflow(tmp_path_factory.mktemp("clean_run"), {**cfg, "data_dir": str(clean_root)})
    clean.run()
    return wf, p, done, clean


def _fragment(p, index, instrument):
    stage, fragment = FAILURES[index, instrument]
    return stage, fragment.format(id=p[index])


def _obs_dir(wf, planet_id, instrument):
    return wf.path("results", "train", planet_id, 0, instrument)


def test_run_fails_but_good_observations_complete(broken):
    wf, p, done, clean = broken
    assert done.returncode != 0
    for index, planet_id in p.items():
        for instrument in ("AIRS-CH0", "FGS1"):
            product = _obs_dir(wf, planet_id, instrument) / "calibrated.npy"
            assert product.exists() != ((index, instrument) in FAILURES), (index, instrument, done.stdout[-3000:])


def test_good_observations_are_byte_identical_to_a_clean_run(broken):
    """Every observation without a defect, and those with reordered map columns, as if nothing happened."""
    wf, p, _, clean = broken
    compared = 0
    for index, planet_id in p.items():
        for instrument in ("AIRS-CH0", "FGS1"):
            if (index, instrument) in FAILURES or (index, instrument) in ALTERED:
                continue
            for name in ("calibrated.npy", "dq.npy", "nvalid.npy"):
                got = (_obs_dir(wf, planet_id, instrument) / name).read_bytes()
                assert got == (_obs_dir(clean, planet_id, instrument) / name).read_bytes(), (index, instrument, name)
                compared += 1
    assert compared == 3 * (2 * N_PLANETS - len(FAILURES) - len(ALTERED))


def test_stacks_hold_every_good_observation_and_nan_rows_for_the_rest(broken):
    """Written despite the failures (--keep-going): a NaN row per failed observation, every other
    row the clean run's, and observations.csv saying which."""
    wf, p, _, clean = broken
    table = pd.read_csv(wf.path("results", "train", "observations.csv"))
    assert table.planet_id.tolist() == sorted(p.values())
    index_of = {planet_id: index for index, planet_id in p.items()}
    for instrument in ("AIRS-CH0", "FGS1"):
        stack = np.load(wf.path("results", "train", f"{instrument}.npy"))
        clean_stack = np.load(clean.path("results", "train", f"{instrument}.npy"))
        assert stack.shape == clean_stack.shape
        for row, planet_id in enumerate(table.planet_id):
            failed = (index_of[planet_id], instrument) in FAILURES
            assert table[instrument][row] == ("failed" if failed else "calibrated"), (planet_id, instrument)
            if failed:
                assert np.isnan(stack[row]).all()
            elif (index_of[planet_id], instrument) not in ALTERED:
                assert stack[row].tobytes() == clean_stack[row].tobytes(), (planet_id, instrument)


@pytest.mark.parametrize("index, instrument", sorted(FAILURES))
def test_each_failure_is_named_in_output_log_and_summary(broken, index, instrument):
    wf, p, done, _ = broken
    stage, fragment = _fragment(p, index, instrument)
    assert fragment in done.stdout + done.stderr
    log = wf.path("logs", stage, "train", p[index], 0, f"{instrument}.log")
    assert fragment in log.read_text()
    assert not any(_obs_dir(wf, p[index], instrument).glob("*.npy"))
    summary = pd.read_csv(wf.path("results", "failed_observations.csv"))
    (row,) = summary[(summary.planet == p[index]) & (summary.instrument == instrument)].itertuples()
    assert row.stage == stage and fragment in row.reason


def test_non_fatal_defects_are_flagged_and_counted(broken):
    wf, p, _, _ = broken
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
    wf, p, _, _ = broken
    planned = wf.planned("--keep-going")
    rejected = sum(stage == "reject" for stage, _ in FAILURES.values())
    assert planned["reject_observation"] == rejected
    assert planned["product"] == len(FAILURES) - rejected


def _edit_axis_info(root, edit):
    import pandas as pd

    path = layout.axis_info_file(root)
    edit(pd.read_parquet(path)).to_parquet(path, index=False)


def _nan_in_time(table):
    table.loc[7, "FGS1-axis0-h"] = np.nan
    return table


def _rename_axis_column(table):
    return table.rename(columns={"AIRS-CH0-integration_time": "AIRS-CH0-integration-time"})


AXIS = "axis_info.parquet: expected "
# setup -> (config overrides, the message). Every case stops the run before any job.
DATASET_PROBLEMS = {
    "missing": ({}, "expected a competition data directory, found no such directory"),
    "empty": ({}, "expected train_adc_info.csv / test_adc_info.csv (2024) or adc_info.csv (2025), found neither"),
    "empty_split": (
        {"splits": ["train", "test"]},
        "test: expected planet folders named by their integer id, found none",
    ),
    "zip": ({}, "data.zip: expected a competition data directory, found a zip archive: extract it"),
    "axis_nan": (
        {},
        AXIS + "finite values in column 'FGS1-axis0-h' followed only by null padding, "
        "found 1 interior NaN/null value(s) among its 1440 values, first at row 7",
    ),
    "axis_column": (
        {},
        AXIS + "the columns AIRS-CH0-axis0-h, AIRS-CH0-axis2-um, AIRS-CH0-integration_time, "
        "FGS1-axis0-h, found unexpected column 'AIRS-CH0-integration-time' (position 2)",
    ),
    "binning": (
        {"binning": {"FGS1": 1000}},
        AXIS + "at least binning.FGS1 = 1000 CDS frames per observation, found 720 CDS frames (1440 FGS1 raw frames)",
    ),
    "map_shape": ({}, "flat.parquet: expected 32 rows (FGS1 flat), found 33 rows"),
    "planet_typo": (
        {"planets": "typo"},
        "expected every requested planet in the splits ['train'], found no planet folder for 12345",
    ),
    "float_columns": ({"airs_columns": [39.0, 321.0]}, "config key 'airs_columns.0': 39.0 is not of type 'integer'"),
}
# Dataset problems that reject every observation (each with its reason) rather than stop the run.
REJECTING_ALL = {
    "duplicated_adc": "train_adc_info.csv: expected one row per planet_id, found duplicated planet_id",
    "adc_spaces": "train_adc_info.csv: expected the columns FGS1_adc_offset, FGS1_adc_gain, AIRS-CH0_adc_offset, "
    "AIRS-CH0_adc_gain (and planet_id, star in 2024), found column ' AIRS-CH0_adc_gain' (position 4) with stray spaces",
}


@pytest.fixture(scope="module")
def one_planet(tmp_path_factory):
    root = tmp_path_factory.mktemp("one_planet") / "data"
    ids = _dataset(root, n_planets=1)
    return root, ids[0]


def _problem_dataset(one_planet, tmp_path, setup):
    source, planet_id = one_planet
    root = tmp_path / "data"
    if setup == "missing":
        return root
    if setup == "empty":
        root.mkdir()
        return root
    shutil.copytree(source, root)
    if setup == "zip":
        return Path(shutil.make_archive(str(tmp_path / "data"), "zip", root))
    if setup == "empty_split":
        (root / "test").mkdir()
    adc = layout.adc_info_file(root, EDITION, "train")
    if setup == "duplicated_adc":
        adc.write_text(adc.read_text() + adc.read_text().splitlines()[1] + "\n")
    if setup == "adc_spaces":
        adc.write_text(adc.read_text().replace(",AIRS-CH0_adc_gain", ", AIRS-CH0_adc_gain", 1))
    if setup == "axis_nan":
        _edit_axis_info(root, _nan_in_time)
    if setup == "axis_column":
        _edit_axis_info(root, _rename_axis_column)
    if setup == "map_shape":
        flat = _calibration(root, planet_id, "FGS1", "flat")
        formats.write_calibration(flat, np.ones((33, 32)))
    return root


@pytest.mark.parametrize("setup", sorted(DATASET_PROBLEMS))
def test_dataset_level_problems_stop_the_run_before_any_job(one_planet, tmp_path, setup):
    overrides, fragment = DATASET_PROBLEMS[setup]
    root = _problem_dataset(one_planet, tmp_path, setup)
    if overrides.get("planets") == "typo":
        overrides = {"planets": [one_planet[1], 12345]}
    wf = Workflow(tmp_path / "run", merged(default_config(), {"data_dir": str(root), "splits": ["train"], **overrides}))
    done = wf.run("--keep-going", check=False)
    assert done.returncode != 0
    assert fragment in done.stdout + done.stderr, done.stderr[-3000:]
    assert not wf.path("logs").exists() and not wf.path("results").exists()  # no job ran


@pytest.mark.parametrize("setup", sorted(REJECTING_ALL))
def test_dataset_level_problems_reject_every_observation(one_planet, tmp_path, setup):
    root = _problem_dataset(one_planet, tmp_path, setup)
    wf = Workflow(tmp_path / "run", merged(default_config(), {"data_dir": str(root), "splits": ["train"]}))
    done = wf.run("--keep-going", check=False)
    assert done.returncode != 0
    assert REJECTING_ALL[setup] in done.stdout + done.stderr
    assert sorted(p.parent.name for p in wf.path("logs").glob("*/*/*/*/*.log")) == ["0", "0"]  # two reject jobs
    assert not list(wf.path().glob("results/**/calibrated.npy"))


def test_a_damaged_product_is_recalibrated_by_one_staged_run(one_planet, tmp_path):
    """A product cut short after a good run (staged mode, the intermediates gone): one run
    recalibrates that observation's whole stage chain, byte-identical, and nothing else."""
    root, planet_id = one_planet
    wf = Workflow(
        tmp_path / "run",
        merged(default_config(), {"data_dir": str(root), "splits": ["train"], "science": {"extract": False}}),
    )
    wf.run()
    obs = _obs_dir(wf, planet_id, "AIRS-CH0")
    good = {name: (obs / name).read_bytes() for name in ("calibrated.npy", "dq.npy", "nvalid.npy")}
    good_stack = wf.path("results", "train", "AIRS-CH0.npy").read_bytes()
    fgs1 = {p: p.stat().st_mtime_ns for p in _obs_dir(wf, planet_id, "FGS1").glob("*.npy")}
    product = obs / "calibrated.npy"
    product.write_bytes(good["calibrated.npy"][:-64])
    chain = {stage: 1 for stage in ("adc", "mask", "linearity", "dark", "cds", "outliers", "bin", "flat", "product")}
    assert wf.planned() == {**chain, "stack": 1, "observations_table": 1, "all": 1}
    done = wf.run()
    assert (
        f"{product.relative_to(wf.workdir)}: expected a complete .npy array, found {len(good['calibrated.npy']) - 64} "
        "bytes"
    ) in done.stdout + done.stderr
    assert {name: (obs / name).read_bytes() for name in good} == good
    assert wf.path("results", "train", "AIRS-CH0.npy").read_bytes() == good_stack
    assert {p: p.stat().st_mtime_ns for p in fgs1} == fgs1  # the other instrument untouched
    assert not list(obs.glob("stages/*"))  # the intermediates removed again


def test_command_line_values_take_yaml_types(tmp_path):
    wf = Workflow(
        tmp_path / "run",
        merged(default_config(), {"simulation": {**TINY_FRAMES, "train_planets": 1, "test_planets": 0}}),
    )
    planned = wf.planned("--config", "keep_intermediates=true", "airs_columns=[39,300]", "stages={flat: false}")
    assert "flat" not in planned and planned["adc"] == 2


def test_binning_larger_than_the_simulated_observations_stops_the_run(tmp_path):
    wf = Workflow(
        tmp_path / "run",
        merged(default_config(), {"simulation": {**TINY_FRAMES, "train_planets": 1, "test_planets": 0}}),
    )
    done = wf.run("-n", "--config", "binning={FGS1: 5000}", check=False)
    assert done.returncode != 0
    assert (
        "config key 'simulation': expected at least binning.FGS1 = 5000 CDS frames per observation, "
        "found 720 CDS frames (1440 FGS1 raw frames)"
    ) in done.stdout + done.stderr
