"""Reading the science layer's files: light curves, transit fits, depth tables, the truth.

Each reader names the file in its error. Writing stays with the rule that owns the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from . import dq as dqflags
from . import formats, qc
from .deferred import DeferredModule
from .errors import InputError
from .instruments import INSTRUMENTS

pl = DeferredModule("polars")

DEPTH_FLOATS = ("wavelength_um", "depth", "sigma", "noise_ratio")
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


def visit_view(title: str, observations: Mapping[str, tuple[Mapping[str, str], str]], transit: str, depths: str) -> qc.VisitView:
    """The per-visit figures' data: ``observations`` maps instrument -> (its files by name, signal path)."""
    fit = formats.load_json(transit)
    table = read_depths(depths).filter(pl.col("instrument") == "AIRS-CH0")
    return qc.VisitView(
        title=title,
        observations=[observation_view(i, files, signal, fit["instruments"][i]) for i, (files, signal) in observations.items()],
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
