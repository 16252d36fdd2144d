"""Validation scores of depths and sigmas against a truth: statistics per SNR tercile and the
competition's Gaussian log-likelihood score.

The score follows the Ariel Data Challenge metric (the organisers' ``ariel_score`` of ADC 2024,
and its ADC 2025 revision): the Gaussian log-likelihood (GLL) of the truth under N(estimate,
sigma), normalised between a naive prediction (every value = the mean of the training labels,
sigma = their standard deviation: score 0) and a perfect one (the truth with sigma_true: score
1). ADC 2024 sums the three GLLs over every value with sigma_true = 1e-5; ADC 2025 normalises
each value, with sigma_true 1e-6 for FGS1 (wl_1) and 1e-5 for AIRS, and averages with weight
57.846 on FGS1; it clips the result to [0, 1]. Sigmas are floored at 1e-15 as in the metric.
"""

from __future__ import annotations

import numpy as np

from .labels import recovery_statistics

F64 = np.float64
SIGMA_FLOOR = 1e-15
TERCILES = ("low", "mid", "high")


def _gll(x, mean, sigma):
    return -0.5 * np.log(2 * np.pi) - np.log(sigma) - 0.5 * ((x - mean) / sigma) ** 2


def gaussian_log_likelihood_score(
    estimate, sigma, truth, naive_mean: float, naive_sigma: float, sigma_true=1e-5, weights=None
) -> float:
    """The ADC score of ``estimate`` +- ``sigma`` against ``truth`` (finite entries only; NaN if none).

    ``weights`` None: ADC 2024 (sums, not clipped). Given (one per value): ADC 2025 (each value
    normalised, weighted mean, clipped to [0, 1]); ``sigma_true`` may be one value per entry.
    """
    estimate, sigma, truth = (np.asarray(a, F64).ravel() for a in (estimate, sigma, truth))
    sigma_true = np.broadcast_to(np.asarray(sigma_true, F64), truth.shape).ravel()
    ok = np.isfinite(estimate) & np.isfinite(sigma) & np.isfinite(truth)
    if not ok.any():
        return float("nan")
    s = np.clip(sigma[ok], SIGMA_FLOOR, None)
    pred = _gll(truth[ok], estimate[ok], s)
    perfect = _gll(truth[ok], truth[ok], sigma_true[ok])
    naive = _gll(truth[ok], naive_mean, naive_sigma)
    if weights is None:
        return float((pred.sum() - naive.sum()) / (perfect.sum() - naive.sum()))
    w = np.broadcast_to(np.asarray(weights, F64), truth.shape).ravel()[ok]
    return float(np.clip(np.average((pred - naive) / (perfect - naive), weights=w), 0.0, 1.0))


def tercile_statistics(estimate, sigma, truth) -> dict[str, dict[str, float]]:
    """:func:`recovery_statistics` in each tercile of the injected signal-to-noise ratio
    |truth| / sigma (the truth's, not the estimate's: selecting on the estimate would select on
    the error and bias the mean z of every tercile). Low, mid, high; NaN statistics when empty."""
    estimate, sigma, truth = (np.asarray(a, F64).ravel() for a in (estimate, sigma, truth))
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.abs(truth) / sigma
    ok = np.isfinite(snr) & np.isfinite(estimate) & (sigma > 0)
    order = np.argsort(snr[ok], kind="stable")
    index = np.flatnonzero(ok)[order]
    return {
        name: recovery_statistics(estimate[part], sigma[part], truth[part])
        for name, part in zip(TERCILES, np.array_split(index, 3), strict=True)
    }
