"""Injection-recovery of a split: every channel's depth joined with the truth, and statistics.

Tables are polars DataFrames; no I/O (science_io reads the files, the rule writes the results).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from . import science
from .deferred import DeferredModule
from .instruments import INSTRUMENTS

pl = DeferredModule("polars")

DEPTH_TABLE_COLUMNS = (
    "split", "planet_id", "visit", "instrument", "channel", "detector_column", "label",
    "wavelength_um", "depth", "sigma", "noise_ratio", "red_noise", "sigma_geometry", "truth", "z",
)  # fmt: skip
SUMMARY_COLUMNS = (
    "split", "instrument", "snr_tercile", "observations", "n", "median_abs_z", "chi2_dof", "mean_z",
    "median_abs_residual_ppm", "median_sigma_ppm", "median_noise_ratio", "median_red_noise",
    "median_sigma_geometry_ppm", "gll_score", "gll_score_2025", "max_contact_error_min",
)  # fmt: skip
#: ADC 2024: sigma_true 1e-5 for every value; ADC 2025: 1e-6 for FGS1, 1e-5 for AIRS, FGS1 weight 57.846.
SIGMA_TRUE_2024 = 1e-5
SIGMA_TRUE_2025 = {"FGS1": 1e-6, "AIRS-CH0": 1e-5}
FGS1_WEIGHT_2025 = 57.846


def true_depths(labels: np.ndarray, truth_by_label: np.ndarray) -> np.ndarray:
    """The injected depth of each channel from its label index (NaN for label 0 or unknown)."""
    known = (labels > 0) & (labels < truth_by_label.size)
    return np.where(known, truth_by_label[np.clip(labels, 0, truth_by_label.size - 1)], np.nan)


def join_truth(visits: Sequence, tables: Sequence, windows: Sequence, truth: Mapping) -> tuple:
    """(depths table with truth and z = residual / sigma, largest contact-time error per visit in hours).

    ``visits`` are (split, planet, visit), each with its depths.csv table and transit window;
    ``truth`` is science_io.read_truth's {planet_id: (depth by label, contact times or None)}.
    """
    frames, contact_errors = [], []
    for (split, planet, visit), table, window in zip(visits, tables, windows, strict=True):
        known = truth.get(int(planet))
        label = table["label"].to_numpy()
        if known is None:
            truth_depth = np.full(label.size, np.nan)
        else:
            truth_depth = true_depths(label, known[0])
            if known[1] is not None and window is not None:
                detected = np.array([window[f"t{i}_h"] for i in range(1, 5)])
                contact_errors.append(float(np.abs(detected - known[1]).max()))
        z = (table["depth"].to_numpy() - truth_depth) / table["sigma"].to_numpy()
        for name in ("red_noise", "sigma_geometry"):
            if name not in table.columns:
                table = table.with_columns(pl.lit(np.nan, dtype=pl.Float64).alias(name))
        frames.append(
            table.with_columns(
                pl.lit(split).alias("split"),
                pl.lit(int(planet), dtype=pl.Int64).alias("planet_id"),
                pl.lit(int(visit), dtype=pl.Int64).alias("visit"),
                pl.Series("truth", truth_depth),
                pl.Series("z", z),
            )
        )
    return pl.concat(frames).select(*DEPTH_TABLE_COLUMNS), contact_errors


def naive_prediction(truth: Mapping, split: str = "train") -> tuple[float, float]:
    """(mean, standard deviation) of every label value of the training planets (the metric's
    naive prediction); of all planets when ``truth`` holds no training planet."""
    values = [np.asarray(depths, dtype=np.float64)[1:] for depths, _ in truth.values()]
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
    return (float(finite.mean()), float(finite.std())) if finite.size else (float("nan"), float("nan"))


def _row(split, instrument, tercile, part, stats, contact_errors, naive):
    depth, sigma, truth = (part[c].to_numpy() for c in ("depth", "sigma", "truth"))
    sigma_true = np.array([SIGMA_TRUE_2025.get(i, SIGMA_TRUE_2024) for i in part["instrument"].to_list()])
    weights = np.where(part["instrument"].to_numpy() == "FGS1", FGS1_WEIGHT_2025, 1.0)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        medians = {
            c: float(np.nanmedian(part[c].to_numpy())) for c in ("sigma", "noise_ratio", "red_noise", "sigma_geometry")
        }
    return {
        "split": split,
        "instrument": instrument,
        "snr_tercile": tercile,
        "observations": part.select("planet_id", "visit", "instrument").unique().height,
        "n": stats["n"],
        "median_abs_z": stats["median_abs_z"],
        "chi2_dof": stats["chi2_dof"],
        "mean_z": stats["mean_z"],
        "median_abs_residual_ppm": stats["median_abs_residual"] * 1e6,
        "median_sigma_ppm": medians["sigma"] * 1e6,
        "median_noise_ratio": medians["noise_ratio"],
        "median_red_noise": medians["red_noise"],
        "median_sigma_geometry_ppm": medians["sigma_geometry"] * 1e6,
        "gll_score": science.gaussian_log_likelihood_score(depth, sigma, truth, *naive, sigma_true=SIGMA_TRUE_2024),
        "gll_score_2025": science.gaussian_log_likelihood_score(
            depth, sigma, truth, *naive, sigma_true=sigma_true, weights=weights
        ),
        "max_contact_error_min": max(contact_errors) * 60 if contact_errors else float("nan"),
    }


def summarize(
    split: str, depths, contact_errors: Sequence[float], naive: tuple[float, float] = (float("nan"),) * 2
) -> dict[str, list]:
    """Per instrument and overall (snr_tercile "all"), then per tercile of the injected SNR
    |truth| / sigma (low, mid, high): n, median |z|, chi2/dof, mean z, median |residual| and sigma
    (ppm), median noise ratio, red-noise factor and geometry sigma, the competition's Gaussian
    log-likelihood score (ADC 2024 and 2025 forms, against ``naive`` = (mean, std) of the training
    labels) and the largest contact-time error (minutes)."""
    summary = {name: [] for name in SUMMARY_COLUMNS}
    rows = []
    for instrument in (*INSTRUMENTS, "all"):
        part = depths if instrument == "all" else depths.filter(pl.col("instrument") == instrument)
        if part.height == 0:
            continue
        depth, sigma, truth = (part[c].to_numpy() for c in ("depth", "sigma", "truth"))
        rows.append(
            _row(
                split, instrument, "all", part, science.recovery_statistics(depth, sigma, truth), contact_errors, naive
            )
        )
        if part.height >= 3:
            with np.errstate(divide="ignore", invalid="ignore"):
                snr = np.abs(truth) / sigma
            ok = np.isfinite(snr) & np.isfinite(depth) & (sigma > 0)
            order = np.flatnonzero(ok)[np.argsort(snr[ok], kind="stable")]
            stats = science.tercile_statistics(depth, sigma, truth)
            for name, index in zip(science.scores.TERCILES, np.array_split(order, 3), strict=True):
                rows_of = part.with_row_index("_row").filter(pl.col("_row").is_in(index.tolist())).drop("_row")
                rows.append(_row(split, instrument, name, rows_of, stats[name], contact_errors, naive))
    rows.sort(key=lambda r: r["snr_tercile"] != "all")
    for row in rows:
        for name in SUMMARY_COLUMNS:
            summary[name].append(row[name])
    return summary
