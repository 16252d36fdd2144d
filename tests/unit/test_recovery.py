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
    truth_values, depth, sigma = np.array([0.011, 0.010, 0.011]), np.array([0.012, 0.010, 0.011]), np.array([0.001, 0.002, 0.001])
    pred, naive, perfect = gll(truth_values, depth, sigma).sum(), gll(truth_values, 0.0105, 0.0005).sum(), gll(truth_values, truth_values, 1e-5).sum()
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
        "instruments": {"AIRS-CH0": {"white_depth": 0.01, "fit_snr": 30.0, "white_noise_ratio": 1.1, "in_transit_bins": 4, "out_of_transit_bins": 6}},
    }
    row = qc.observation_row(["train", "7", "0", "AIRS-CH0"], meta, white, transit)
    assert list(row) == list(qc.OBSERVATION_COLUMNS)
    assert row["pixels"] == 282 * 32 and row["excluded"] == 12 and row["dead"] == 3 and row["hot"] == 9 and row["saturated"] == 0
    assert row["t4_h"] == 3.0 and row["white_depth_ppm"] == 10_000.0 and row["white_ppm_per_bin"] == 2e4


def test_naive_prediction_is_the_mean_and_std_of_the_training_labels():
    truth = {1: (np.array([np.nan, 1.0, 3.0]), None), 2: (np.array([np.nan, 5.0, 7.0]), None)}
    assert recovery.naive_prediction(truth) == (4.0, float(np.std([1.0, 3.0, 5.0, 7.0])))
