"""Variance, light curves and transit depths (docs/science.md). Two rules share this adapter:

* ``extract``, per observation: the per-pixel variance of the product (variance.npy), aperture sums with a local background per time bin and the
  white light curve. Writes spectral.npy (2, time, channel) = [flux, variance] in e- per bin,
  white.npy (2, time), light_curves.parquet (long table) and light_curves.json (axes, channels,
  aperture, background).
* ``transit``, per planet visit: one transit window fitted to the white light curves of every
  instrument of the visit at once (no prior on the contact times), then the depth of every
  channel. Writes depths.csv and transit.json.
"""

from arielcal import threads

threads.limit(snakemake.threads)

import numpy as np

from arielcal import formats, science, workflow
from arielcal.dq import DQ


def product_variance(step, meta, calibrated):
    """The variance of every value of the product, from what the product was made with: its
    column cut, the stages that ran and the CDS frames per bin, all from its meta.json."""
    inputs = snakemake.input
    stages = [stage["stage"] for stage in meta["stages"]]
    frames_per_bin = int(meta["params"]["frames_per_bin"]) if "bin" in stages else 1
    step.columns = meta["columns"]
    # Calibration maps are (row, column); the product is (time, column, row).
    read = step.calibration("read").T
    dark = step.calibration("dark").T if "dark" in stages else None
    divisor = None
    if "flat" in stages:
        dq = formats.load_npy(inputs.dq, mmap=False)
        divisor = np.where((dq & DQ.NO_FLAT_FIELD) != 0, 1.0, step.calibration("flat").T)
    n_valid = formats.load_npy(inputs.nvalid, mmap=False) if "nvalid" in inputs.keys() else None
    variance = science.product_variance(
        calibrated,
        read,
        frames_per_bin,
        n_valid=n_valid,
        dark=dark,
        accumulation_s=step.instrument.long_read_s - step.instrument.short_read_s,
        divisor=divisor,
    )
    formats.save_npy(snakemake.output.variance, variance)
    workflow.log.info(
        "variance %s: frames per bin %d, dark term %s, flat %s, median %.4g e-^2",
        variance.shape,
        frames_per_bin,
        dark is not None,
        divisor is not None,
        float(np.nanmedian(variance)) if np.isfinite(variance).any() else float("nan"),
    )
    return variance


def extract(step):
    params = step.params
    meta = formats.load_json(snakemake.input.product_meta)
    cube = formats.load_npy(snakemake.input.calibrated, mmap=False)
    variance = product_variance(step, meta, cube)
    n_times, n_cols, n_rows = cube.shape
    time_h = np.asarray(meta["time_h"], dtype=np.float64)
    width = float(np.median(np.diff(time_h))) if time_h.size > 1 else 0.0
    airs = step.instrument.name == "AIRS-CH0"
    aperture_range = params["aperture"]
    outside = params["background_outside"]
    if airs:
        # One channel per column: rows [start, stop) of every column; background = other rows.
        aperture = science.box_mask((n_cols, n_rows), aperture_range)
        background = None if outside is None else ~science.box_mask((n_cols, n_rows), outside)
    else:
        # One channel: the square box; background = pixels outside the larger square.
        aperture = science.box_mask((n_cols, n_rows), aperture_range, aperture_range)
        background = None if outside is None else ~science.box_mask((n_cols, n_rows), outside, outside)
    lc = science.extract(cube, variance, aperture, background, per_column=airs)
    white_flux, white_var, used = science.white_light_curve(lc.flux, lc.variance)
    n_channels = lc.flux.shape[1]
    if airs:
        detector_columns = np.arange(meta["columns"][0], meta["columns"][1])
        labels = science.label_of_columns(detector_columns)
        wavelengths = np.asarray(meta["wavelength_um"], dtype=np.float64)
    else:
        detector_columns = np.array([-1])
        labels = np.array([science.FGS1_LABEL])
        wavelengths = np.array([np.nan])

    formats.save_npy(snakemake.output.spectral, np.stack([lc.flux, lc.variance]))
    formats.save_npy(snakemake.output.white, np.stack([white_flux, white_var]))
    columns = {
        "kind": ["spectral"] * (n_times * n_channels) + ["white"] * n_times,
        "bin": np.concatenate([np.repeat(np.arange(n_times), n_channels), np.arange(n_times)]),
        "time_h": np.concatenate([np.repeat(time_h, n_channels), time_h]),
        "channel": np.concatenate([np.tile(np.arange(n_channels), n_times), np.full(n_times, -1)]),
        "detector_column": np.concatenate([np.tile(detector_columns, n_times), np.full(n_times, -1)]),
        "label": np.concatenate([np.tile(labels, n_times), np.zeros(n_times, dtype=np.int64)]),
        "wavelength_um": np.concatenate([np.tile(wavelengths, n_times), np.full(n_times, np.nan)]),
        "flux": np.concatenate([lc.flux.ravel(), white_flux]),
        "sigma": np.sqrt(np.concatenate([lc.variance.ravel(), white_var])),
        "coverage": np.concatenate([lc.coverage.ravel(), np.full(n_times, used.mean() if used.size else 0.0)]),
    }
    import polars as pl  # only the per-observation rule writes parquet

    table = pl.DataFrame(columns).with_columns(pl.col("channel", "detector_column", "label").cast(pl.Int32))
    with formats.atomic_path(snakemake.output.table) as tmp:
        table.write_parquet(tmp)
    step.extra.update(
        axes={"spectral.npy": ["flux|variance", "time", "channel"], "white.npy": ["flux|variance", "time"]},
        units="e- per time bin (sums of CDS frames), background subtracted, scaled to the full aperture",
        time_h=time_h.tolist(),
        bin_width_h=width,
        channels={
            "detector_column": detector_columns.tolist(),
            "label": labels.tolist(),
            "wavelength_um": [float(w) if np.isfinite(w) else None for w in wavelengths],
        },
        aperture={"rows": aperture_range, "columns": None if airs else aperture_range, "pixels": int(aperture.sum())},
        background={"outside": outside, "pixels": 0 if background is None else int(background.sum())},
        white_channels=int(used.sum()),
        min_coverage=float(lc.coverage.min()) if lc.coverage.size else 0.0,
    )
    workflow.log.info("%d channels, %d in the white light curve, min coverage %.3f", n_channels, used.sum(), step.extra["min_coverage"])


