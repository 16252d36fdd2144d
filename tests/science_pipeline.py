"""The science layer in-process on a simulated dataset, as rules extract and transit run it
(scripts/extract.py, scripts/transit.py), for tests that post-process the simulated raw data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import arielcal
import arielcal.api
from arielcal import layout, observation, product, science, simulate, star_info
from arielcal.instruments import INSTRUMENTS

APERTURE = {"AIRS-CH0": [8, 24], "FGS1": [10, 22]}
BACKGROUND = {"AIRS-CH0": [8, 24], "FGS1": [6, 26]}


def simulate_dataset(out: Path, **settings) -> simulate.SimulationConfig:
    cfg = simulate.SimulationConfig(**settings)
    simulate.write_tables(cfg, out)
    for split, planet_id, _ in simulate.planets(cfg):
        simulate.write_planet(cfg, out, split, planet_id)
    return cfg


def calibration_path(data: Path, cfg, split: str, planet_id: int, instrument: str, kind: str) -> Path:
    return layout.calibration_file(data, cfg.edition, split, planet_id, 0, instrument, kind)


def observation_curves(data: Path, cfg, split: str, planet_id: int, instrument: str, binning: int):
    """(InstrumentCurves, product, variance) of one observation, as rule extract computes them."""
    inst = INSTRUMENTS[instrument]
    made = arielcal.calibrate_observation(data, planet_id, instrument, binning=binning, split=split)
    switches = {**arielcal.api.DEFAULTS["stages"]}  # the API's product records its settings, not a stage list
    stages = [name for name, on in switches.items() if on]
    columns = made.meta["columns"]

    def cal(kind):
        return observation.read_map(
            calibration_path(data, cfg, split, planet_id, instrument, kind), inst, kind, columns
        ).T

    divisor = product.flat_divisor(made.dq, cal("flat")) if "flat" in stages else None
    dark = cal("dark") if "dark" in stages else None
    accumulation = inst.long_read_s - inst.short_read_s
    variance = science.variance_of_product(
        made.calibrated, stages, binning, cal("read"), dark, divisor, made.nvalid, accumulation
    )
    oc = science.observation_curves(
        made.calibrated, variance, columns, inst.per_column_channels, APERTURE[instrument], BACKGROUND[instrument]
    )
    wavelength = (
        [None] * oc.curves.flux.shape[1] if made.wavelength_um is None else [float(w) for w in made.wavelength_um]
    )
    curves = science.InstrumentCurves(
        time=np.asarray(made.time_h, dtype=np.float64),
        width=float(np.median(np.diff(made.time_h))),
        spectral=np.stack([oc.curves.flux, oc.curves.variance]),
        white=np.stack([oc.white_flux, oc.white_variance]),
        channels={
            "detector_column": oc.detector_columns.tolist(),
            "label": oc.labels.tolist(),
            "wavelength_um": wavelength,
        },
        centroid=science.aperture_centroid(made.calibrated, oc.aperture),
    )
    return curves, made, variance


def truth_by_label(cfg, planet_id: int) -> np.ndarray:
    """Injected depth by label index (index 0 unused)."""
    return np.concatenate([[np.nan], simulate.planet(cfg, planet_id).depths])


def star_impact(cfg, planet_id: int) -> float:
    info = simulate.planet(cfg, planet_id).star_info
    return star_info.impact_parameter(info["sma"], info["i"])
