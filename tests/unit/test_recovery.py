"""Injection-recovery tables (arielcal.recovery) and the QC observation row, with exact answers."""

import math

import numpy as np
import polars as pl
import pytest

from arielcal import qc, recovery


def _depths(labels, depth, sigma):
    n = len(labels)
    return pl.DataFrame(
        {
            "instrument": ["AIRS-CH0"] * (n - 1) + ["FGS1"],
            "channel": list(range(n - 1)) + [0],
            "detector_column": list(range(40, 40 + n - 1)) + [-1],
            "label": labels,
            "wavelength_um": [2.0 + k for k in range(n - 1)] + [math.nan],
            "depth": depth,
            "sigma": sigma,
            "noise_ratio": [1.0] * n,
        }
    )


def test_truth_is_taken_by_label_and_z_is_residual_over_sigma():
    table = _depths([3, 2, 1], [0.012, 0.010, 0.011], [0.001, 0.002, 0.001])
    truth = {7: (np.array([np.nan, 0.011, 0.010, 0.011]), np.array([1.0, 1.2, 2.8, 3.0]))}
    window = {"t1_h": 1.0, "t2_h": 1.25, "t3_h": 2.8, "t4_h": 2.9}
    depths, errors = recovery.join_truth([("train", "7", "0")], [table], [window], truth)
    np.testing.assert_allclose(depths["truth"].to_numpy(), [0.011, 0.010, 0.011])
    np.testing.assert_allclose(depths["z"].to_numpy(), [1.0, 0.0, 0.0], atol=1e-12)
    assert depths.columns == list(recovery.DEPTH_TABLE_COLUMNS) and depths["planet_id"].to_list() == [7, 7, 7]
    np.testing.assert_allclose(errors, [0.1])
    summary = recovery.summarize("train", depths, errors, naive=(0.0105, 0.0005))
    # Overall rows first, then terciles of |truth| / sigma for parts of >= 3 channels.
    assert summary["instrument"] == ["AIRS-CH0", "FGS1", "all", "all", "all", "all"]
    assert summary["snr_tercile"] == ["all", "all", "all", "low", "mid", "high"]
    assert summary["n"] == [2, 1, 3, 1, 1, 1]
    np.testing.assert_allclose(summary["chi2_dof"], [0.5, 0.0, 1 / 3, 0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(summary["max_contact_error_min"], [6.0] * 6)
    # ADC 2024 score: the truth 0.011, 0.010, 0.011 under N(depth, sigma), between the naive N(0.0105, 0.0005) and perfect N(truth, 1e-5).
    gll = lambda x, m, s: -0.5 * np.log(2 * np.pi) - np.log(s) - 0.5 * ((x - m) / s) ** 2  # noqa: E731
    truth_values, depth, sigma = (
        np.array([0.011, 0.010, 0.011]),
        np.array([0.012, 0.010, 0.011]),
        np.array([0.001, 0.002, 0.001]),
    )
    pred, naive, perfect = (
        gll(truth_values, depth, sigma).sum(),
        gll(truth_values, 0.0105, 0.0005).sum(),
        gll(truth_values, truth_values, 1e-5).sum(),
    )
    assert summary["gll_score"][2] == pytest.approx((pred - naive) / (perfect - naive), rel=1e-12)


def test_unknown_planet_and_label_zero_have_no_truth():
    table = _depths([0, 5, 1], [0.01, 0.01, 0.01], [0.001] * 3)
    depths, errors = recovery.join_truth([("test", "9", "0")], [table], [None], {})
    assert depths["truth"].is_nan().all() and errors == []
    known = recovery.true_depths(np.array([0, 2, 9]), np.array([np.nan, 0.1, 0.2]))
    assert math.isnan(known[0]) and known[1] == 0.2 and math.isnan(known[2])


def test_observation_row_counts_and_window():
    meta = {"shape": [10, 282, 32], "excluded_pixels": 12, "dq_counts": {"DEAD": 3, "HOT": 9}}
    white = np.array([[100.0, 100.0, 100.0], [4.0, 4.0, 4.0]])
    transit = {
        "window": {"t1_h": 1.0, "t2_h": 1.2, "t3_h": 2.8, "t4_h": 3.0},
        "instruments": {
            "AIRS-CH0": {
                "white_depth": 0.01,
                "fit_snr": 30.0,
                "white_noise_ratio": 1.1,
                "in_transit_bins": 4,
                "out_of_transit_bins": 6,
            }
        },
    }
    row = qc.observation_row(["train", "7", "0", "AIRS-CH0"], meta, white, transit)
    assert list(row) == list(qc.OBSERVATION_COLUMNS)
    assert (
        row["pixels"] == 282 * 32
        and row["excluded"] == 12
        and row["dead"] == 3
        and row["hot"] == 9
        and row["saturated"] == 0
    )
    assert row["t4_h"] == 3.0 and row["white_depth_ppm"] == 10_000.0 and row["white_ppm_per_bin"] == 2e4


def test_observation_row_of_a_visit_without_a_window():
    """No transit window: transit.json keeps only the bin counts; the row has NaN, not a KeyError."""
    meta = {"shape": [10, 282, 32], "excluded_pixels": 0, "dq_counts": {"JUMP_DET": 2}}
    white = np.array([[100.0, 100.0], [4.0, 4.0]])
    transit = {
        "window": None,
        "instruments": {"FGS1": {"in_transit_bins": 0, "out_of_transit_bins": 0, "margin_h": 0.1}},
    }
    row = qc.observation_row(["test", "7", "0", "FGS1"], meta, white, transit)
    assert np.isnan(row["t1_h"]) and np.isnan(row["white_depth_ppm"]) and np.isnan(row["white_snr"])
    assert row["in_bins"] == 0 and row["jump_det"] == 2


# --------------------------------------------------------------------------- end-to-end recovery


def _structured_truth(rng):
    """Depth by label index (0 unused): FGS1 1.2 %, AIRS channels 1 % or 2 % in a random
    pattern, so a reversed or shifted label order misses by 1 % on about half the channels."""
    truth = np.full(284, np.nan)
    truth[1] = 0.012
    truth[2:] = 0.01 + 0.01 * rng.integers(0, 2, 282)
    return truth


# A physical transit (the simulator's exact occultation of a uniform star, not the science
# layer's model): impact parameter 0.3, mid-transit 1.2 h, 1.79 stellar radii per hour.
IMPACT, MID_H, SPEED = 0.3, 1.2, 1.79


def _contacts(depth):
    p = np.sqrt(depth)
    outer, inner = np.sqrt((1 + p) ** 2 - IMPACT**2) / SPEED, np.sqrt((1 - p) ** 2 - IMPACT**2) / SPEED
    return np.array([MID_H - outer, MID_H - inner, MID_H + inner, MID_H + outer])


def _transit(time_h, contacts, depth):
    from arielcal.simulate.occultation import uniform_occultation

    z = np.sqrt(IMPACT**2 + (SPEED * (time_h - MID_H)) ** 2)
    return 1.0 - uniform_occultation(np.sqrt(np.asarray(depth))[None, :], z[:, None])


def _visit(rng, truth, contacts):
    """Products of one visit built here (time, column, row) with Gaussian noise of a known
    variance, and their light curves through the package's extraction."""
    from arielcal import science

    time_h = np.arange(120) * 0.02
    width = 0.02
    var_pixel = 1e5
    curves = {}
    # AIRS: detector column c carries label wl_{322 - c} (doc 1.8), trace on rows 8..23.
    columns = np.arange(39, 321)
    airs = np.zeros((120, 282, 32))
    airs[:, :, 8:24] = 1e5 * _transit(time_h, contacts, truth[322 - columns])[:, :, None]
    # FGS1: a 12 x 12 box of bright pixels.
    fgs1 = np.zeros((120, 32, 32))
    fgs1[:, 10:22, 10:22] = 1e5 * _transit(time_h, contacts, np.array([truth[1]]))[:, :, None]
    setups = {
        "AIRS-CH0": (airs, [39, 321], True, [8, 24], [8, 24]),
        "FGS1": (fgs1, [0, 32], False, [10, 22], [6, 26]),
    }
    for instrument, (cube, cut, per_column, aperture, background) in setups.items():
        cube = cube + rng.normal(0.0, np.sqrt(var_pixel), cube.shape)
        variance = np.full(cube.shape, var_pixel)
        made = science.observation_curves(cube, variance, cut, per_column, aperture, background)
        flux, flux_var = made.curves.flux, made.curves.variance
        channels = {
            "detector_column": made.detector_columns.tolist(),
            "label": made.labels.tolist(),
            "wavelength_um": [None] * made.labels.size,
        }
        curves[instrument] = science.InstrumentCurves(
            time_h, width, np.stack([flux, flux_var]), np.stack([made.white_flux, made.white_variance]), channels
        )
    fit = science.visit_depths(curves, science.Settings(margin_bins=2, baseline_degree=0))
    window = dict(zip(("t1_h", "t2_h", "t3_h", "t4_h"), fit.window, strict=True))
    return pl.DataFrame(fit.rows), window


def test_recovery_sees_a_reversed_or_shifted_spectrum_and_a_depth_bias():
    """Extraction, window, depths and the truth join on a spectrum with structure far above the
    sigma: the recovered depths match the truth (chi2/dof ~ 1, no bias), and the same depths
    against a reversed, a shifted or a 3 % scaled truth fail the same bounds."""
    rng = np.random.default_rng(11)
    truth = _structured_truth(rng)
    contacts = _contacts(0.015)
    table, window = _visit(rng, truth, contacts)
    airs = table.filter(pl.col("instrument") == "AIRS-CH0")
    # The label of detector column c is 322 - c (doc 1.8), written out, not computed by the package.
    assert airs["label"].to_list() == [322 - c for c in airs["detector_column"].to_list()]
    assert airs["detector_column"].to_list() == list(range(39, 321))
    # Contacts of the mean depth's disc: within ~1.5 bins (channels of 1 % and 2 % differ by less).
    np.testing.assert_allclose([window[f"t{i}_h"] for i in range(1, 5)], contacts, atol=0.03)

    def stats(truth_by_label):
        depths, _ = recovery.join_truth([("train", "7", "0")], [table], [window], {7: (truth_by_label, contacts)})
        summary = recovery.summarize("train", depths, [])
        return {
            name: {key: summary[key][i] for key in summary}
            for i, name in enumerate(summary["instrument"])
            if summary["snr_tercile"][i] == "all"
        }

    def passes(s):
        # The chord fit's weak limb-darkening prior on this uniform star: mean z -0.24 here.
        return 0.6 < s["chi2_dof"] < 1.6 and abs(s["mean_z"]) < 0.5

    got = stats(truth)
    assert passes(got["AIRS-CH0"]) and got["AIRS-CH0"]["n"] == 282, got["AIRS-CH0"]
    assert abs(got["FGS1"]["mean_z"]) < 4, got["FGS1"]
    # The relative bias of the AIRS depths: ~0.4 % here, against the 3 % checked below.
    residual = (airs["depth"].to_numpy() - truth[airs["label"].to_numpy()]) / truth[airs["label"].to_numpy()]
    assert abs(np.mean(residual)) < 0.01, np.mean(residual)
    # The power of these bounds: the same depths fail them against a wrong truth.
    reversed_truth = np.concatenate([truth[:2], truth[2:][::-1]])
    shifted_truth = np.concatenate([truth[:2], np.roll(truth[2:], 1)])
    biased_truth = truth / 1.03
    for wrong in (reversed_truth, shifted_truth, biased_truth):
        assert not passes(stats(wrong)["AIRS-CH0"]), stats(wrong)["AIRS-CH0"]


def test_naive_prediction_is_the_mean_and_std_of_the_training_labels():
    truth = {1: (np.array([np.nan, 1.0, 3.0]), None), 2: (np.array([np.nan, 5.0, 7.0]), None)}
    assert recovery.naive_prediction(truth) == (4.0, float(np.std([1.0, 3.0, 5.0, 7.0])))


def test_depths_of_a_visit_without_a_window_read_as_numbers(tmp_path):
    """Every float column of depths.csv is typed on reading: all-empty columns (a visit whose
    window was not found) must not come back as strings (recovery's medians then fail)."""
    from arielcal import formats, science, science_io

    assert set(science.DEPTH_COLUMNS) - {"instrument", "channel", "detector_column", "label"} == set(
        science_io.DEPTH_FLOATS
    )
    columns = {name: [float("nan"), float("nan")] for name in science.DEPTH_COLUMNS}  # written as "nan"
    columns.update(instrument=["FGS1", "AIRS-CH0"], channel=[0, 0], detector_column=[-1, 320], label=[1, 2])
    formats.write_csv(tmp_path / "depths.csv", columns)
    table = science_io.read_depths(tmp_path / "depths.csv")
    assert all(table.schema[name] == pl.Float64 for name in science_io.DEPTH_FLOATS)
    assert np.isnan(table["sigma"].to_numpy()).all()
