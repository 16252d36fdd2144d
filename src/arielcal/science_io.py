"""The science layer's files: light curves (written and read), transit fits, depth tables, the
truth, and the data of the QC figures. Each reader names the file in its error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from . import dq as dqflags
from . import formats, qc
from .deferred import DeferredModule
from .errors import InputError
from .instruments import AIRS, INSTRUMENTS
from .science.visit import DEPTH_COLUMNS

pl = DeferredModule("polars")

# Float columns of depths.csv (science.DEPTH_COLUMNS): typed on reading, so a visit without a
# window (every value empty) still reads as numbers.
DEPTH_FLOATS = DEPTH_COLUMNS[DEPTH_COLUMNS.index("wavelength_um") :]
# The files of one observation that the per-visit QC figures read, beside its product.
VISIT_FIGURE_FILES = ("calibrated.npy", "dq.npy", "meta.json", "spectral.npy", "white.npy", "light_curves.json")


def _read_csv(path, what: str, **kwargs):
    try:
        return pl.read_csv(path, **kwargs)
    except Exception as exc:
        raise InputError(path, what, f"{type(exc).__name__}: {exc}") from exc


def read_depths(path: str | os.PathLike):
    """A visit's depths.csv (rule transit) as a polars DataFrame, floats as Float64."""
    return _read_csv(path, "a depths table", schema_overrides={name: pl.Float64 for name in DEPTH_FLOATS})


def read_truth(paths: Sequence[str], split: str) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
    """{planet_id: (depth by label index 1.., contact times (4,) or None)} from simulation_truth.csv
    or the competition's training labels; {} without a file."""
    if not paths:
        return {}
    path = paths[0]
    table = _read_csv(path, "a readable truth/labels csv", infer_schema_length=None)
    if "split" in table.columns:
        table = table.filter(pl.col("split") == split)
    labels = sorted((c for c in table.columns if c.startswith("wl_")), key=lambda c: int(c[3:]))
    if "planet_id" not in table.columns or not labels:
        raise InputError(path, "columns planet_id, wl_1..", f"columns {table.columns[:5]}")
    contacts = [f"t{i}_h" for i in range(1, 5)]
    truth = {}
    for row in table.iter_rows(named=True):
        depths = np.full(max(int(c[3:]) for c in labels) + 1, np.nan)
        for c in labels:
            depths[int(c[3:])] = row[c]
        times = np.array([row[c] for c in contacts]) if all(c in row for c in contacts) else None
        truth[int(float(row["planet_id"]))] = (depths, times)
    return truth


def first_frame(path: str | os.PathLike, instrument: str) -> np.ndarray:
    """Raw frame 0 (row, column) of a signal parquet, from a projected read of its first row."""
    inst = INSTRUMENTS[instrument]
    try:
        frame = pl.read_parquet(path, columns=formats.signal_column_names(inst), n_rows=1).to_numpy()
    except Exception as exc:
        raise InputError(path, "a readable signal parquet", f"{type(exc).__name__}: {exc}") from exc
    return frame.reshape(inst.rows, inst.cols).astype(np.float64)


def observation_view(instrument: str, files: Mapping[str, str], signal: str, fit: Mapping) -> qc.ObservationView:
    """One observation's part of the per-visit figures, from its product and light curves."""
    meta = formats.load_json(files["meta.json"])
    light_curves = formats.load_json(files["light_curves.json"])
    dq = np.asarray(formats.load_npy(files["dq.npy"])).T  # (row, column)
    spectral_flux, _ = formats.load_npy(files["spectral.npy"])
    wavelength = light_curves["channels"]["wavelength_um"]
    return qc.ObservationView(
        instrument=instrument,
        raw_frame=first_frame(signal, instrument),
        median_image=qc.time_median_image(formats.load_npy(files["calibrated.npy"])),
        dq=dq,
        columns=tuple(meta["columns"]),
        dq_counts=meta["dq_counts"],
        excluded=dqflags.excluded(dq),
        aperture_rows=light_curves["aperture"]["rows"],
        background_outside=light_curves["background"]["outside"],
        time_h=np.asarray(light_curves["time_h"], dtype=np.float64),
        white=np.asarray(formats.load_npy(files["white.npy"])),
        spectral_flux=np.asarray(spectral_flux),
        wavelength_um=np.array([np.nan if w is None else w for w in wavelength], dtype=np.float64),
        white_channels=int(light_curves["white_channels"]),
        fit=fit,
    )


def visit_view(
    title: str, observations: Mapping[str, tuple[Mapping[str, str], str]], transit: str, depths: str
) -> qc.VisitView:
    """The per-visit figures' data: ``observations`` maps instrument -> (its files by name, signal path)."""
    fit = formats.load_json(transit)
    table = read_depths(depths).filter(pl.col("instrument") == AIRS.name)
    return qc.VisitView(
        title=title,
        observations=[
            observation_view(i, files, signal, fit["instruments"][i]) for i, (files, signal) in observations.items()
        ],
        window=fit["window"],
        depths={name: table[name].to_numpy() for name in ("wavelength_um", "depth", "sigma")},
    )


