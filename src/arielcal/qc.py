"""QC figures and the ranking of visits worth a look: pure functions, data in, figures out.

Figures use matplotlib's object API (``matplotlib.figure.Figure``), never ``pyplot``: jobs run
as threads of one process (arielcal.jobs) and pyplot's global figure registry is not
thread-safe. Loading the data they show is :mod:`arielcal.science_io`'s job.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import formats
from .instruments import AIRS

DPI = 80
# Report copies: at most this wide, 256-colour palette (a full-size figure is ~250 KB).
REPORT_MAX_WIDTH_PX = 900
CONTACTS = ("t1_h", "t2_h", "t3_h", "t4_h")


@dataclass
class ObservationView:
    """What the per-visit figures show of one observation."""

    instrument: str
    raw_frame: np.ndarray  # (row, detector column), ADU
    median_image: np.ndarray  # (row, column of the cut), e- per bin
    dq: np.ndarray  # (row, column of the cut)
    columns: tuple[int, int]
    dq_counts: Mapping[str, int]
    excluded: np.ndarray  # (row, column) bool
    aperture_rows: Sequence[int]
    background_outside: Sequence[int] | None
    time_h: np.ndarray
    white: np.ndarray  # (2, time): flux, variance
    spectral_flux: np.ndarray  # (time, channel)
    wavelength_um: np.ndarray  # (channel,)
    white_channels: int
    fit: Mapping  # transit.json "instruments" entry


@dataclass
class VisitView:
    title: str
    observations: list[ObservationView]
    window: Mapping | None
    depths: Mapping[str, np.ndarray] = field(default_factory=dict)  # AIRS: wavelength_um, depth, sigma

    def of(self, instrument: str) -> ObservationView | None:
        return next((o for o in self.observations if o.instrument == instrument), None)


def time_median_image(calibrated: np.ndarray) -> np.ndarray:
    """(time, column, row) product -> (row, column) median over time, NaN where no bin is valid."""
    cube = np.asarray(calibrated, dtype=np.float64)
    seen = np.isfinite(cube).any(axis=0)  # all-NaN pixels skipped: no warning, no global filter
    median = np.full(cube.shape[1:], np.nan)
    median[seen] = np.nanmedian(cube[:, seen], axis=0)
    return median.T


def _figure(**kwargs):
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _window_lines(ax, window) -> None:
    for name in CONTACTS if window is not None else ():
        ax.axvline(window[name], color="0.5", lw=0.8, ls="--")


def _finish(fig, title: str):
    fig.suptitle(title)
    fig.subplots_adjust(left=0.06, right=0.97, bottom=0.1, top=0.86, wspace=0.3, hspace=0.55)
    return fig


def visit_images(view: VisitView):
    """Per instrument: raw frame 0, the time median with aperture and background, the DQ map."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Rectangle

    fig = _figure(figsize=(15, 3.6 * len(view.observations)))
    axes = fig.subplots(len(view.observations), 3, squeeze=False)
    dq_cmap = ListedColormap(["#f0f0f0", "#f4a261", "#d62828"])
    for row, obs in enumerate(view.observations):
        start, stop = obs.columns
        airs = obs.instrument == AIRS.name
        raw = obs.raw_frame
        ax = axes[row, 0]
        shown = ax.imshow(raw, origin="lower", aspect="auto", cmap="magma", vmin=np.percentile(raw, 1), vmax=np.percentile(raw, 99.5))
        for c in (start, stop - 0.5) if airs else ():
            ax.axvline(c, color="cyan", lw=0.8)
        ax.set(title=f"{obs.instrument}: raw frame 0 (ADU)", xlabel="detector column", ylabel="detector row")
        fig.colorbar(shown, ax=ax)

        median = obs.median_image
        extent = (start - 0.5, stop - 0.5, -0.5, median.shape[0] - 0.5)
        positive = median[np.isfinite(median) & (median > 0)]
        floor = np.percentile(positive, 5) if positive.size else 1.0
        ax = axes[row, 1]
        shown = ax.imshow(np.log10(np.clip(median, floor, None)), origin="lower", aspect="auto", cmap="viridis", extent=extent)
        ap, outside = obs.aperture_rows, obs.background_outside
        if airs:
            for r in ap:
                ax.axhline(r - 0.5, color="white", lw=1.6)
            for r in outside or ():
                ax.axhline(r - 0.5, color="orange", lw=0.8, ls="--")
        else:
            ax.add_patch(Rectangle((ap[0] - 0.5, ap[0] - 0.5), ap[1] - ap[0], ap[1] - ap[0], fill=False, ec="white", lw=0.8))
            if outside is not None:
                side = outside[1] - outside[0]
                ax.add_patch(Rectangle((outside[0] - 0.5, outside[0] - 0.5), side, side, fill=False, ec="orange", lw=0.8, ls="--"))
        ax.set(title="calibrated, time median (log10 e-/bin); aperture white, background outside orange", xlabel="detector column", ylabel="detector row")
        ax.title.set_fontsize(8)
        fig.colorbar(shown, ax=ax)

        category = np.where(obs.excluded, 2, np.where(obs.dq != 0, 1, 0))
        ax = axes[row, 2]
        ax.imshow(category, origin="lower", aspect="auto", cmap=dq_cmap, vmin=0, vmax=2, interpolation="nearest", extent=extent)
        counts = obs.dq_counts
        ax.set(
            title=f"DQ: {int((category == 2).sum())} excluded (red), {int((category == 1).sum())} flagged only (orange)\n"
            + ", ".join(f"{flag} {counts.get(flag, 0)}" for flag in ("DEAD", "HOT", "SATURATED", "NO_FLAT_FIELD")),
            xlabel="detector column",
            ylabel="detector row",
        )
        ax.title.set_fontsize(8)
    return _finish(fig, view.title)


