"""Real Snakemake on tiny simulated datasets: DAG shape, products, both layouts, switches, notebook parity."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from astropy.stats import sigma_clip
from conftest import TINY_FRAMES, Workflow, default_config, merged, tiny_simulation
from notebook_reference import notebook_calibrate

from arielcal.dq import DQ

pytestmark = pytest.mark.workflow

SHAPES = {"AIRS-CH0": (282, 32), "FGS1": (32, 32)}
RAW_WIDTH = {"AIRS-CH0": 356, "FGS1": 32}
# Per value: float32 storage after each stage rounds by ~6e-8 of the reads entering a value, a
# few times over; 1e-6 of their magnitude is far below any dark, flat or convention change.
RTOL = 1e-6
# The dark stage's integration times with the default second_read_extra_s = 0.1 (doc 0, 1.6).
HAND_TIMES = {"AIRS-CH0": {"even": 0.1, "odd": 4.6}, "FGS1": {"even": 0.1, "odd": 0.2}}


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
    for rule in (
        "simulate_observation",
        "adc",
        "mask",
        "linearity",
        "dark",
        "cds",
        "outliers",
        "bin",
        "flat",
        "product",
    ):
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
        assert stages == ["adc", "mask", "linearity", "dark", "cds", "outliers", "bin", "flat"]
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


def hand_dt(instrument: str, n_frames: int, extra_s: float) -> np.ndarray:
    """Integration time of each raw frame, by hand from the format description (doc 0, 1.6):
    AIRS reads 0.1 s and 4.5 s (axis_info), FGS1 0.1 s every frame (the notebook's constant),
    ``extra_s`` added to the second (long) read of each pair."""
    long_read = 4.5 if instrument == "AIRS-CH0" else 0.1
    return np.tile([0.1, long_read + extra_s], n_frames // 2)


def notebook_product(data, edition, split, planet, visit, instrument, config, adc):
    """(notebook's values, magnitude of the reads entering each value), (bin, column, row) float64,
    from the observation's own signal and calibration files."""
    width = RAW_WIDTH[instrument]
    suffix = "" if edition == 2024 else f"_{visit}"
    planet_dir = data / split / str(planet)
    frame = pl.read_parquet(planet_dir / f"{instrument}_signal{suffix}.parquet")
    raw = frame.to_numpy().reshape(frame.height, 32, width)
    calib_dir = planet_dir / f"{instrument}_calibration{suffix}"
    maps = {k: pl.read_parquet(calib_dir / f"{k}.parquet").to_numpy() for k in ("dark", "dead", "flat", "linear_corr")}
    gain, offset = adc[f"{instrument}_adc_gain"], adc[f"{instrument}_adc_offset"]
    dt = hand_dt(instrument, raw.shape[0], config["integration_time"]["second_read_extra_s"])
    crop = (39, 321) if instrument == "AIRS-CH0" else (0, width)
    binning = config["binning"][instrument]
    do_nl = config["stages"]["linearity"]
    expected = notebook_calibrate(
        raw,
        gain,
        offset,
        maps["dark"],
        maps["dead"],
        maps["flat"],
        maps["linear_corr"].reshape(6, 32, width),
        dt,
        crop=crop if instrument == "AIRS-CH0" else None,
        do_nl=do_nl,
        binning=binning,
    )
    # The magnitude of what enters each value: |read| + |dark * dt| summed over the reads of the
    # bin, over the flat (float32 storage rounds each stage to ~6e-8 of it).
    cut = slice(*crop)
    reads = np.abs(raw[:, :, cut] / gain + offset)
    if do_nl:
        reads = reads + np.abs(maps["linear_corr"].reshape(6, 32, width)[0, :, cut])
    reads = reads + np.abs(maps["dark"][:, cut]) * dt[:, None, None]
    n_bins = raw.shape[0] // 2 // binning
    per_bin = reads[: n_bins * binning * 2].reshape(n_bins, binning * 2, 32, -1).sum(axis=1)
    magnitude = per_bin.transpose(0, 2, 1) / np.abs(maps["flat"][:, cut]).T
    return expected, magnitude, maps


def assert_per_value(ours, expected, magnitude, where):
    """Every compared value within RTOL of the magnitude of its reads (per value, not per cube)."""
    error = np.abs(ours.astype(np.float64) - expected)
    bound = RTOL * magnitude
    worst = np.unravel_index(np.argmax(np.where(where, error / bound, 0)), error.shape)
    assert np.all(error[where] <= bound[where]), (worst, ours[worst], expected[worst], bound[worst])


def assert_hot_map_is_astropys(dq, dark, instrument):
    """HOT = astropy's 5-sigma, 5-iteration clip of the (cut) dark, the notebook's rule."""
    cut = dark[:, 39:321] if instrument == "AIRS-CH0" else dark
    np.testing.assert_array_equal((dq & DQ.HOT) != 0, sigma_clip(cut, sigma=5, maxiters=5).mask.T)


def dark_stage_times(meta):
    (dark,) = [stage for stage in meta["stages"] if stage["stage"] == "dark"]
    return dark["integration_time_s"]


def test_products_match_the_notebook_on_pixels_it_does_not_mask(demo):
    """Parity: a float64 reimplementation of the notebook, with the same switches and dt convention."""
    data = demo.path(demo.config["simulation"]["out_dir"])
    adc = pd.concat(pd.read_csv(data / f"{s}_adc_info.csv") for s in ("train", "test"))
    for obs in products(demo):
        split, planet, instrument = obs.parts[-4], int(obs.parts[-3]), obs.name
        row = adc[adc.planet_id == planet].iloc[0]
        expected, magnitude, maps = notebook_product(data, 2024, split, planet, 0, instrument, demo.config, row)
        ours = np.load(obs / "calibrated.npy")
        dq = np.load(obs / "dq.npy")
        assert_hot_map_is_astropys(dq, maps["dark"], instrument)
        # Pixels the notebook masks (dead, hot), and ours it divides by an unusable flat.
        compared = (dq & (DQ.DEAD | DQ.HOT | DQ.DO_NOT_USE)) == 0
        good = np.broadcast_to(compared, ours.shape)
        assert good.sum() > 0.9 * good.size
        assert_per_value(ours, expected, magnitude, good)
        meta = json.loads((obs / "meta.json").read_text())
        assert dark_stage_times(meta) == pytest.approx(HAND_TIMES[instrument], abs=1e-12)


def test_real_data_dir_gives_identical_products(demo, make_workflow):
    """Pointing data_dir at the same files (discovery instead of the simulation plan) changes nothing."""
    wf = make_workflow("real", data_dir=str(demo.path(demo.config["simulation"]["out_dir"])))
    wf.run()
    for obs in products(demo):
        rel = obs.relative_to(demo.workdir)
        for name in ("calibrated.npy", "dq.npy", "nvalid.npy"):
            assert (wf.workdir / rel / name).read_bytes() == (obs / name).read_bytes(), rel / name


def test_intermediates_dir_holds_the_stage_cubes_and_products_are_unchanged(demo, make_workflow, tmp_path):
    scratch = tmp_path / "scratch"
    wf = make_workflow(
        "scratch",
        data_dir=str(demo.path(demo.config["simulation"]["out_dir"])),
        intermediates_dir=str(scratch),
        keep_intermediates=True,
    )
    wf.run()
    assert not list(wf.path("results").glob("**/stages"))
    for obs in products(demo):
        rel = obs.relative_to(demo.workdir / "results")
        expected = [
            f"{stage}{ext}"
            for stage in ("adc", "mask", "linearity", "dark", "cds", "outliers", "bin", "flat")
            for ext in (".npy", ".dq.npy", ".json")
            if (stage, ext) != ("mask", ".npy")  # mask only adds to the DQ map
        ]
        assert sorted(p.name for p in (scratch / rel / "stages").iterdir()) == sorted([*expected, "bin.nvalid.npy"])
        for name in ("calibrated.npy", "dq.npy", "nvalid.npy"):
            assert (wf.path("results") / rel / name).read_bytes() == (obs / name).read_bytes(), rel / name


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
            np.testing.assert_array_equal(
                np.load(wf.workdir / rel / name), np.load(obs / name), err_msg=str(rel / name)
            )
        assert (
            json.loads((wf.workdir / rel / "meta.json").read_text())["time_h"]
            == json.loads((obs / "meta.json").read_text())["time_h"]
        )


def test_rerun_is_a_no_op(demo):
    done = demo.run("-n")
    assert "Nothing to be done" in done.stdout + done.stderr


# ---------------------------------------------------------------------------------------------
# The 2025 layout with two planets per split, hot pixels kept, a large dark that differs for every
# calibration folder, linearity off, and one observation without its signal file.

FLAGGED_DARK_SCALE = 20.0  # times (1 + index of the calibration folder)


@pytest.fixture(scope="module")
def flagged(tmp_path_factory) -> Workflow:
    data = tmp_path_factory.mktemp("flagged-data") / "data"
    subprocess.run(
        [sys.executable, "-m", "arielcal.simulate", "--out", str(data), "--edition", "2025", "--seed", "7",
         "--train-planets", "2", "--test-planets", "2", "--two-visit-planets", "1",
         "--airs-frames", str(TINY_FRAMES["airs_frames"]), "--fgs1-frames", str(TINY_FRAMES["fgs1_frames"])],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    # Each calibration folder its own dark (scaled by a different factor): a product made with
    # another folder's maps differs by tens to thousands of e- per value.
    for index, folder in enumerate(sorted(data.glob("*/*/*_calibration_*"))):
        dark = pl.read_parquet(folder / "dark.parquet")
        dark.select(pl.all() * (FLAGGED_DARK_SCALE * (1 + index))).write_parquet(folder / "dark.parquet")
    last_test_planet = sorted(data.glob("test/*"))[-1]
    (last_test_planet / "FGS1_signal_0.parquet").unlink()
    config = merged(
        default_config(),
        {
            "data_dir": str(data),
            "bad_pixels": {"hot": "flag", "dead": "nan"},
            "stages": {"linearity": False},
            "science": {"extract": False},
        },
    )
    wf = Workflow(tmp_path_factory.mktemp("flagged"), config)
    done = wf.run("--keep-going", check=False)
    # The observation without a signal fails in reject_observation; every other one ran.
    assert done.returncode != 0, done.stdout[-3000:]
    wf.missing = ("test", int(last_test_planet.name), 0, "FGS1")
    return wf


def test_2025_products_match_the_notebook_with_each_visits_maps(flagged):
    """Every visit calibrated with its own calibration folder (the dark differs per folder), hot
    pixels kept and compared too, linearity off (the notebook's default), 2025 ADC row."""
    data = Path(flagged.config["data_dir"])
    adc = pd.read_csv(data / "adc_info.csv").iloc[0]
    found = products(flagged)
    visits = sorted({(o.parts[-4], o.parts[-3], o.parts[-2]) for o in found})
    assert len(visits) == 5 and len(found) == 9
    for obs in found:
        split, planet, visit, instrument = obs.parts[-4], int(obs.parts[-3]), int(obs.parts[-2]), obs.name
        expected, magnitude, maps = notebook_product(data, 2025, split, planet, visit, instrument, flagged.config, adc)
        ours = np.load(obs / "calibrated.npy")
        dq = np.load(obs / "dq.npy")
        assert_hot_map_is_astropys(dq, maps["dark"], instrument)
        # bad_pixels hot: flag keeps hot pixels, unless they are also dead or have an unusable flat.
        hot = (dq & DQ.HOT) != 0
        excluded_hot = dq[hot & ((dq & DQ.DO_NOT_USE) != 0)]
        assert hot.sum() > excluded_hot.size and np.all(excluded_hot & (DQ.DEAD | DQ.NO_FLAT_FIELD))
        good = np.broadcast_to((dq & DQ.DO_NOT_USE) == 0, ours.shape)
        assert np.isfinite(ours[good]).all() and np.isnan(ours[~good]).all()
        assert_per_value(ours, expected, magnitude, good)
        meta = json.loads((obs / "meta.json").read_text())
        assert [stage["stage"] for stage in meta["stages"]] == ["adc", "mask", "dark", "cds", "outliers", "bin", "flat"]
        # The notebook has no outlier stage: parity holds because nothing was rejected here.
        assert meta["stages"][4]["rejected_frames"] == 0
        assert dark_stage_times(meta) == pytest.approx(HAND_TIMES[instrument], abs=1e-12)
        # The recorded inputs are this visit's files, with their checksums.
        own = data / split / str(planet) / f"{instrument}_calibration_{visit}" / "dark.parquet"
        recorded = {
            r["path"]: r["sha256"]
            for stage in meta["stages"]
            for r in stage["inputs"]
            if r["path"].endswith("dark.parquet")
        }
        assert recorded == {str(own): hashlib.sha256(own.read_bytes()).hexdigest()}


def test_stacks_follow_observations_csv_with_a_nan_slab(flagged):
    """Stack row i is the product of observations.csv row i; the observation without a signal
    file is an all-NaN slab in its instrument's stack and present in the other's."""
    data = Path(flagged.config["data_dir"])
    for split in ("train", "test"):
        table = pd.read_csv(flagged.path("results", split, "observations.csv"))
        rows = table[["planet_id", "visit"]]
        # (planet, visit) of every calibration folder: <planet>/<instrument>_calibration_<visit>.
        on_disk = {(int(p.parent.name), int(p.name.rsplit("_", 1)[1])) for p in data.glob(f"{split}/*/*_calibration_*")}
        assert list(rows.itertuples(index=False, name=None)) == sorted(on_disk)
        for instrument in SHAPES:  # each row's status: a NaN row only for the missing observation
            missing = [(split, p, v, instrument) == flagged.missing for p, v in rows.itertuples(index=False, name=None)]
            assert table[instrument].tolist() == ["failed" if m else "calibrated" for m in missing]
        assert len(rows) >= 2 and rows.planet_id.nunique() == 2
        for instrument, shape in SHAPES.items():
            stacked = np.load(flagged.path("results", split, f"{instrument}.npy"))
            assert stacked.shape == (len(rows), 2, *shape)
            for i, (planet, visit) in enumerate(rows.itertuples(index=False, name=None)):
                if (split, planet, visit, instrument) == flagged.missing:
                    assert np.isnan(stacked[i]).all()
                    continue
                single = np.load(flagged.path("results", split, planet, visit, instrument, "calibrated.npy"))
                np.testing.assert_array_equal(stacked[i], single)
                assert np.isfinite(single).any()
    failed = pd.read_csv(flagged.path("results", "failed_observations.csv"))
    assert [
        tuple(r) for r in failed[["split", "planet", "visit", "instrument"]].itertuples(index=False, name=None)
    ] == [("test", flagged.missing[1], 0, "FGS1")]


def test_switched_off_stages_rewire_the_dag(make_workflow):
    off = {"mask": False, "linearity": False, "dark": False, "outliers": False, "flat": False, "bin": False}
    wf = make_workflow(
        "off",
        stages=off,
        instruments=["AIRS-CH0"],
        splits=["train"],
        simulation=tiny_simulation(test_planets=0),
    )
    planned = wf.planned()
    assert not planned.keys() & {"mask", "linearity", "dark", "outliers", "flat", "bin"}
    assert planned["adc"] == planned["cds"] == planned["product"] == 1
    wf.run()
    (obs,) = products(wf)
    calibrated = np.load(obs / "calibrated.npy")
    assert calibrated.shape == (60, 282, 32)  # every CDS frame, unbinned
    assert not (obs / "nvalid.npy").exists()
    meta = json.loads((obs / "meta.json").read_text())
    assert [stage["stage"] for stage in meta["stages"]] == ["adc", "cds"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"stages": {"mask": 3}}, "config key 'stages.mask': 3 is not of type 'boolean'"),
        ({"bogus": 1}, "'bogus' was unexpected"),
    ],
)
def test_invalid_config_names_the_key(make_workflow, overrides, message):
    # One problem per case: the validator reports the first one it finds.
    wf = make_workflow("bad", **overrides)
    done = wf.run("-n", check=False)
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert "config.yaml: expected a configuration valid against config/schema.yaml" in said
    assert message in said
