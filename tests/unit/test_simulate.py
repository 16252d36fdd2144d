"""The simulator: exact competition formats of both editions, determinism, clear errors, physics,
and recovery of the injected depths from noiseless raw data by an independent naive calibration."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from arielcal import layout
from arielcal import simulate as sim
from arielcal.errors import InputError
from arielcal.instruments import AIRS, FGS1, INSTRUMENTS

SMALL = {"airs_frames": 120, "train_planets": 1, "test_planets": 1}
ADC_HEADER = ["FGS1_adc_offset", "FGS1_adc_gain", "AIRS-CH0_adc_offset", "AIRS-CH0_adc_gain"]
WL = [f"wl_{j}" for j in range(1, 284)]


def _write_dataset(cfg: sim.SimulationConfig, root: Path) -> Path:
    sim.write_tables(cfg, root)
    for split, planet_id, _ in sim.planets(cfg):
        sim.write_planet(cfg, root, split, planet_id)
    return root


@pytest.fixture(scope="module")
def dataset_2024(tmp_path_factory):
    cfg = sim.SimulationConfig(edition=2024, seed=7, **SMALL)
    return cfg, _write_dataset(cfg, tmp_path_factory.mktemp("sim2024"))


@pytest.fixture(scope="module")
def dataset_2025(tmp_path_factory):
    cfg = sim.SimulationConfig(edition=2025, seed=7, two_visit_planets=1, **SMALL)
    return cfg, _write_dataset(cfg, tmp_path_factory.mktemp("sim2025"))


@pytest.fixture(params=[2024, 2025])
def dataset(request, dataset_2024, dataset_2025):
    return dataset_2024 if request.param == 2024 else dataset_2025


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _expected_files(cfg) -> set[str]:
    expected = set(sim.table_files(cfg))
    for split, planet_id, _ in sim.planets(cfg):
        expected.update(sim.planet_files(cfg, split, planet_id))
    return expected


# --------------------------------------------------------------------------- layout and formats


def test_exactly_the_planned_files_are_written(dataset):
    cfg, root = dataset
    assert _files(root) == _expected_files(cfg)


def test_2024_and_2025_file_names():
    cfg24 = sim.SimulationConfig(**SMALL)
    (split, pid, _), *_ = sim.planets(cfg24)
    assert sorted(sim.table_files(cfg24)) == sorted(
        [
            "train_adc_info.csv",
            "test_adc_info.csv",
            "axis_info.parquet",
            "train_labels.csv",
            "wavelengths.csv",
            "sample_submission.csv",
            "simulation_truth.csv",
        ]
    )
    assert f"{split}/{pid}/AIRS-CH0_signal.parquet" in sim.planet_files(cfg24, split, pid)
    assert f"{split}/{pid}/FGS1_calibration/linear_corr.parquet" in sim.planet_files(cfg24, split, pid)
    assert len(sim.planet_files(cfg24, split, pid)) == 12
    cfg25 = sim.SimulationConfig(edition=2025, two_visit_planets=1, **SMALL)
    assert sorted(sim.table_files(cfg25)) == sorted(
        [
            "adc_info.csv",
            "axis_info.parquet",
            "train.csv",
            "train_star_info.csv",
            "test_star_info.csv",
            "wavelengths.csv",
            "sample_submission.csv",
            "simulation_truth.csv",
        ]
    )
    two_visits = [(s, p) for s, p, n in sim.planets(cfg25) if n == 2]
    assert len(two_visits) == 1 and two_visits[0][0] == "train"
    names = sim.planet_files(cfg25, *two_visits[0])
    assert len(names) == 24
    assert any(n.endswith("AIRS-CH0_signal_1.parquet") for n in names)
    assert any(n.endswith("FGS1_calibration_1/dead.parquet") for n in names)


def test_signal_parquet_physical_format(dataset):
    cfg, root = dataset
    signals = [p for p in root.rglob("*_signal*.parquet")]
    assert signals
    for path in signals:
        instrument = AIRS if path.name.startswith("AIRS") else FGS1
        meta = pq.ParquetFile(path)
        schema = meta.schema
        assert meta.metadata.num_rows == cfg.frames(instrument.name)
        assert schema.names == [f"column_{i}" for i in range(instrument.pixels)]
        for i in range(len(schema)):
            column = schema.column(i)
            assert (column.physical_type, column.converted_type) == ("INT32", "UINT_16"), path
            assert str(column.logical_type) == "Int(bitWidth=16, isSigned=false)"
        assert pl.read_parquet(path).dtypes[0] == pl.UInt16


def test_pixels_are_flattened_row_major(dataset_2024):
    """column_{W*r + c} is pixel (r, c): the AIRS trace lies on rows 15-16 and peaks near column
    312, the FGS1 PSF peaks at (15, 15)."""
    cfg, root = dataset_2024
    split, planet_id, _ = sim.planets(cfg)[0]
    for instrument, rows, cols in ((AIRS, (15, 16), range(300, 320)), (FGS1, (15,), (15,))):
        frames = pl.read_parquet(layout.signal_file(root, 2024, split, planet_id, 0, instrument.name)).to_numpy()
        long_reads = frames[1::2].mean(axis=0).reshape(instrument.rows, instrument.cols)
        row, col = np.unravel_index(long_reads.argmax(), long_reads.shape)
        assert row in rows and col in cols


def test_calibration_parquet_physical_format(dataset):
    cfg, root = dataset
    directories = [p for p in root.rglob("*_calibration*") if p.is_dir()]
    assert len(directories) == 2 * sum(n for _, _, n in sim.planets(cfg))
    for directory in directories:
        instrument = AIRS if directory.name.startswith("AIRS") else FGS1
        for kind in ("dark", "dead", "flat", "linear_corr", "read"):
            meta = pq.ParquetFile(directory / f"{kind}.parquet")
            assert meta.metadata.num_rows == instrument.rows * (6 if kind == "linear_corr" else 1)
            assert meta.schema.names == [f"column_{i}" for i in range(instrument.cols)]
            physical = {meta.schema.column(i).physical_type for i in range(instrument.cols)}
            assert physical == {"BOOLEAN" if kind == "dead" else "DOUBLE"}, (directory, kind)


def test_axis_info_is_null_padded_with_the_simulated_lengths(dataset):
    cfg, root = dataset
    table = pq.read_table(root / "axis_info.parquet")
    assert table.num_rows == 135000
    assert table.column_names == ["AIRS-CH0-axis0-h", "AIRS-CH0-axis2-um", "AIRS-CH0-integration_time", "FGS1-axis0-h"]
    valid = {
        "AIRS-CH0-axis0-h": cfg.airs_frames,
        "AIRS-CH0-axis2-um": 356,
        "AIRS-CH0-integration_time": cfg.airs_frames,
        "FGS1-axis0-h": cfg.fgs1_frames,
    }
    values = {}
    for name, length in valid.items():
        column = table.column(name)
        assert column.type == "double"
        assert column.null_count == 135000 - length, name  # parquet nulls, not NaN
        values[name] = column.to_numpy(zero_copy_only=False)[:length]
        assert np.all(np.isfinite(values[name]))
    k = np.arange(cfg.airs_frames // 2)
    np.testing.assert_allclose(values["AIRS-CH0-axis0-h"][0::2] * 3600, 0.1 + 4.8 * k, rtol=0, atol=1e-9)
    np.testing.assert_allclose(values["AIRS-CH0-axis0-h"][1::2] * 3600, 0.2 + 4.8 * k, rtol=0, atol=1e-9)
    j = np.arange(cfg.fgs1_frames // 2)
    np.testing.assert_allclose(values["FGS1-axis0-h"][0::2] * 3600, 0.1 + 0.4 * j, rtol=0, atol=1e-9)
    np.testing.assert_allclose(values["FGS1-axis0-h"][1::2] * 3600, 0.2 + 0.4 * j, rtol=0, atol=1e-9)
    assert np.all(values["AIRS-CH0-integration_time"][0::2] == 0.1) and np.all(
        values["AIRS-CH0-integration_time"][1::2] == 4.5
    )
    wavelength = values["AIRS-CH0-axis2-um"]
    assert wavelength[0] == pytest.approx(4.0785, abs=1e-4) and wavelength[355] == pytest.approx(1.6333, abs=1e-4)
    assert wavelength[39] == pytest.approx(3.8950, abs=1e-4) and wavelength[320] == pytest.approx(1.9518, abs=1e-4)


def test_csv_tables_2024(dataset_2024):
    cfg, root = dataset_2024
    plan = sim.planets(cfg)
    for split in ("train", "test"):
        table = pl.read_csv(root / f"{split}_adc_info.csv")
        assert table.columns == ["planet_id", *ADC_HEADER, "star"]
        assert table["planet_id"].to_list() == [pid for s, pid, _ in plan if s == split]
        for row in table.iter_rows(named=True):
            gains = sim.ADC_GAIN_2024[row["star"]]
            assert gains["AIRS-CH0"][0] <= row["AIRS-CH0_adc_gain"] <= gains["AIRS-CH0"][1]
            assert gains["FGS1"][0] <= row["FGS1_adc_gain"] <= gains["FGS1"][1]
            assert -1174 <= row["AIRS-CH0_adc_offset"] <= -697 and -492 <= row["FGS1_adc_offset"] <= -313
    labels = pl.read_csv(root / "train_labels.csv")
    assert labels.columns == ["planet_id", *WL]
    assert labels["planet_id"].dtype == pl.Int64
    assert labels["planet_id"].to_list() == [pid for s, pid, _ in plan if s == "train"]
    assert not (root / "train.csv").exists() and not (root / "adc_info.csv").exists()


def test_csv_tables_2025(dataset_2025):
    cfg, root = dataset_2025
    plan = sim.planets(cfg)
    assert (root / "adc_info.csv").read_text() == ",".join(ADC_HEADER) + "\n-1000.0,0.4369,-1000.0,0.4369\n"
    labels = pl.read_csv(root / "train.csv")
    assert labels.columns == ["planet_id", *WL] and labels.height == cfg.train_planets
    for split in ("train", "test"):
        lines = (root / f"{split}_star_info.csv").read_text().splitlines()
        assert lines[0] == "planet_id,Rs,Ms,Ts,Mp,e,P,sma,i"
        ids = [line.split(",")[0] for line in lines[1:]]
        expected = [pid for s, pid, _ in plan if s == split]
        # The competition's test file prints ids as floats, the train file as integers.
        assert ids == [f"{pid}.0" if split == "test" else str(pid) for pid in expected]
        info = pl.read_csv(root / f"{split}_star_info.csv")
        assert (info["e"] == 0.0).all() and ((info["i"] > 0) & (info["i"] <= 90)).all()


def test_wavelengths_submission_and_truth(dataset):
    cfg, root = dataset
    wavelengths = pl.read_csv(root / "wavelengths.csv")
    assert wavelengths.columns == WL and wavelengths.height == 1
    values = wavelengths.row(0)
    assert values[0] == sim.FGS1_WAVELENGTH_UM[cfg.edition]
    assert values[1] == pytest.approx(1.95176, abs=1e-4) and values[282] == pytest.approx(3.89504, abs=1e-4)
    assert np.all(np.diff(values[1:]) > 0)
    submission = pl.read_csv(root / "sample_submission.csv")
    assert submission.columns == ["planet_id", *WL, *[f"sigma_{j}" for j in range(1, 284)]]
    assert submission.height == cfg.test_planets
    truth = pl.read_csv(root / "simulation_truth.csv")
    assert truth.columns == ["split", "planet_id", "t1_h", "t2_h", "t3_h", "t4_h", *WL]
    assert list(zip(truth["split"], truth["planet_id"], strict=True)) == [(s, p) for s, p, _ in sim.planets(cfg)]
    depths = truth.select(WL).to_numpy()
    assert np.all((depths >= 1e-3) & (depths <= 7e-3))
    contacts = truth.select(["t1_h", "t2_h", "t3_h", "t4_h"]).to_numpy() * 3600
    window = cfg.window_s
    assert (
        np.all(np.diff(contacts, axis=1) > 0)
        and np.all(contacts[:, 0] >= 0.2 * window)
        and np.all(contacts[:, 3] <= 0.8 * window)
    )
    labels = pl.read_csv(layout.labels_file(root, cfg.edition))
    train_truth = truth.filter(pl.col("split") == "train").drop(["split", "t1_h", "t2_h", "t3_h", "t4_h"])
    assert labels.equals(train_truth)


def test_the_project_discovers_every_observation(dataset):
    cfg, root = dataset
    edition, found = layout.discover(root, ["train", "test"])
    assert edition == cfg.edition
    expected = sorted(
        layout.Observation(split, pid, visit, name)
        for split, pid, n_visits in sim.planets(cfg)
        for visit in range(n_visits)
        for name in INSTRUMENTS
    )
    assert found == expected


def test_a_second_visit_has_its_own_noise_and_calibration(dataset_2025):
    cfg, root = dataset_2025
    ((split, pid),) = [(s, p) for s, p, n in sim.planets(cfg) if n == 2]
    for name in INSTRUMENTS:
        visits = [pl.read_parquet(layout.signal_file(root, 2025, split, pid, v, name)).to_numpy() for v in (0, 1)]
        assert visits[0].shape == visits[1].shape == (cfg.frames(name), INSTRUMENTS[name].pixels)
        assert not np.array_equal(visits[0], visits[1])
        flats = [
            pl.read_parquet(layout.calibration_file(root, 2025, split, pid, v, name, "flat")).to_numpy() for v in (0, 1)
        ]
        assert not np.array_equal(flats[0], flats[1])


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_byte_identical_files(dataset_2025, tmp_path):
    cfg, root = dataset_2025
    again = _write_dataset(cfg, tmp_path / "again")
    files = _files(root)
    assert files == _files(again)
    for name in sorted(files):
        assert (root / name).read_bytes() == (again / name).read_bytes(), name


def test_worker_processes_write_the_same_bytes(dataset_2024, tmp_path, monkeypatch):
    cfg, root = dataset_2024
    split, planet_id, _ = sim.planets(cfg)[0]
    monkeypatch.setattr(sim.writer, "PARALLEL_MIN_VALUES", 0)  # large planets run in worker processes
    sim.write_planet(cfg, tmp_path, split, planet_id)
    for name in sim.planet_files(cfg, split, planet_id):
        assert (tmp_path / name).read_bytes() == (root / name).read_bytes(), name


def test_a_failing_worker_process_is_reported(dataset_2024, tmp_path, monkeypatch):
    cfg, _ = dataset_2024
    split, planet_id, _ = sim.planets(cfg)[0]
    monkeypatch.setattr(sim.writer, "PARALLEL_MIN_VALUES", 0)
    (tmp_path / split).write_text("a file where the planet folders should go")
    with pytest.raises(RuntimeError, match=f"simulating {split}/{planet_id} visit 0 AIRS-CH0 .exit 1.*FGS1 .exit 1"):
        sim.write_planet(cfg, tmp_path, split, planet_id)


def test_planets_are_deterministic_sorted_and_realistic():
    cfg = sim.SimulationConfig(train_planets=20, test_planets=5, edition=2025, two_visit_planets=3)
    plan = sim.planets(cfg)
    assert plan == sim.planets(cfg) == sorted(plan)
    ids = [pid for _, pid, _ in plan]
    assert len(set(ids)) == 25 and all(100_000 <= pid < 2**32 for pid in ids)
    train = sorted(pid for s, pid, _ in plan if s == "train")
    assert [pid for s, pid, n in plan if n == 2] == train[:3]
    assert sim.planets(dataclasses.replace(cfg, seed=43)) != plan


def test_another_seed_changes_the_data():
    cfg = sim.SimulationConfig(train_planets=1, test_planets=0, airs_frames=40, seed=1)
    ((_, pid, _),) = sim.planets(cfg)
    other = dataclasses.replace(cfg, seed=2)
    ((_, other_pid, _),) = sim.planets(other)
    frames = [
        sim.simulate_frames(sim.observation_model(c, sim.planet(c, p), 0, FGS1), sim._rng(c, "noise", p, 0, FGS1.name))[
            0
        ]
        for c, p in ((cfg, pid), (other, other_pid))
    ]
    assert not np.array_equal(*frames)


# --------------------------------------------------------------------------- configuration and CLI


def test_config_defaults_and_frame_alignment():
    assert sim.SimulationConfig.from_mapping({}) == sim.SimulationConfig()
    cfg = sim.SimulationConfig()
    assert (cfg.edition, cfg.airs_frames, cfg.fgs1_frames) == (2024, 11250, 135000)
    assert sim.SimulationConfig.from_mapping({"airs_frames": 120}).fgs1_frames == 1440
    assert sim.SimulationConfig(airs_frames=120, fgs1_frames=480).fgs1_frames == 480
    assert sim.SimulationConfig(airs_frames=120, fgs1_frames=480).window_s == pytest.approx(240 * 0.4)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"airs_frames": 121}, "airs_frames: an even integer"),
        ({"airs_frames": 120, "fgs1_frames": 1441}, "fgs1_frames: an even integer"),
        ({"airs_frames": 11252}, "airs_frames"),
        ({"airs_frames": 0}, "airs_frames"),
        ({"train_planets": -1}, "train_planets: an integer >= 0"),
        ({"test_planets": -2}, "test_planets"),
        ({"train_planets": 0, "test_planets": 0}, "at least one planet"),
        ({"two_visit_planets": 1}, "two_visit_planets = 0 for edition 2024"),
        ({"edition": 2025, "two_visit_planets": 5}, "at most the 4 planets"),
        ({"edition": 2023}, "edition: 2024 or 2025"),
        ({"seed": 1.5}, "seed"),
        ({"noise": "yes"}, "noise: true or false"),
        ({"train_planets": True}, "train_planets"),
        ({"hot_fraction": 0.5}, "hot_fraction: a fraction from 0 to 0.2"),
        ({"planets": 3}, "unknown key"),
        ({"airs_frames": 120, "bogus": 1, "other": 2}, r"unknown key\(s\) \['bogus', 'other'\]"),
    ],
)
def test_invalid_configuration_is_a_clear_input_error(settings, message):
    with pytest.raises(InputError, match=message) as err:
        sim.SimulationConfig.from_mapping(settings)
    assert str(err.value).startswith("simulation config: expected ")


def test_cli_rejects_invalid_parameters_with_exit_2(tmp_path, capsys):
    assert sim.main(["--out", str(tmp_path), "--airs-frames", "201"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: simulation config: expected airs_frames: an even integer") and "Traceback" not in err
    assert sim.main(["--out", str(tmp_path), "--train-planets", "-1"]) == 2
    assert "train_planets" in capsys.readouterr().err
    assert sim.main(["--out", str(tmp_path), "--two-visit-planets", "1"]) == 2
    assert "error: " in capsys.readouterr().err
    assert sim.main(["--out", str(tmp_path), "--airs-frames", "many"]) == 2
    assert "error: argument --airs-frames" in capsys.readouterr().err
    assert sim.main(["--airs-frames", "120"]) == 2
    assert "--out" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_cli_as_a_module_exits_2_without_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "arielcal.simulate", "--out", str(tmp_path), "--airs-frames", "7"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "error: simulation config: expected airs_frames" in done.stderr and "Traceback" not in done.stderr


def test_cli_writes_a_dataset(tmp_path, capsys):
    args = [
        "--out",
        str(tmp_path),
        "--airs-frames",
        "40",
        "--train-planets",
        "1",
        "--test-planets",
        "1",
        "--edition",
        "2025",
        "--noiseless",
        "--seed",
        "3",
    ]
    assert sim.main(args) == 0
    cfg = sim.SimulationConfig(edition=2025, airs_frames=40, train_planets=1, test_planets=1, noise=False, seed=3)
    assert _files(tmp_path) == _expected_files(cfg)
    assert len(capsys.readouterr().out.splitlines()) == 2


# --------------------------------------------------------------------------- physics


def test_label_order_and_airs_column_mapping():
    depths = np.arange(283, dtype=float)
    columns = sim.airs_column_depths(depths)
    assert columns[320] == 1 and columns[39] == 282 and columns[200] == 322 - 200 - 1
    assert np.all(columns[:39] == 282) and np.all(columns[321:] == 1)
    wavelengths = sim.label_wavelengths(2025)
    np.testing.assert_array_equal(wavelengths[1:], sim.airs_wavelengths()[320:38:-1])


def test_star_light_on_the_detectors():
    cfg = sim.SimulationConfig(train_planets=1, test_planets=0, airs_frames=20, jitter=False)
    ((_, pid, _),) = sim.planets(cfg)
    body = sim.planet(cfg, pid)
    rows, cols = sim.source_factors(cfg, body, 0, AIRS)
    image = rows[:, :1] * cols[:, :1].T
    column_flux = image.sum(axis=0)
    assert 305 <= column_flux.argmax() <= 318  # rising toward high column index, peak near 312
    assert column_flux[312] / column_flux[39] > 10
    assert image[8:24].sum() / image.sum() == pytest.approx(0.98, abs=0.01)
    rows, cols = sim.source_factors(cfg, body, 0, FGS1)
    psf = rows[:, :1] * cols[:, :1].T
    assert psf[10:22, 10:22].sum() / psf.sum() == pytest.approx(0.95, abs=0.01)
    assert np.unravel_index(psf.argmax(), psf.shape) == (15, 15)


def test_calibration_maps_are_realistic():
    rng = np.random.Generator(np.random.SFC64(0))
    maps = sim.calibration_maps(rng, AIRS, 0.007, 0.002)
    assert maps["linear_corr"].shape == (6, 32, 356) and maps["dead"].dtype == bool
    dead = maps["dead"]
    assert dead.sum() == round(0.002 * AIRS.pixels)
    assert np.count_nonzero(maps["dark"] > 0.05) == round(0.007 * AIRS.pixels)
    assert np.median(maps["dark"]) == pytest.approx(0.0063, rel=0.05)
    assert np.median(maps["read"]) == pytest.approx(13.0, rel=0.05)
    good_flat = maps["flat"][~dead]
    assert good_flat.min() >= 0.57 and good_flat.max() <= 1.11 and np.median(good_flat) == pytest.approx(1.0, abs=0.01)
    assert np.count_nonzero(maps["flat"][dead] <= 0) == (dead.sum() + 1) // 2
    assert np.all(maps["read"][dead] >= 35)
    sim.check_monotonic(maps["linear_corr"], -2000.0, 150_000.0)
    assert np.median(maps["linear_corr"][1]) == pytest.approx(0.9999, abs=1e-4)


def test_linearity_inverse_and_monotonic_check():
    rng = np.random.Generator(np.random.SFC64(1))
    coeffs = sim.calibration_maps(rng, AIRS, 0.0, 0.0)["linear_corr"].reshape(6, -1)[:, :50]
    y = np.linspace(-200.0, 45_000.0, 40)[:, None]
    steps = sim.newton_iterations(coeffs, np.full(50, -200.0), np.full(50, 45_000.0))
    assert steps.max() <= 3
    x = sim.invert_linearity(y, coeffs[:, None, :], int(steps.max()))
    np.testing.assert_allclose(
        sim.linearity(x, coeffs[:, None, :]), np.broadcast_to(y, x.shape), rtol=0, atol=sim.NEWTON_TOLERANCE_E
    )
    bad = coeffs[:, :1].copy()
    bad[2] = -1e-5  # P'(x) = 1 - 2e-5 x turns negative at 5e4
    with pytest.raises(ValueError, match="not increasing"):
        sim.check_monotonic(bad, 0.0, 60_000.0)


def test_error_feedback_rounding_keeps_every_window_sum_within_one_adu():
    rng = np.random.Generator(np.random.SFC64(2))
    x = np.full((3, 500), 1234.3456) + rng.uniform(0, 3, (3, 1))
    carry = np.zeros(3)
    raw = np.concatenate(
        [sim.digitise_error_feedback(x[:, i : i + 100], 1.5, -900.0, carry)[0] for i in range(0, 500, 100)], axis=1
    )
    exact = (x - -900.0) * 1.5
    for start, stop in [(0, 500), (17, 333), (250, 251), (499, 500)]:
        assert abs(raw[:, start:stop].astype(float).sum(axis=1) - exact[:, start:stop].sum(axis=1)).max() <= 1.0
    plain, _ = sim.digitise(x.astype(np.float32), 1.5, -900.0)
    assert abs(plain.astype(float).mean(axis=1) - exact.mean(axis=1)).max() > 0.01  # the bias error feedback removes


@pytest.mark.parametrize("mean", [0.002, 0.05, 0.4, 1.0])
def test_small_mean_poisson_sampler_is_poisson(mean):
    rng = np.random.Generator(np.random.SFC64(3))
    draws = sim.poisson_small_mean(rng, np.full((50, 4000), mean, dtype=np.float32)).ravel()
    n = draws.size
    for k in range(4):
        p = np.exp(-mean) * mean**k / np.prod(np.arange(1, k + 1))
        assert abs(np.mean(draws == k) - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-7, k
    assert draws.var() == pytest.approx(mean, rel=0.05)


def test_noise_model_read_shot_and_shared_early_charge():
    """CDS variance = 2 read^2 + dark/source charge; the two reads of a ramp share the early charge
    (covariance = mean short-read charge). Differences of consecutive ramps remove the transit."""
    cfg = sim.SimulationConfig(train_planets=1, test_planets=0, airs_frames=2000, nonlinearity=False)
    ((_, pid, _),) = sim.planets(cfg)
    model = sim.observation_model(cfg, sim.planet(cfg, pid), 0, AIRS)
    raw, clipped = sim.simulate_frames(model, sim._rng(cfg, "noise", pid, 0, AIRS.name), noise=True, nonlinearity=False)
    assert clipped == 0
    x = raw.reshape(AIRS.pixels, -1).astype(float) / model.gain
    short, long = np.diff(x[:, 0::2], axis=1), np.diff(x[:, 1::2], axis=1)
    maps = {k: v.ravel() for k, v in model.maps.items() if k != "linear_corr"}
    rate = (
        maps["flat"] * (model.row_factor[:, 0][:, None] * model.col_factor.mean(axis=1)[None, :]).ravel() + maps["dark"]
    )
    quantisation = 1 / (12 * model.gain**2)
    good = ~maps["dead"]
    faint = good & (rate * 4.6 < 0.5)
    read_ratio = short.var(axis=1)[faint] / 2 / (maps["read"][faint] ** 2 + quantisation)
    assert read_ratio.mean() == pytest.approx(1.0, abs=0.02)
    cds = long - short
    expected = 2 * maps["read"] ** 2 + rate * 4.5 + 2 * quantisation
    assert (cds.var(axis=1)[faint] / 2 / expected[faint]).mean() == pytest.approx(1.0, abs=0.02)
    bright = good & (rate * 0.1 > 50)
    assert bright.sum() > 300
    assert (cds.var(axis=1)[bright] / 2 / expected[bright]).mean() == pytest.approx(1.0, abs=0.03)
    shared = (
        np.mean((short - short.mean(axis=1, keepdims=True)) * (long - long.mean(axis=1, keepdims=True)), axis=1) / 2
    )
    # ~670 pixels, each covariance known to ~50 %: the mean to ~2 %.
    assert (shared[bright] / (rate[bright] * 0.1)).mean() == pytest.approx(1.0, abs=0.08)
    dead = maps["dead"]
    assert np.allclose(short.std(axis=1)[dead] / np.sqrt(2), sim.DEAD_NOISE_E, rtol=0.15)


def test_default_levels_never_reach_the_adc_limits():
    """Brightest star of the range, highest 2024 star-0 AIRS gain and least negative offsets."""
    cfg = sim.SimulationConfig(train_planets=1, test_planets=0, airs_frames=40)
    ((_, pid, _),) = sim.planets(cfg)
    body = sim.planet(cfg, pid)
    worst = {AIRS.name: (1.526, -697.0), FGS1.name: (1.058, -313.0)}
    body = dataclasses.replace(body, brightness=sim.BRIGHTNESS_RANGE[1], fgs1_colour=1.0, adc=worst)
    for instrument in (AIRS, FGS1):
        model = sim.observation_model(cfg, body, 0, instrument)
        raw, clipped = sim.simulate_frames(model, sim._rng(cfg, "noise", pid, 0, instrument.name))
        assert clipped == 0 and raw.min() > 0 and raw.max() < 65535


def test_light_curve_shapes_and_options():
    contacts = np.array([100.0, 150.0, 350.0, 400.0])
    t = np.linspace(0, 500, 1001)
    shape = sim.trapezoid(t, contacts)
    assert shape[t < 100].max() == 0 and shape[(t >= 150) & (t <= 350)].min() == 1 and shape[t > 400].max() == 0
    depths = np.array([2e-3, 5e-3])
    flat_bottom = sim.transit_multiplier(t, contacts, depths, np.array([0.7, 3.0]))
    np.testing.assert_allclose(flat_bottom.min(axis=1), 1 - depths)
    chord = sim.Chord.through(100.0, 400.0, 0.2, np.sqrt(depths.mean()))
    limb = sim.transit_multiplier(t, contacts, depths, np.array([0.7, 3.0]), chord, limb_darkening=True)
    assert np.all(limb.min(axis=1) < 1 - depths)  # the centre of a limb-darkened star is brighter than average
    assert np.all(limb[:, t < 95] == 1)  # the larger planet's first contact: 98.2 s
    cfg = sim.SimulationConfig(
        train_planets=1, test_planets=0, airs_frames=40, jitter=True, drift=True, limb_darkening=True
    )
    ((_, pid, _),) = sim.planets(cfg)
    plain = dataclasses.replace(cfg, jitter=False, drift=False, limb_darkening=False)
    for instrument in (AIRS, FGS1):
        rows, cols = sim.source_factors(cfg, sim.planet(cfg, pid), 0, instrument)
        base_rows, base_cols = sim.source_factors(plain, sim.planet(plain, pid), 0, instrument)
        assert rows.shape[1] == cols.shape[1] == cfg.frames(instrument.name) // 2 and base_rows.shape[1] == 1
        assert not np.allclose(rows * 1.0, base_rows) and not np.allclose(cols, base_cols)
        assert np.all(np.isfinite(rows)) and np.all(np.isfinite(cols))


# --------------------------------------------------------------------------- injection and recovery


def _naive_depths(
    root: Path, edition: int, split: str, planet_id: int, visit: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Depths (label order) from raw files by the naive recipe, and a rigorous bound on their error
    from ADC rounding of noiseless data.

    raw/gain + offset, linearity polynomial, CDS, dark x (4.5 s | 0.1 s), / flat, sum rows per
    column over good pixels, 1 - mean(flat bottom) / mean(out of transit).

    Bound: noiseless data round with error feedback, so the raw sum of a read over a run of n
    consecutive ramps is within 1 ADU of the exact sum (the flat bottom is one run, the baseline
    two). Through P the error is at most (P'(x_short) + P'(x_long)) / gain per run, plus the
    curvature term |P''| / (2 gain^2) per read, divided by the flat; the depth error is the
    in-transit plus out-of-transit column errors over the column flux. 5e-7 more covers the
    simulator's float32 arithmetic (relative 6e-8 per operation).
    """
    truth = pl.read_csv(root / "simulation_truth.csv").filter(pl.col("planet_id") == planet_id).row(0, named=True)
    contacts = np.array([truth[f"t{i}_h"] for i in range(1, 5)])
    axis = pl.read_parquet(root / "axis_info.parquet")
    if edition == 2024:
        adc = pl.read_csv(root / f"{split}_adc_info.csv").filter(pl.col("planet_id") == planet_id).row(0, named=True)
    else:
        adc = pl.read_csv(root / "adc_info.csv").row(0, named=True)
    depths, bounds = [], []
    for instrument, dt in ((FGS1, 0.1), (AIRS, 4.5)):
        name = instrument.name
        gain, offset = adc[f"{name}_adc_gain"], adc[f"{name}_adc_offset"]
        stamps = axis[f"{name}-axis0-h"].drop_nulls().to_numpy()
        pair_time = (stamps[0::2] + stamps[1::2]) / 2
        inside = (pair_time > contacts[1]) & (pair_time < contacts[2])
        outside = (pair_time < contacts[0]) | (pair_time > contacts[3])
        cal = {
            kind: pl.read_parquet(
                layout.calibration_file(root, edition, split, planet_id, visit, name, kind)
            ).to_numpy()
            for kind in ("dark", "dead", "flat", "linear_corr")
        }
        coeffs = cal["linear_corr"].reshape(6, instrument.rows, instrument.cols)
        raw = pl.read_parquet(layout.signal_file(root, edition, split, planet_id, visit, name)).to_numpy()
        column_in = np.zeros(instrument.cols)
        column_out = np.zeros(instrument.cols)
        error_in = np.zeros(instrument.cols)
        error_out = np.zeros(instrument.cols)
        for r in range(instrument.rows):  # one detector row at a time bounds the memory
            c = coeffs[:, r]
            x = raw[:, r * instrument.cols : (r + 1) * instrument.cols] / gain + offset
            y = c[0] + x * (c[1] + x * (c[2] + x * (c[3] + x * (c[4] + x * c[5]))))
            cds = y[1::2] - y[0::2]
            signal = (cds - cal["dark"][r] * dt) / cal["flat"][r]
            good = ~cal["dead"][r]
            column_in += np.where(good, signal[inside].mean(axis=0), 0)
            column_out += np.where(good, signal[outside].mean(axis=0), 0)
            slope = sum(k * c[k] * x.mean(axis=0) ** (k - 1) for k in range(1, 6))
            curvature = np.abs(sum(k * (k - 1) * c[k] * x.max(axis=0) ** (k - 2) for k in range(2, 6)))
            per_run = np.where(good, 2 * slope / gain / np.abs(cal["flat"][r]), 0)
            per_read = np.where(good, curvature / gain**2 / np.abs(cal["flat"][r]), 0)
            error_in += per_run / inside.sum() + per_read
            error_out += 2 * per_run / outside.sum() + per_read
        if instrument is FGS1:
            column_in, column_out = column_in.sum(keepdims=True), column_out.sum(keepdims=True)
            error_in, error_out = error_in.sum(keepdims=True), error_out.sum(keepdims=True)
        else:  # label order: wl_2 is column 320, wl_283 column 39
            column_in, column_out, error_in, error_out = (
                a[320:38:-1] for a in (column_in, column_out, error_in, error_out)
            )
        depths.append(1 - column_in / column_out)
        bounds.append((error_in + error_out) / (column_out - error_out) + 5e-7)
    return np.concatenate(depths), np.concatenate(bounds)