def _or_nan(value) -> float:
    return math.nan if value is None else float(value)


def visit_white_curves(view: VisitView):
    """The white light curve of every instrument with the joint transit window and its fit."""
    fig = _figure(figsize=(10, 3.2 * len(view.observations)))
    axes = fig.subplots(len(view.observations), 1, squeeze=False, sharex=True)
    window = view.window
    for ax, obs in zip(axes[:, 0], view.observations, strict=True):
        flux, variance = obs.white
        scale = np.nanmedian(flux) if np.isfinite(flux).any() else 1.0
        colour = "C0" if obs.instrument == AIRS.name else "C1"
        ax.errorbar(obs.time_h, flux / scale, yerr=np.sqrt(variance) / abs(scale), fmt=".", ms=3, lw=0.5, color=colour)
        _window_lines(ax, window)
        fit = obs.fit
        if window is None:
            label = "no window detected"
        else:
            label = (
                f"window {window['t1_h']:.3f}-{window['t4_h']:.3f} h (joint fit), depth {1e6 * _or_nan(fit['white_depth']):.0f}"
                f" +- {1e6 * _or_nan(fit['white_sigma']):.0f} ppm, scatter/sigma {_or_nan(fit['white_noise_ratio']):.2f}"
            )
        ax.set(title=f"{obs.instrument} white light curve ({obs.white_channels} channels): {label}", ylabel="flux / median")
        ax.title.set_fontsize(9)
    axes[-1, 0].set_xlabel("time (h)")
    return _finish(fig, view.title)


def visit_spectral_curves(view: VisitView):
    """AIRS spectral light curves over their out-of-transit median, in wavelength order, and the depths."""
    obs = view.of(AIRS.name)
    if obs is None:
        fig = _figure(figsize=(8, 2))
        ax = fig.subplots()
        ax.text(0.5, 0.5, f"no {AIRS.name} observation in this visit", ha="center", va="center")
        ax.set_axis_off()
        return fig
    time_h, window = obs.time_h, view.window
    out = np.ones(time_h.size, bool)
    if window is not None:
        out = (time_h < window["t1_h"]) | (time_h > window["t4_h"])
        out = out if out.any() else np.ones(time_h.size, bool)
    with np.errstate(all="ignore"):
        relative = obs.spectral_flux / np.nanmedian(obs.spectral_flux[out], axis=0)
    order = np.argsort(obs.wavelength_um)  # increasing wavelength = label order
    fig = _figure(figsize=(15, 4.5))
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    finite = relative[np.isfinite(relative)]
    half = np.percentile(np.abs(finite - 1.0), 98) if finite.size else 0.01
    extent = (time_h[0], time_h[-1], 0, order.size)
    shown = ax.imshow(relative[:, order].T, origin="lower", aspect="auto", cmap="RdBu_r", vmin=1 - half, vmax=1 + half, extent=extent, interpolation="nearest")
    ticks = np.linspace(0, order.size - 1, 6).astype(int)
    ax.set_yticks(ticks + 0.5, [f"{obs.wavelength_um[order][t]:.2f}" for t in ticks])
    _window_lines(ax, window)
    ax.set(title=f"{AIRS.name} spectral light curves / out-of-transit median", xlabel="time (h)", ylabel="wavelength (um)")
    fig.colorbar(shown, ax=ax)
    by_wavelength = np.argsort(view.depths["wavelength_um"])
    w = view.depths["wavelength_um"][by_wavelength]
    d = view.depths["depth"][by_wavelength] * 1e6
    s = view.depths["sigma"][by_wavelength] * 1e6
    bx.fill_between(w, d - s, d + s, color="C0", alpha=0.3, lw=0)
    bx.plot(w, d, color="C0", lw=0.8)
    bx.set(title="transit depth per column (+-1 sigma)", xlabel="wavelength (um)", ylabel="depth (ppm)")
    return _finish(fig, view.title)


VISIT_FIGURES = {
    "images": visit_images,
    "white_light_curves": visit_white_curves,
    "spectral_light_curves": visit_spectral_curves,
}


