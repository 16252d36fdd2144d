"""Per-split QC: a table of every observation (flagged-pixel counts from the product metadata,
the visit's transit window, white-light-curve depth and noise) and a summary figure."""

from matplotlib.figure import Figure  # not pyplot: jobs may share a process (arielcal.jobs)
import numpy as np

from arielcal import formats, qc, workflow

FLAGS = ("DO_NOT_USE", "DEAD", "HOT", "SATURATED", "AD_FLOOR", "NO_FLAT_FIELD", "NO_LIN_CORR")
MAX_CURVES = 24


def nan_if_none(value):
    return np.nan if value is None else float(value)


with workflow.step(snakemake, "qc_split") as step:
    keys = snakemake.params.observations
    rows = {name: [] for name in ("split", "planet_id", "visit", "instrument", "pixels", "excluded")}
    rows.update({flag.lower(): [] for flag in FLAGS})
    rows.update({name: [] for name in ("t1_h", "t2_h", "t3_h", "t4_h", "white_depth_ppm", "white_snr", "white_noise_ratio", "white_ppm_per_bin", "in_bins", "out_bins")})
    curves = []
    transits = {tuple(key): formats.load_json(path) for key, path in zip(snakemake.params.visits, snakemake.input.transit)}
    for (split, planet, visit, instrument), meta_path, lc_path, white_path in zip(keys, snakemake.input.meta, snakemake.input.light_curves, snakemake.input.white):
        meta = formats.load_json(meta_path)
        light_curves = formats.load_json(lc_path)
        flux, variance = formats.load_npy(white_path)
        transit = transits[(split, planet, visit)]
        window = transit["window"] or {}
        fit = transit["instruments"][instrument]
        counts = meta["dq_counts"]
        rows["split"].append(split)
        rows["planet_id"].append(int(planet))
        rows["visit"].append(int(visit))
        rows["instrument"].append(instrument)
        rows["pixels"].append(int(np.prod(meta["shape"][1:])))
        rows["excluded"].append(int(meta["excluded_pixels"]))
        for flag in FLAGS:
            rows[flag.lower()].append(int(counts.get(flag, 0)))
        for name in ("t1_h", "t2_h", "t3_h", "t4_h"):
            rows[name].append(float(window.get(name, np.nan)))
        rows["white_depth_ppm"].append(nan_if_none(fit["white_depth"]) * 1e6)
        rows["white_snr"].append(nan_if_none(fit["fit_snr"]))
        rows["white_noise_ratio"].append(nan_if_none(fit["white_noise_ratio"]))
        with np.errstate(all="ignore"):
            rows["white_ppm_per_bin"].append(float(np.nanmedian(np.sqrt(variance) / flux)) * 1e6 if np.isfinite(flux).any() else np.nan)
        rows["in_bins"].append(int(fit["in_transit_bins"]))
        rows["out_bins"].append(int(fit["out_of_transit_bins"]))
        curves.append((f"{planet}/{visit} {instrument}", instrument, np.asarray(light_curves["time_h"]), flux))
    formats.write_csv(snakemake.output.table, rows)

    split = snakemake.wildcards.split
    fig = Figure(figsize=(16, 4.5))
    axes = fig.subplots(1, 3)
    index = np.arange(len(keys))
    colours = ["C0" if instrument == "AIRS-CH0" else "C1" for instrument in rows["instrument"]]
    fraction = np.array(rows["excluded"]) / np.maximum(np.array(rows["pixels"]), 1)
    axes[0].bar(index, 100 * fraction, color=colours)
    axes[0].set(title="excluded pixels per observation (AIRS blue, FGS1 orange)", xlabel="observation (row of qc_observations.csv)", ylabel="% of pixels")
    axes[1].scatter(index, rows["white_noise_ratio"], c=colours)
    axes[1].axhline(1.0, color="0.5", lw=0.8)
    axes[1].set(title="white light curve: scatter / propagated sigma", xlabel="observation", ylabel="sqrt(chi2/dof)")
    for label, instrument, time_h, flux in curves[:MAX_CURVES]:
        if np.isfinite(flux).any():
            axes[2].plot(time_h, flux / np.nanmedian(flux), lw=0.7, label=label, color=None)
    axes[2].set(title=f"white light curves / median (first {min(len(curves), MAX_CURVES)})", xlabel="time (h)", ylabel="relative flux")
    if len(curves) <= 8:
        axes[2].legend(fontsize=7)
    for ax in axes:
        ax.title.set_fontsize(9)
    fig.suptitle(f"{split}: {len(transits)} planet visits, {len(keys)} observations")
    fig.tight_layout()
    qc.save_png(fig, snakemake.output.figure, dpi=110)
    workflow.log.info("%d observations", len(keys))
