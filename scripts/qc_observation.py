"""QC figures of one planet visit (every instrument observed): detector images (raw frame 0,
time-median of the calibrated bins with the aperture and background regions, DQ map), white
light curves with the detected transit window, and the AIRS spectral light curves."""

from arielcal import threads

threads.limit(snakemake.threads)

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.colors import ListedColormap
from matplotlib.patches import Rectangle

from arielcal import dq as dqflags
from arielcal import formats, workflow
from arielcal.errors import InputError
from arielcal.instruments import INSTRUMENTS

DPI = 80


FLOATS = {name: pl.Float64 for name in ("wavelength_um", "depth", "sigma", "noise_ratio")}


def inputs_of(instrument):
    key = instrument.replace("-", "_")
    return {name: snakemake.input[f"{key}_{name}"] for name in ("calibrated", "dq", "meta", "spectral", "white", "light_curves", "signal")}


def first_frame(path, instrument):
    """Raw frame 0 (rows, cols) from a projected read of one row of the signal parquet."""
    inst = INSTRUMENTS[instrument]
    try:
        frame = pl.read_parquet(path, columns=formats.signal_column_names(inst), n_rows=1).to_numpy()
    except Exception as exc:
        raise InputError(path, "a readable signal parquet", f"{type(exc).__name__}: {exc}") from exc
    return frame.reshape(inst.rows, inst.cols).astype(np.float64)


def window_lines(ax, window):
    if window is None:
        return
    for name in ("t1_h", "t2_h", "t3_h", "t4_h"):
        ax.axvline(window[name], color="0.5", lw=0.8, ls="--")


def images(instruments, files, title):
    fig, axes = plt.subplots(len(instruments), 3, figsize=(15, 3.6 * len(instruments)), squeeze=False)
    dq_cmap = ListedColormap(["#f0f0f0", "#f4a261", "#d62828"])
    for row, instrument in enumerate(instruments):
        f = files[instrument]
        meta = formats.load_json(f["meta"])
        start, stop = meta["columns"]
        raw = first_frame(f["signal"], instrument)
        ax = axes[row, 0]
        shown = ax.imshow(raw, origin="lower", aspect="auto", cmap="magma", vmin=np.percentile(raw, 1), vmax=np.percentile(raw, 99.5))
        if instrument == "AIRS-CH0":
            for c in (start, stop - 0.5):
                ax.axvline(c, color="cyan", lw=0.8)
        ax.set(title=f"{instrument}: raw frame 0 (ADU)", xlabel="detector column", ylabel="detector row")
        fig.colorbar(shown, ax=ax)

        calibrated = formats.load_npy(f["calibrated"])
        with np.errstate(all="ignore"):
            median = np.nanmedian(np.asarray(calibrated, dtype=np.float64), axis=0).T  # (row, column)
        ax = axes[row, 1]
        positive = median[np.isfinite(median) & (median > 0)]
        floor = np.percentile(positive, 5) if positive.size else 1.0
        shown = ax.imshow(
            np.log10(np.clip(median, floor, None)),
            origin="lower",
            aspect="auto",
            cmap="viridis",
            extent=(start - 0.5, stop - 0.5, -0.5, median.shape[0] - 0.5),
        )
        light_curves = formats.load_json(f["light_curves"])
        ap = light_curves["aperture"]["rows"]
        outside = light_curves["background"]["outside"]
        if instrument != "AIRS-CH0":
            ax.add_patch(Rectangle((ap[0] - 0.5, ap[0] - 0.5), ap[1] - ap[0], ap[1] - ap[0], fill=False, ec="white", lw=0.8))
            if outside is not None:
                ax.add_patch(Rectangle((outside[0] - 0.5, outside[0] - 0.5), outside[1] - outside[0], outside[1] - outside[0], fill=False, ec="orange", lw=0.8, ls="--"))
        else:
            for r in ap:
                ax.axhline(r - 0.5, color="white", lw=1.6)
            for r in outside or ():
                ax.axhline(r - 0.5, color="orange", lw=0.8, ls="--")
        ax.set(title=f"calibrated, time median (log10 e-/bin); aperture white, background outside orange", xlabel="detector column", ylabel="detector row")
        ax.title.set_fontsize(8)
        fig.colorbar(shown, ax=ax)

        dq = formats.load_npy(f["dq"]).T  # (row, column)
        category = np.where(dqflags.excluded(dq), 2, np.where(dq != 0, 1, 0))
        ax = axes[row, 2]
        ax.imshow(category, origin="lower", aspect="auto", cmap=dq_cmap, vmin=0, vmax=2, interpolation="nearest", extent=(start - 0.5, stop - 0.5, -0.5, dq.shape[0] - 0.5))
        counts = meta["dq_counts"]
        ax.set(
            title=f"DQ: {int((category == 2).sum())} excluded (red), {int((category == 1).sum())} flagged only (orange)\n"
            f"DEAD {counts.get('DEAD', 0)}, HOT {counts.get('HOT', 0)}, SATURATED {counts.get('SATURATED', 0)}, NO_FLAT_FIELD {counts.get('NO_FLAT_FIELD', 0)}",
            xlabel="detector column",
            ylabel="detector row",
        )
        ax.title.set_fontsize(8)
    fig.suptitle(title)
    fig.subplots_adjust(left=0.06, right=0.97, bottom=0.1, top=0.86, wspace=0.3, hspace=0.55)
    return fig