def _truth(root: Path, planet_id: int) -> np.ndarray:
    return pl.read_csv(root / "simulation_truth.csv").filter(pl.col("planet_id") == planet_id).select(WL).to_numpy()[0]


@pytest.mark.parametrize("edition", [2024, 2025])
def test_noiseless_depths_are_recovered_within_the_quantisation_bound(edition, tmp_path):
    """Fast tier: 1000 AIRS frames, where ADC rounding alone allows errors up to 2e-4 (2024) or
    6e-4 (2025, coarser ADC) at the faintest columns; observed errors are ~10 % of the bound."""
    cfg = sim.SimulationConfig(edition=edition, train_planets=1, test_planets=0, airs_frames=1000, noise=False, seed=11)
    root = _write_dataset(cfg, tmp_path)
    ((split, pid, _),) = sim.planets(cfg)
    depths, bound = _naive_depths(root, edition, split, pid)
    truth = _truth(root, pid)
    assert np.all(np.abs(depths - truth) <= bound)
    assert bound.max() < 1e-3 and bound[0] < 1e-4  # small against depths of 1e-3 .. 7e-3
    # Sharp enough to tell a spectrum read in detector order instead of label order.
    flipped = np.concatenate([truth[:1], truth[:0:-1]])
    assert np.sqrt(np.mean((depths - truth) ** 2)) < 0.2 * np.sqrt(np.mean((depths - flipped) ** 2))


