"""Injection-recovery of a split: every channel's depth joined with the truth, and statistics.

Tables are polars DataFrames; no I/O (science_io reads the files, the rule writes the results).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from . import science
from .deferred import DeferredModule
from .instruments import INSTRUMENTS

pl = DeferredModule("polars")

DEPTH_TABLE_COLUMNS = (
    "split", "planet_id", "visit", "instrument", "channel", "detector_column", "label",
    "wavelength_um", "depth", "sigma", "noise_ratio", "truth", "z",
)  # fmt: skip
SUMMARY_COLUMNS = (
    "split", "instrument", "observations", "n", "median_abs_z", "chi2_dof", "mean_z",
    "median_abs_residual_ppm", "median_sigma_ppm", "median_noise_ratio", "max_contact_error_min",
)  # fmt: skip


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


def summarize(split: str, depths, contact_errors: Sequence[float]) -> dict[str, list]:
    """Per instrument and overall: n, median |z|, chi2/dof, mean z, median |residual| and sigma
    (ppm), median noise ratio, and the largest contact-time error (minutes)."""
    summary = {name: [] for name in SUMMARY_COLUMNS}
    for instrument in (*INSTRUMENTS, "all"):
        part = depths if instrument == "all" else depths.filter(pl.col("instrument") == instrument)
        if part.height == 0:
            continue
        stats = science.recovery_statistics(part["depth"].to_numpy(), part["sigma"].to_numpy(), part["truth"].to_numpy())
        with np.errstate(all="ignore"):
            median_sigma = float(np.nanmedian(part["sigma"].to_numpy()))
            median_noise_ratio = float(np.nanmedian(part["noise_ratio"].to_numpy()))
        row = {
            "split": split,
            "instrument": instrument,
            "observations": part.select("planet_id", "visit", "instrument").unique().height,
            "n": stats["n"],
            "median_abs_z": stats["median_abs_z"],
            "chi2_dof": stats["chi2_dof"],
            "mean_z": stats["mean_z"],
            "median_abs_residual_ppm": stats["median_abs_residual"] * 1e6,
            "median_sigma_ppm": median_sigma * 1e6,
            "median_noise_ratio": median_noise_ratio,
            "max_contact_error_min": max(contact_errors) * 60 if contact_errors else float("nan"),
        }
        for name in SUMMARY_COLUMNS:
            summary[name].append(row[name])
    return summary
