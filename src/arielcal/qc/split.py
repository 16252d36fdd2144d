"""Split-level QC: the injection-recovery figure, qc_observations.csv rows and the split summary figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..instruments import AIRS
from .render import CONTACTS, _figure, _or_nan

MAX_SPECTRA = 4
MAX_CURVES = 24


def recovery_figure(split: str, depths, summary: Mapping[str, Sequence]):
    """Injection-recovery of a split (arielcal.recovery tables): AIRS spectra against the truth,
    the z histogram against N(0, 1), z per channel and the statistics."""
    import polars as pl

    fig = _figure(figsize=(15, 8))
    grid = fig.add_gridspec(2, 3)
    spectra = fig.add_subplot(grid[0, :])
    airs = depths.filter(pl.col("instrument") == AIRS.name)
    shown = airs.select("planet_id", "visit").unique(maintain_order=True).head(MAX_SPECTRA).rows()
    for k, (planet, visit) in enumerate(shown):
        one = airs.filter((pl.col("planet_id") == planet) & (pl.col("visit") == visit)).sort("wavelength_um")
        w, d, s, t = (one[c].to_numpy() for c in ("wavelength_um", "depth", "sigma", "truth"))
        spectra.fill_between(w, (d - s) * 1e6, (d + s) * 1e6, color=f"C{k}", alpha=0.25, lw=0)
        spectra.plot(w, d * 1e6, color=f"C{k}", lw=0.8, label=f"{planet}/{visit} estimate +-1 sigma")
        if np.isfinite(t).any():
            spectra.plot(w, t * 1e6, color=f"C{k}", lw=1.5, ls="--", label=f"{planet}/{visit} injected")
    title = f"{split}: {AIRS.name} transit depth spectra (first {len(shown)} observations)"
    spectra.set(title=title, xlabel="wavelength (um)", ylabel="depth (ppm)")
    if shown:
        spectra.legend(fontsize=7, ncol=2)
    z = depths["z"].to_numpy()
    z = z[np.isfinite(z)]
    hist = fig.add_subplot(grid[1, 0])
    if z.size:
        hist.hist(np.clip(z, -6, 6), bins=41, range=(-6, 6), density=True, color="0.6")
        x = np.linspace(-6, 6, 200)
        hist.plot(x, np.exp(-x * x / 2) / np.sqrt(2 * np.pi), color="k", lw=1, label="N(0, 1)")
        hist.legend(fontsize=7)
    hist.set(title="residual / propagated sigma (clipped at +-6)", xlabel="z")
    scatter = fig.add_subplot(grid[1, 1])
    for instrument, colour in ((AIRS.name, "C0"), ("FGS1", "C1")):
        part = depths.filter((pl.col("instrument") == instrument) & pl.col("z").is_finite())
        x = part["wavelength_um"].to_numpy() if instrument == AIRS.name else np.full(part.height, 0.7)
        scatter.scatter(x, part["z"].to_numpy(), s=4, color=colour, label=instrument)
    scatter.axhline(0, color="0.5", lw=0.8)
    scatter.set(title="z per channel (FGS1 at 0.7 um)", xlabel="wavelength (um)", ylabel="z")
    text = fig.add_subplot(grid[1, 2])
    text.set_axis_off()
    lines = ["instrument   n   median|z|  chi2/dof  mean z"]
    for i, instrument in enumerate(summary["instrument"]):
        n, mz, chi2, mean = (summary[k][i] for k in ("n", "median_abs_z", "chi2_dof", "mean_z"))
        lines.append(f"{instrument:<10} {n:>5}  {mz:8.3f}  {chi2:8.3f}  {mean:+6.3f}")
    lines.append("(Gaussian z: median |z| 0.674, chi2/dof 1)" if z.size else "no truth available for this split")
    text.text(0, 0.9, "\n".join(lines), family="monospace", fontsize=9, va="top")
    fig.tight_layout()
    return fig


DQ_COLUMNS = ("DO_NOT_USE", "DEAD", "HOT", "SATURATED", "JUMP_DET", "AD_FLOOR", "NO_FLAT_FIELD", "NO_LIN_CORR")
OBSERVATION_COLUMNS = (
    "split", "planet_id", "visit", "instrument", "pixels", "excluded", *(flag.lower() for flag in DQ_COLUMNS),
    *CONTACTS, "white_depth_ppm", "white_snr", "white_noise_ratio", "white_ppm_per_bin", "in_bins", "out_bins",
)  # fmt: skip


def observation_row(key: Sequence, meta: Mapping, white: np.ndarray, transit: Mapping) -> dict:
    """One row of qc_observations.csv: ``key`` (split, planet, visit, instrument), the product's
    meta.json, its white light curve (2, time) and the visit's transit.json."""
    split, planet, visit, instrument = key
    window = transit["window"] or {}
    fit = transit["instruments"][instrument]
    flux, variance = white
    with np.errstate(all="ignore"):
        ppm_per_bin = float(np.nanmedian(np.sqrt(variance) / flux)) * 1e6 if np.isfinite(flux).any() else np.nan
    row = {
        "split": split,
        "planet_id": int(planet),
        "visit": int(visit),
        "instrument": instrument,
        "pixels": int(np.prod(meta["shape"][1:])),
        "excluded": int(meta["excluded_pixels"]),
        **{flag.lower(): int(meta["dq_counts"].get(flag, 0)) for flag in DQ_COLUMNS},
        **{name: float(window.get(name, np.nan)) for name in CONTACTS},
        # A visit without a transit window has no white-light fit: NaN, not a missing key.
        "white_depth_ppm": _or_nan(fit.get("white_depth")) * 1e6,
        "white_snr": _or_nan(fit.get("fit_snr")),
        "white_noise_ratio": _or_nan(fit.get("white_noise_ratio")),
        "white_ppm_per_bin": ppm_per_bin,
        "in_bins": int(fit["in_transit_bins"]),
        "out_bins": int(fit["out_of_transit_bins"]),
    }
    return {name: row[name] for name in OBSERVATION_COLUMNS}


