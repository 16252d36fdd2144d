"""Per-visit figures: detector images, white and spectral light curves of one visit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..instruments import AIRS
from ..science.variance import time_median
from .render import _figure, _finish, _or_nan, _window_lines


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
    return time_median(np.asarray(calibrated, dtype=np.float64)).T


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
        shown = ax.imshow(
            raw, origin="lower", aspect="auto", cmap="magma", vmin=np.percentile(raw, 1), vmax=np.percentile(raw, 99.5)
        )
        for c in (start, stop - 0.5) if airs else ():
            ax.axvline(c, color="cyan", lw=0.8)
        ax.set(title=f"{obs.instrument}: raw frame 0 (ADU)", xlabel="detector column", ylabel="detector row")
        fig.colorbar(shown, ax=ax)

        median = obs.median_image
        extent = (start - 0.5, stop - 0.5, -0.5, median.shape[0] - 0.5)
        positive = median[np.isfinite(median) & (median > 0)]
        floor = np.percentile(positive, 5) if positive.size else 1.0
        ax = axes[row, 1]
        shown = ax.imshow(
            np.log10(np.clip(median, floor, None)), origin="lower", aspect="auto", cmap="viridis", extent=extent
        )
        ap, outside = obs.aperture_rows, obs.background_outside
        if airs:
            for r in ap:
                ax.axhline(r - 0.5, color="white", lw=1.6)
            for r in outside or ():
                ax.axhline(r - 0.5, color="orange", lw=0.8, ls="--")
        else:
            ax.add_patch(
                Rectangle((ap[0] - 0.5, ap[0] - 0.5), ap[1] - ap[0], ap[1] - ap[0], fill=False, ec="white", lw=0.8)
            )
            if outside is not None:
                side = outside[1] - outside[0]
                ax.add_patch(
                    Rectangle(
                        (outside[0] - 0.5, outside[0] - 0.5), side, side, fill=False, ec="orange", lw=0.8, ls="--"
                    )
                )
        ax.set(
            title="calibrated, time median (log10 e-/bin); aperture white, background outside orange",
            xlabel="detector column",
            ylabel="detector row",
        )
        ax.title.set_fontsize(8)
        fig.colorbar(shown, ax=ax)

        category = np.where(obs.excluded, 2, np.where(obs.dq != 0, 1, 0))
        ax = axes[row, 2]
        ax.imshow(
            category,
            origin="lower",
            aspect="auto",
            cmap=dq_cmap,
            vmin=0,
            vmax=2,
            interpolation="nearest",
            extent=extent,
        )
        counts = obs.dq_counts
        ax.set(
            title=f"DQ: {int((category == 2).sum())} excluded (red), {int((category == 1).sum())} flagged only (orange)\n"
            + ", ".join(f"{flag} {counts.get(flag, 0)}" for flag in ("DEAD", "HOT", "SATURATED", "NO_FLAT_FIELD")),
            xlabel="detector column",
            ylabel="detector row",
        )
        ax.title.set_fontsize(8)
    return _finish(fig, view.title)


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
        ax.set(
            title=f"{obs.instrument} white light curve ({obs.white_channels} channels): {label}", ylabel="flux / median"
        )
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
    shown = ax.imshow(
        relative[:, order].T,
        origin="lower",
        aspect="auto",
        cmap="RdBu_r",
        vmin=1 - half,
        vmax=1 + half,
        extent=extent,
        interpolation="nearest",
    )
    ticks = np.linspace(0, order.size - 1, 6).astype(int)
    ax.set_yticks(ticks + 0.5, [f"{obs.wavelength_um[order][t]:.2f}" for t in ticks])
    _window_lines(ax, window)
    ax.set(
        title=f"{AIRS.name} spectral light curves / out-of-transit median", xlabel="time (h)", ylabel="wavelength (um)"
    )
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