def white_curves(instruments, files, title):
    fig, axes = plt.subplots(len(instruments), 1, figsize=(10, 3.2 * len(instruments)), squeeze=False, sharex=True)
    for ax, instrument in zip(axes[:, 0], instruments):
        f = files[instrument]
        light_curves = formats.load_json(f["light_curves"])
        flux, variance = formats.load_npy(f["white"])
        time_h = np.asarray(light_curves["time_h"])
        scale = np.nanmedian(flux) if np.isfinite(flux).any() else 1.0
        ax.errorbar(time_h, flux / scale, yerr=np.sqrt(variance) / abs(scale), fmt=".", ms=3, lw=0.5, color="C0" if instrument == "AIRS-CH0" else "C1")
        window = TRANSIT["window"]
        window_lines(ax, window)
        fit = TRANSIT["instruments"][instrument]
        if window is None:
            label = "no window detected"
        else:
            label = f"window {window['t1_h']:.3f}-{window['t4_h']:.3f} h (joint fit), depth {1e6 * (fit['white_depth'] or np.nan):.0f} +- {1e6 * (fit['white_sigma'] or np.nan):.0f} ppm, scatter/sigma {fit['white_noise_ratio'] or np.nan:.2f}"
        ax.set(title=f"{instrument} white light curve ({light_curves['white_channels']} channels): {label}", ylabel="flux / median")
        ax.title.set_fontsize(9)
    axes[-1, 0].set_xlabel("time (h)")
    fig.suptitle(title)
    fig.subplots_adjust(left=0.06, right=0.97, bottom=0.1, top=0.86, wspace=0.3, hspace=0.55)
    return fig


def spectral_curves(instruments, files, title):
    if "AIRS-CH0" not in instruments:
        fig, ax = plt.subplots(figsize=(8, 2))
        ax.text(0.5, 0.5, "no AIRS-CH0 observation in this visit", ha="center", va="center")
        ax.set_axis_off()
        return fig
    f = files["AIRS-CH0"]
    light_curves = formats.load_json(f["light_curves"])
    flux, _ = formats.load_npy(f["spectral"])
    time_h = np.asarray(light_curves["time_h"])
    wavelength = np.array([np.nan if w is None else w for w in light_curves["channels"]["wavelength_um"]])
    window = TRANSIT["window"]
    out = np.ones(time_h.size, bool)
    if window is not None:
        out = (time_h < window["t1_h"]) | (time_h > window["t4_h"])
        if not out.any():
            out[:] = True
    with np.errstate(all="ignore"):
        relative = flux / np.nanmedian(flux[out], axis=0)
    order = np.argsort(wavelength)  # increasing wavelength = label order
    depths = pl.read_csv(snakemake.input.depths, schema_overrides=FLOATS).filter(pl.col("instrument") == "AIRS-CH0")
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(15, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    finite = relative[np.isfinite(relative)]
    half = np.percentile(np.abs(finite - 1.0), 98) if finite.size else 0.01
    lo, hi = 1.0 - half, 1.0 + half
    shown = ax.imshow(
        relative[:, order].T,
        origin="lower",
        aspect="auto",
        cmap="RdBu_r",
        vmin=lo,
        vmax=hi,
        extent=(time_h[0], time_h[-1], 0, order.size),
        interpolation="nearest",
    )
    ticks = np.linspace(0, order.size - 1, 6).astype(int)
    ax.set_yticks(ticks + 0.5, [f"{wavelength[order][t]:.2f}" for t in ticks])
    window_lines(ax, window)
    ax.set(title="AIRS-CH0 spectral light curves / out-of-transit median", xlabel="time (h)", ylabel="wavelength (um)")
    fig.colorbar(shown, ax=ax)
    w = depths["wavelength_um"].to_numpy()
    d = depths["depth"].to_numpy() * 1e6
    s = depths["sigma"].to_numpy() * 1e6
    bx.fill_between(w[np.argsort(w)], (d - s)[np.argsort(w)], (d + s)[np.argsort(w)], color="C0", alpha=0.3, lw=0)
    bx.plot(np.sort(w), d[np.argsort(w)], color="C0", lw=0.8)
    bx.set(title="transit depth per column (+-1 sigma)", xlabel="wavelength (um)", ylabel="depth (ppm)")
    fig.suptitle(title)
    fig.subplots_adjust(left=0.06, right=0.97, bottom=0.1, top=0.86, wspace=0.3, hspace=0.55)
    return fig


with workflow.step(snakemake, "qc_observation") as step:
    instruments = list(snakemake.params.instruments)
    files = {instrument: inputs_of(instrument) for instrument in instruments}
    TRANSIT = formats.load_json(snakemake.input.transit)
    w = snakemake.wildcards
    title = f"{w.split} planet {w.planet} visit {w.visit}"
    for name, make in (("images", images), ("white", white_curves), ("spectral", spectral_curves)):
        fig = make(instruments, files, title)
        with formats.atomic_path(snakemake.output[name]) as tmp:
            fig.savefig(tmp, dpi=DPI, format="png")
        plt.close(fig)
        workflow.log.info("wrote %s", snakemake.output[name])