def png_bytes(fig, dpi: int = DPI, max_width_px: int | None = None) -> bytes:
    """The figure as PNG; with ``max_width_px``, scaled down to it and reduced to 256 colours."""
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format="png")
    if max_width_px is None:
        return buffer.getvalue()
    from PIL import Image

    buffer.seek(0)
    with Image.open(buffer) as image:
        image = image.convert("RGB")
        if image.width > max_width_px:
            image = image.resize((max_width_px, round(image.height * max_width_px / image.width)), Image.LANCZOS)
        small = io.BytesIO()
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(small, format="PNG", optimize=True)
    return small.getvalue()


def save_png(fig, path, dpi: int = DPI, max_width_px: int | None = None) -> None:
    """Write the figure atomically (a killed job leaves no truncated PNG)."""
    data = png_bytes(fig, dpi, max_width_px)
    with formats.atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)


# --- Ranking of the visits worth a look -----------------------------------------------------

# (column of qc_observations.csv, floor of the robust scale, sides: "both" or "high").
METRICS = {
    "noise_z": ("white_noise_ratio", 0.02, "both"),
    "excluded_z": ("excluded_fraction", 1e-3, "high"),
    "depth_z": ("white_depth_ppm", 10.0, "both"),
}


def robust_z(values: np.ndarray, floor: float, sides: str) -> np.ndarray:
    """|value - median| / max(1.4826 MAD, floor) (high side only for ``sides="high"``); inf where not finite."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    if not finite.any():
        return np.full(values.shape, np.inf)
    median = np.median(values[finite])
    scale = max(1.4826 * np.median(np.abs(values[finite] - median)), floor)
    z = (values - median) / scale
    z = np.abs(z) if sides == "both" else np.maximum(z, 0.0)
    return np.where(finite, z, np.inf)


def _number(row: Mapping, name: str) -> float:
    try:
        return float(row[name])
    except (KeyError, TypeError, ValueError):
        return math.nan


RANKING_COLUMNS = ("rank", "planet_id", "visit", "score", "reason", *METRICS)


def rank_visits(rows: Sequence[Mapping], keep: int) -> list[dict]:
    """The ``keep`` worst visits of a split's ``qc_observations.csv`` rows, worst first.

    Each observation gets the robust z of every METRICS column against the observations of its
    instrument; a visit scores its largest z (inf without a transit window or with a non-finite
    metric). Returns dicts with rank, planet_id, visit, score, reason and each metric's largest z.
    """
    rows = [dict(row) for row in rows]
    for row in rows:
        row["excluded_fraction"] = _number(row, "excluded") / max(_number(row, "pixels"), 1.0)
    for name, (column, floor, sides) in METRICS.items():
        for instrument in {row["instrument"] for row in rows}:
            members = [row for row in rows if row["instrument"] == instrument]
            for row, z in zip(members, robust_z([_number(row, column) for row in members], floor, sides), strict=True):
                row[name] = float(z)
    visits: dict[tuple[int, int], dict] = {}
    for row in rows:
        key = (int(row["planet_id"]), int(row["visit"]))
        visit = visits.setdefault(key, {"score": -math.inf, "reason": "", **{name: 0.0 for name in METRICS}})
        for name in METRICS:
            visit[name] = max(visit[name], row[name])
            if row[name] > visit["score"]:
                visit["score"], visit["reason"] = row[name], f"{name} {row['instrument']}"
        if not math.isfinite(_number(row, "t1_h")):
            visit["score"], visit["reason"] = math.inf, "no transit window"
    ranked = sorted(visits.items(), key=lambda item: (-item[1]["score"], item[0]))
    return [
        {"rank": rank, "planet_id": planet, "visit": visit, **info}
        for rank, ((planet, visit), info) in enumerate(ranked[: max(int(keep), 0)], start=1)
    ]


# --- Split-level figures ----------------------------------------------------------------------

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


DQ_COLUMNS = ("DO_NOT_USE", "DEAD", "HOT", "SATURATED", "AD_FLOOR", "NO_FLAT_FIELD", "NO_LIN_CORR")
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
        "white_depth_ppm": _or_nan(fit["white_depth"]) * 1e6,
        "white_snr": _or_nan(fit["fit_snr"]),
        "white_noise_ratio": _or_nan(fit["white_noise_ratio"]),
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
    axes[0].set(title="excluded pixels per observation (AIRS blue, FGS1 orange)", xlabel="observation (row of qc_observations.csv)", ylabel="% of pixels")
    axes[1].scatter(index, [row["white_noise_ratio"] for row in rows], c=colours)
    axes[1].axhline(1.0, color="0.5", lw=0.8)
    axes[1].set(title="white light curve: scatter / propagated sigma", xlabel="observation", ylabel="sqrt(chi2/dof)")
    for label, time_h, flux in curves[:MAX_CURVES]:
        if np.isfinite(flux).any():
            axes[2].plot(time_h, flux / np.nanmedian(flux), lw=0.7, label=label)
    axes[2].set(title=f"white light curves / median (first {min(len(curves), MAX_CURVES)})", xlabel="time (h)", ylabel="relative flux")
    if len(curves) <= 8:
        axes[2].legend(fontsize=7)
    for ax in axes:
        ax.title.set_fontsize(9)
    fig.suptitle(f"{split}: {visits} planet visits, {len(rows)} observations")
    fig.tight_layout()
    return fig