@pytest.mark.heavy
@pytest.mark.parametrize("edition", [2024, 2025])
def test_full_size_noiseless_depths_are_recovered_to_1e6(edition, tmp_path):
    """Full size (11250 / 135000 frames), noiseless with linearity.

    1e-6 holds for FGS1, for the spectrum-wide mean and (statistically) for the rms, but cannot be
    guaranteed for every AIRS wavelength: ADC rounding alone leaves 1 ADU per read over each run of
    ramps, and the faintest columns carry only ~3e3 e- per CDS frame, so the rigorous bound there
    is 2.4e-5 (2024) / 4.9e-5 (2025) and the rms error 2.5e-7 / 5.2e-7 (observed maxima 1.3e-6 /
    2.5e-6 over 282 wavelengths). Each wavelength is held to its own bound instead.
    """
    cfg = sim.SimulationConfig(edition=edition, train_planets=1, test_planets=0, noise=False)
    root = _write_dataset(cfg, tmp_path)
    ((split, pid, _),) = sim.planets(cfg)
    depths, bound = _naive_depths(root, edition, split, pid)
    error = depths - _truth(root, pid)
    assert np.all(np.abs(error) <= bound)
    assert abs(error[0]) < 1e-6
    assert abs(error[1:].mean()) < 1e-7
    assert np.sqrt(np.mean(error[1:] ** 2)) < 1e-6
    assert np.median(np.abs(error[1:])) < 5e-7