def figure_input(planet, visit, name: str, instrument: str = "") -> str:
    """The rule-input name of a file the per-visit figures read: rules name their inputs with
    it, scripts find them by it (one naming for both sides)."""
    return "_".join(filter(None, ("qc", str(planet), str(visit), instrument.replace("-", "_"), name.replace(".", "_"))))


def visit_view_of_inputs(inputs, split: str, planet, visit, instruments: Sequence[str]) -> qc.VisitView:
    """:func:`visit_view` of one visit from a rule's inputs named by :func:`figure_input`."""
    observations = {
        instrument: (
            {name: inputs[figure_input(planet, visit, name, instrument)] for name in VISIT_FIGURE_FILES},
            inputs[figure_input(planet, visit, "signal", instrument)],
        )
        for instrument in instruments
    }
    transit, depths = (inputs[figure_input(planet, visit, name)] for name in ("transit.json", "depths.csv"))
    return visit_view(f"{split} planet {planet} visit {visit}", observations, transit, depths)


LIGHT_CURVE_AXES = {"spectral.npy": ["flux|variance", "time", "channel"], "white.npy": ["flux|variance", "time"]}
LIGHT_CURVE_UNITS = "e- per time bin (sums of CDS frames), background subtracted, scaled to the full aperture"


def write_light_curves(
    outputs, oc, time_h: np.ndarray, wavelength_um: np.ndarray | None, aperture, background_outside
) -> dict:
    """Write spectral.npy (2, time, channel), white.npy (2, time) and light_curves.parquet (a long
    table) of :class:`arielcal.science.ObservationCurves`; returns light_curves.json's keys."""
    lc = oc.curves
    per_column = bool(oc.detector_columns[0] >= 0)  # AIRS: one channel per detector column
    n_times, n_channels = lc.flux.shape
    wavelengths = np.full(n_channels, np.nan) if wavelength_um is None else np.asarray(wavelength_um, dtype=np.float64)
    formats.save_npy(outputs.spectral, np.stack([lc.flux, lc.variance]))
    formats.save_npy(outputs.white, np.stack([oc.white_flux, oc.white_variance]))
    white_coverage = oc.white_used.mean() if oc.white_used.size else 0.0
    columns = {
        "kind": ["spectral"] * (n_times * n_channels) + ["white"] * n_times,
        "bin": np.concatenate([np.repeat(np.arange(n_times), n_channels), np.arange(n_times)]),
        "time_h": np.concatenate([np.repeat(time_h, n_channels), time_h]),
        "channel": np.concatenate([np.tile(np.arange(n_channels), n_times), np.full(n_times, -1)]),
        "detector_column": np.concatenate([np.tile(oc.detector_columns, n_times), np.full(n_times, -1)]),
        "label": np.concatenate([np.tile(oc.labels, n_times), np.zeros(n_times, dtype=np.int64)]),
        "wavelength_um": np.concatenate([np.tile(wavelengths, n_times), np.full(n_times, np.nan)]),
        "flux": np.concatenate([lc.flux.ravel(), oc.white_flux]),
        "sigma": np.sqrt(np.concatenate([lc.variance.ravel(), oc.white_variance])),
        "coverage": np.concatenate([lc.coverage.ravel(), np.full(n_times, white_coverage)]),
    }
    table = pl.DataFrame(columns).with_columns(pl.col("channel", "detector_column", "label").cast(pl.Int32))
    with formats.atomic_path(outputs.table) as tmp:
        table.write_parquet(tmp)
    return {
        "axes": LIGHT_CURVE_AXES,
        "units": LIGHT_CURVE_UNITS,
        "time_h": np.asarray(time_h).tolist(),
        "bin_width_h": float(np.median(np.diff(time_h))) if len(time_h) > 1 else 0.0,
        "channels": {
            "detector_column": oc.detector_columns.tolist(),
            "label": oc.labels.tolist(),
            "wavelength_um": [float(w) if np.isfinite(w) else None for w in wavelengths],
        },
        "aperture": {"rows": aperture, "columns": None if per_column else aperture, "pixels": int(oc.aperture.sum())},
        "background": {
            "outside": background_outside,
            "pixels": 0 if oc.background is None else int(oc.background.sum()),
        },
        "white_channels": int(oc.white_used.sum()),
        "min_coverage": float(lc.coverage.min()) if lc.coverage.size else 0.0,
    }


def read_light_curves(spectral: str, white: str, light_curves: str):
    """One observation's light curves (rule extract) as :class:`arielcal.science.InstrumentCurves`."""
    from .science import InstrumentCurves

    meta = formats.load_json(light_curves)
    return InstrumentCurves(
        time=np.asarray(meta["time_h"], dtype=np.float64),
        width=float(meta["bin_width_h"]),
        spectral=np.asarray(formats.load_npy(spectral, mmap=False)),
        white=np.asarray(formats.load_npy(white, mmap=False)),
        channels=meta["channels"],
    )
