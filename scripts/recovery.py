"""Injection-recovery of one split: the depths of every planet visit (rule transit) against
the injected truth (simulation_truth.csv, label order) or the training labels, when available.

Outputs: depths.csv (every channel of every observation, with truth and z = residual / sigma),
recovery.csv (per instrument and overall: median |z|, chi2/dof, bias; the largest error of a
detected contact time, one window per visit) and
recovery.png.
"""

from matplotlib.figure import Figure  # not pyplot: jobs may share a process (arielcal.jobs)
import numpy as np
import polars as pl

from arielcal import formats, qc, science, science_io, workflow

MAX_SPECTRA = 4


with workflow.step(snakemake, "recovery") as step:
    split = snakemake.wildcards.split
    truth = science_io.read_truth(list(snakemake.input.truth), split)
    frames = []
    contact_errors = []
    for (obs_split, planet, visit), depth_path, transit_path in zip(snakemake.params.visits, snakemake.input.depths, snakemake.input.transit):
        table = science_io.read_depths(depth_path)
        known = truth.get(int(planet))
        label = table["label"].to_numpy()
        if known is None:
            true_depth = np.full(label.size, np.nan)
        else:
            true_depth = np.where((label > 0) & (label < known[0].size), known[0][np.clip(label, 0, known[0].size - 1)], np.nan)
            window = formats.load_json(transit_path)["window"]
            if known[1] is not None and window is not None:
                detected = np.array([window[f"t{i}_h"] for i in range(1, 5)])
                contact_errors.append(np.abs(detected - known[1]).max())
        z = (table["depth"].to_numpy() - true_depth) / table["sigma"].to_numpy()
        frames.append(
            table.with_columns(
                pl.lit(obs_split).alias("split"),
                pl.lit(int(planet), dtype=pl.Int64).alias("planet_id"),
                pl.lit(int(visit), dtype=pl.Int64).alias("visit"),
                pl.Series("truth", true_depth),
                pl.Series("z", z),
            )
        )
    depths = pl.concat(frames).select(
        "split", "planet_id", "visit", "instrument", "channel", "detector_column", "label", "wavelength_um", "depth", "sigma", "noise_ratio", "truth", "z"
    )
    formats.write_csv(snakemake.output.depths, {name: depths[name].to_list() for name in depths.columns})

    summary = {name: [] for name in ("split", "instrument", "observations", "n", "median_abs_z", "chi2_dof", "mean_z", "median_abs_residual_ppm", "median_sigma_ppm", "median_noise_ratio", "max_contact_error_min")}
    for instrument in ("AIRS-CH0", "FGS1", "all"):
        part = depths if instrument == "all" else depths.filter(pl.col("instrument") == instrument)
        if part.height == 0:
            continue
        stats = science.recovery_statistics(part["depth"].to_numpy(), part["sigma"].to_numpy(), part["truth"].to_numpy())
        summary["split"].append(split)
        summary["instrument"].append(instrument)
        summary["observations"].append(part.select("planet_id", "visit", "instrument").unique().height)
        summary["n"].append(stats["n"])
        summary["median_abs_z"].append(stats["median_abs_z"])
        summary["chi2_dof"].append(stats["chi2_dof"])
        summary["mean_z"].append(stats["mean_z"])
        summary["median_abs_residual_ppm"].append(stats["median_abs_residual"] * 1e6)
        with np.errstate(all="ignore"):
            summary["median_sigma_ppm"].append(float(np.nanmedian(part["sigma"].to_numpy())) * 1e6)
            summary["median_noise_ratio"].append(float(np.nanmedian(part["noise_ratio"].to_numpy())))
        summary["max_contact_error_min"].append(float(np.max(contact_errors)) * 60 if contact_errors else float("nan"))
        workflow.log.info("%s %s: %s", split, instrument, stats)
    formats.write_csv(snakemake.output.summary, summary)

    fig = Figure(figsize=(15, 8))
    grid = fig.add_gridspec(2, 3)
    spectra = fig.add_subplot(grid[0, :])
    airs = depths.filter(pl.col("instrument") == "AIRS-CH0")
    shown = airs.select("planet_id", "visit").unique(maintain_order=True).head(MAX_SPECTRA).rows()
    for k, (planet, visit) in enumerate(shown):
        one = airs.filter((pl.col("planet_id") == planet) & (pl.col("visit") == visit)).sort("wavelength_um")
        w, d, s, t = (one[c].to_numpy() for c in ("wavelength_um", "depth", "sigma", "truth"))
        spectra.fill_between(w, (d - s) * 1e6, (d + s) * 1e6, color=f"C{k}", alpha=0.25, lw=0)
        spectra.plot(w, d * 1e6, color=f"C{k}", lw=0.8, label=f"{planet}/{visit} estimate +-1 sigma")
        if np.isfinite(t).any():
            spectra.plot(w, t * 1e6, color=f"C{k}", lw=1.5, ls="--", label=f"{planet}/{visit} injected")
    spectra.set(title=f"{split}: AIRS-CH0 transit depth spectra (first {len(shown)} observations)", xlabel="wavelength (um)", ylabel="depth (ppm)")
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
    for instrument, colour in (("AIRS-CH0", "C0"), ("FGS1", "C1")):
        part = depths.filter((pl.col("instrument") == instrument) & pl.col("z").is_finite())
        x = part["wavelength_um"].to_numpy() if instrument == "AIRS-CH0" else np.full(part.height, 0.7)
        scatter.scatter(x, part["z"].to_numpy(), s=4, color=colour, label=instrument)
    scatter.axhline(0, color="0.5", lw=0.8)
    scatter.set(title="z per channel (FGS1 at 0.7 um)", xlabel="wavelength (um)", ylabel="z")
    text = fig.add_subplot(grid[1, 2])
    text.set_axis_off()
    lines = ["instrument   n   median|z|  chi2/dof  mean z"]
    for i, instrument in enumerate(summary["instrument"]):
        lines.append(f"{instrument:<10} {summary['n'][i]:>5}  {summary['median_abs_z'][i]:8.3f}  {summary['chi2_dof'][i]:8.3f}  {summary['mean_z'][i]:+6.3f}")
    lines.append("(Gaussian z: median |z| 0.674, chi2/dof 1)" if z.size else "no truth available for this split")
    text.text(0, 0.9, "\n".join(lines), family="monospace", fontsize=9, va="top")
    fig.tight_layout()
    qc.save_png(fig, snakemake.output.figure, dpi=110)
