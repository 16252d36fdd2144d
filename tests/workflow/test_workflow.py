"""Real Snakemake on tiny simulated datasets: DAG shape, products, both layouts, switches, notebook parity."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import polars as pl
import pytest

from arielcal.dq import DQ
from conftest import Workflow, default_config, merged, tiny_simulation
from notebook_reference import notebook_calibrate

pytestmark = pytest.mark.workflow

SHAPES = {"AIRS-CH0": (282, 32), "FGS1": (32, 32)}
RAW_WIDTH = {"AIRS-CH0": 356, "FGS1": 32}


def products(wf: Workflow):
    """Every observation product directory: results/{split}/{planet}/{visit}/{instrument}."""
    return sorted(p.parent for p in wf.path("results").glob("*/*/*/*/calibrated.npy"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Workflow:
    """The default workflow (data_dir: null) with a tiny simulation: simulate, then calibrate."""
    config = merged(default_config(), {"simulation": tiny_simulation()})
    wf = Workflow(tmp_path_factory.mktemp("demo"), config)
    wf.run()
    return wf


def test_default_config_dry_run_plans_simulation_and_every_stage(make_workflow):
    jobs = make_workflow().planned()
    # 3 train + 1 test planets, two instruments each, at full size.
    for rule in ("simulate_observation", "adc", "mask", "linearity", "dark", "cds", "bin", "flat", "product"):
        assert jobs.get(rule) == 8, (rule, jobs)
    assert jobs["simulate_tables"] == 1 and jobs["stack"] == 4 and jobs["observations_table"] == 2


def test_products_have_documented_shapes_dtypes_and_metadata(demo):
    found = products(demo)
    assert len(found) == 4  # 2 planets x 2 instruments
    for obs in found:
        instrument = obs.name
        calibrated = np.load(obs / "calibrated.npy")
        dq = np.load(obs / "dq.npy")
        n_valid = np.load(obs / "nvalid.npy")
        meta = json.loads((obs / "meta.json").read_text())
        assert calibrated.dtype == np.float32 and calibrated.shape == (2, *SHAPES[instrument])
        assert dq.dtype == np.uint32 and dq.shape == SHAPES[instrument]
        assert n_valid.shape == calibrated.shape
        # Excluded pixels are NaN in every bin, and nothing else is.
        excluded = (dq & DQ.DO_NOT_USE) != 0
        assert np.array_equal(np.isnan(calibrated).any(axis=0), excluded)
        assert np.all(np.isnan(calibrated[:, excluded]))
        assert meta["axes"] == ["time", "column", "row"]
        assert len(meta["time_h"]) == 2 and meta["time_h"][0] < meta["time_h"][1]
        stages = [stage["stage"] for stage in meta["stages"]]
        assert stages == ["adc", "mask", "linearity", "dark", "cds", "bin", "flat"]
        raw_inputs = [i for i in meta["stages"][0]["inputs"] if i["path"].endswith(".parquet")]
        assert raw_inputs
        for record in raw_inputs:  # the recorded digest is the file's (also when reused from the cache)
            assert record["sha256"] == hashlib.sha256(demo.path(record["path"]).read_bytes()).hexdigest()
        if instrument == "AIRS-CH0":
            wavelength = np.array(meta["wavelength_um"])
            assert wavelength.shape == (282,) and np.all(np.diff(wavelength) < 0)
            assert wavelength[0] == pytest.approx(3.8950, abs=1e-3)
        else:
            assert meta["wavelength_um"] is None


def test_split_stacks_follow_observations_table(demo):
    for split in ("train", "test"):
        rows = pd.read_csv(demo.path("results", split, "observations.csv"))
        assert list(rows.columns) == ["planet_id", "visit", "AIRS-CH0", "FGS1"] and len(rows) == 1
        assert rows[["AIRS-CH0", "FGS1"]].values.tolist() == [["calibrated", "calibrated"]]
        planet, visit = rows.iloc[0][["planet_id", "visit"]]
        for instrument, shape in SHAPES.items():
            stacked = np.load(demo.path("results", split, f"{instrument}.npy"))
            assert stacked.shape == (1, 2, *shape)
            single = np.load(demo.path("results", split, planet, visit, instrument, "calibrated.npy"))
            np.testing.assert_array_equal(stacked[0], single)


def test_intermediates_are_temporary_by_default(demo):
    assert not list(demo.path("results").glob("**/stages/*.npy"))


def test_products_match_the_notebook_on_pixels_it_does_not_mask(demo):
    """Parity: a float64 reimplementation of the notebook, with the same switches and dt convention."""
    data = demo.path(demo.config["simulation"]["out_dir"])
    adc = pd.concat(pd.read_csv(data / f"{s}_adc_info.csv") for s in ("train", "test"))
    axis = pd.read_parquet(data / "axis_info.parquet")
    extra = demo.config["integration_time"]["second_read_extra_s"]
    for obs in products(demo):
        split, planet, instrument = obs.parts[-4], int(obs.parts[-3]), obs.name
        width = RAW_WIDTH[instrument]
        frame = pl.read_parquet(data / split / str(planet) / f"{instrument}_signal.parquet")
        raw = frame.to_numpy().reshape(frame.height, 32, width)
        row = adc[adc.planet_id == planet].iloc[0]
        calib_dir = data / split / str(planet) / f"{instrument}_calibration"
        maps = {k: pl.read_parquet(calib_dir / f"{k}.parquet").to_numpy() for k in ("dark", "dead", "flat", "linear_corr")}
        if instrument == "AIRS-CH0":
            dt = axis["AIRS-CH0-integration_time"].dropna().to_numpy().copy()
        else:
            dt = np.full(raw.shape[0], 0.1)
        dt[1::2] += extra
        expected = notebook_calibrate(
            raw,
            row[f"{instrument}_adc_gain"],
            row[f"{instrument}_adc_offset"],
            maps["dark"],
            maps["dead"],
            maps["flat"],
            maps["linear_corr"].reshape(6, 32, width),
            dt,
            crop=(39, 321) if instrument == "AIRS-CH0" else None,
            do_nl=True,
            binning=demo.config["binning"][instrument],
        )
        ours = np.load(obs / "calibrated.npy")
        dq = np.load(obs / "dq.npy")
        # Pixels the notebook masks (dead, hot), and ours it divides by an unusable flat.
        compared = (dq & (DQ.DEAD | DQ.HOT | DQ.DO_NOT_USE)) == 0
        good = np.broadcast_to(compared, ours.shape)
        assert good.sum() > 0.9 * good.size
        scale = np.abs(expected[good]).max()
        np.testing.assert_allclose(ours[good], expected[good], rtol=1e-5, atol=1e-5 * scale)


def test_real_data_dir_gives_identical_products(demo, make_workflow):
    """Pointing data_dir at the same files (discovery instead of the simulation plan) changes nothing."""
    wf = make_workflow("real", data_dir=str(demo.path(demo.config["simulation"]["out_dir"])))
    wf.run()
    for obs in products(demo):
        rel = obs.relative_to(demo.workdir)
        for name in ("calibrated.npy", "dq.npy", "nvalid.npy"):
            assert (wf.workdir / rel / name).read_bytes() == (obs / name).read_bytes(), rel / name


def test_fused_mode_gives_the_staged_products(demo, make_workflow):
    """Fused mode's kernel repeats the stages' arithmetic: products agree to 1e-6 relative
    (in practice to the bit: only the summation order of a bin differs), DQ and counts exactly."""
    wf = make_workflow("fused", mode="fused", data_dir=str(demo.path(demo.config["simulation"]["out_dir"])))
    planned = wf.planned()
    assert planned["fused"] == 4 and "linearity" not in planned and "product" not in planned
    wf.run()
    for obs in products(demo):
        rel = obs.relative_to(demo.workdir)
        fused, staged = (np.load(root / "calibrated.npy") for root in (wf.workdir / rel, obs))
        np.testing.assert_allclose(fused, staged, rtol=1e-6, atol=0, err_msg=str(rel))
        for name in ("dq.npy", "nvalid.npy"):
            np.testing.assert_array_equal(np.load(wf.workdir / rel / name), np.load(obs / name), err_msg=str(rel / name))
        assert json.loads((wf.workdir / rel / "meta.json").read_text())["time_h"] == json.loads((obs / "meta.json").read_text())["time_h"]


def test_rerun_is_a_no_op(demo):
    done = demo.run("-n")
    assert "Nothing to be done" in done.stdout + done.stderr


def test_2025_layout_with_two_visits(make_workflow):
    wf = make_workflow(
        "v2025",
        simulation=tiny_simulation(edition=2025, train_planets=1, test_planets=0, two_visit_planets=1),
        splits=["train"],
    )
    wf.run()
    rows = pd.read_csv(wf.path("results", "train", "observations.csv"))
    assert rows.visit.tolist() == [0, 1] and rows.planet_id.nunique() == 1
    for instrument, shape in SHAPES.items():
        assert np.load(wf.path("results", "train", f"{instrument}.npy")).shape == (2, 2, *shape)


def test_switched_off_stages_rewire_the_dag(make_workflow):
    off = {"mask": False, "linearity": False, "dark": False, "flat": False, "bin": False}
    wf = make_workflow(
        "off",
        stages=off,
        instruments=["AIRS-CH0"],
        splits=["train"],
        simulation=tiny_simulation(test_planets=0),
    )
    planned = wf.planned()
    assert not planned.keys() & {"mask", "linearity", "dark", "flat", "bin"}
    assert planned["adc"] == planned["cds"] == planned["product"] == 1
    wf.run()
    (obs,) = products(wf)
    calibrated = np.load(obs / "calibrated.npy")
    assert calibrated.shape == (60, 282, 32)  # every CDS frame, unbinned
    assert not (obs / "nvalid.npy").exists()
    meta = json.loads((obs / "meta.json").read_text())
    assert [stage["stage"] for stage in meta["stages"]] == ["adc", "cds"]


def test_invalid_config_names_the_key(make_workflow):
    wf = make_workflow("bad", stages={"mask": "yes"}, bogus=1)
    done = wf.run("-n", check=False)
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert "config.yaml: expected a configuration valid against config/schema.yaml" in said
    assert "config key 'stages.mask': 'yes' is not of type 'boolean'" in said
    assert "'bogus' was unexpected" in said