def split_summary_figure(split: str, rows: Sequence[Mapping], curves: Sequence[tuple], visits: int):
    """Excluded pixels and white-light noise per observation, and the first white light curves;
    ``curves`` are (label, time_h, flux) per observation."""
    fig = _figure(figsize=(16, 4.5))
    axes = fig.subplots(1, 3)
    index = np.arange(len(rows))
    colours = ["C0" if row["instrument"] == AIRS.name else "C1" for row in rows]
    fraction = np.array([row["excluded"] / max(row["pixels"], 1) for row in rows])
    axes[0].bar(index, 100 * fraction, color=colours)
    axes[0].set(
        title="excluded pixels per observation (AIRS blue, FGS1 orange)",
        xlabel="observation (row of qc_observations.csv)",
        ylabel="% of pixels",
    )
    axes[1].scatter(index, [row["white_noise_ratio"] for row in rows], c=colours)
    axes[1].axhline(1.0, color="0.5", lw=0.8)
    axes[1].set(title="white light curve: scatter / propagated sigma", xlabel="observation", ylabel="sqrt(chi2/dof)")
    for label, time_h, flux in curves[:MAX_CURVES]:
        if np.isfinite(flux).any():
            axes[2].plot(time_h, flux / np.nanmedian(flux), lw=0.7, label=label)
    axes[2].set(
        title=f"white light curves / median (first {min(len(curves), MAX_CURVES)})",
        xlabel="time (h)",
        ylabel="relative flux",
    )
    if len(curves) <= 8:
        axes[2].legend(fontsize=7)
    for ax in axes:
        ax.title.set_fontsize(9)
    fig.suptitle(f"{split}: {visits} planet visits, {len(rows)} observations")
    fig.tight_layout()
    return fig