def _finite(value):
    return float(value) if np.isfinite(value) else None


def transit(step):
    params = step.params
    instruments = list(params["instruments"])
    curves = {}
    for instrument in instruments:
        key = instrument.replace("-", "_")
        meta = formats.load_json(snakemake.input[f"{key}_light_curves"])
        curves[instrument] = {
            "meta": meta,
            "time": np.asarray(meta["time_h"], dtype=np.float64),
            "width": float(meta["bin_width_h"]),
            "spectral": formats.load_npy(snakemake.input[f"{key}_spectral"], mmap=False),
            "white": formats.load_npy(snakemake.input[f"{key}_white"], mmap=False),
        }
    try:
        window = science.detect_joint_window(
            [(c["time"], c["white"][0], c["white"][1], c["width"] or None) for c in curves.values()]
        )
    except ValueError as exc:
        workflow.log.warning("no transit window: %s", exc)
        window = None
    rows = {name: [] for name in ("instrument", "channel", "detector_column", "label", "wavelength_um", "depth", "sigma", "noise_ratio")}
    summary = {}
    for k, (instrument, c) in enumerate(curves.items()):
        n_times = c["time"].size
        if window is None:
            inside = outside = np.zeros(n_times, bool)
        else:
            inside, outside = science.window_bins(c["time"], c["width"], window.contacts, params["margin_bins"] * c["width"])
        flux, variance = c["spectral"]
        depths = science.transit_depth(c["time"], flux, variance, inside, outside, params["baseline_degree"])
        white = science.transit_depth(c["time"], c["white"][0], c["white"][1], inside, outside, params["baseline_degree"])
        channels = c["meta"]["channels"]
        n_channels = flux.shape[1]
        rows["instrument"] += [instrument] * n_channels
        rows["channel"] += list(range(n_channels))
        rows["detector_column"] += channels["detector_column"]
        rows["label"] += channels["label"]
        rows["wavelength_um"] += [np.nan if w is None else w for w in channels["wavelength_um"]]
        rows["depth"] += depths.depth.tolist()
        rows["sigma"] += depths.sigma.tolist()
        rows["noise_ratio"] += depths.noise_ratio.tolist()
        summary[instrument] = {
            "in_transit_bins": int(inside.sum()),
            "out_of_transit_bins": int(outside.sum()),
            "margin_h": params["margin_bins"] * c["width"],
            "fit_depth": None if window is None else _finite(window.depths[k]),
            "fit_snr": None if window is None else _finite(window.snrs[k]),
            "white_depth": _finite(white.depth[0]),
            "white_sigma": _finite(white.sigma[0]),
            "white_noise_ratio": _finite(white.noise_ratio[0]),
            "median_noise_ratio": _finite(np.nanmedian(depths.noise_ratio)) if np.isfinite(depths.noise_ratio).any() else None,
        }
        if window is not None and not inside.any():
            workflow.log.warning("%s: no time bin lies wholly on the flat bottom of the window: depths are NaN", instrument)
    formats.write_csv(snakemake.output.depths, rows)
    step.extra.update(
        window=None if window is None else dict(zip(("t1_h", "t2_h", "t3_h", "t4_h"), window.contacts)),
        instruments=summary,
    )
    workflow.log.info("window %s; %s", None if window is None else [round(t, 4) for t in window.contacts], summary)


with workflow.step(snakemake, snakemake.rule) as step:
    (transit if snakemake.rule == "transit" else extract)(step)
