"""The competition's Gaussian log-likelihood score and the statistics per SNR tercile."""

from __future__ import annotations

import numpy as np
import pytest

from arielcal import science


def test_gll_score_is_one_for_the_perfect_and_zero_for_the_naive_prediction():
    truth = np.array([1e-3, 2e-3, 4e-3, 5e-3])
    mean, std = 3e-3, 1.5e-3
    assert science.gaussian_log_likelihood_score(truth, np.full(4, 1e-5), truth, mean, std) == 1.0
    assert science.gaussian_log_likelihood_score(np.full(4, mean), np.full(4, std), truth, mean, std) == 0.0
    # Per value with weights (ADC 2025): the same two ends, clipped to [0, 1].
    weights = np.array([57.846, 1, 1, 1])
    sigma_true = np.array([1e-6, 1e-5, 1e-5, 1e-5])
    assert science.gaussian_log_likelihood_score(truth, sigma_true, truth, mean, std, sigma_true, weights) == 1.0
    assert (
        science.gaussian_log_likelihood_score(truth + 0.01, np.full(4, 1e-6), truth, mean, std, sigma_true, weights)
        == 0.0
    )


def test_gll_score_of_honest_sigmas_beats_overconfident_ones():
    rng = np.random.default_rng(0)
    truth = rng.uniform(1e-3, 6e-3, 2000)
    sigma = np.full(truth.size, 1e-4)
    estimate = truth + rng.normal(0, 1e-4, truth.size)
    honest = science.gaussian_log_likelihood_score(estimate, sigma, truth, truth.mean(), truth.std())
    overconfident = science.gaussian_log_likelihood_score(estimate, sigma / 3, truth, truth.mean(), truth.std())
    assert overconfident < 0 < honest < 1  # 3x too small sigmas score below the naive prediction
    assert np.isnan(science.gaussian_log_likelihood_score([np.nan], [1.0], [1.0], 0.0, 1.0))


def test_terciles_split_by_the_injected_snr():
    truth = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    sigma = np.ones(6)
    estimate = truth + np.array([0.5, -0.5, 1.0, 1.0, -2.0, 2.0])
    stats = science.tercile_statistics(estimate, sigma, truth)
    assert [stats[t]["n"] for t in ("low", "mid", "high")] == [2, 2, 2]
    assert stats["low"]["mean_z"] == 0.0 and stats["mid"]["mean_z"] == 1.0
    assert stats["high"]["chi2_dof"] == pytest.approx(4.0)
