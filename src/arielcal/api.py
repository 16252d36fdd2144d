"""The Python API for notebooks: calibrate one observation, open what the workflow wrote.

    import arielcal
    product = arielcal.calibrate_observation("/kaggle/input/ariel-data-challenge-2024", 785834, "AIRS-CH0")
    product.calibrated.shape, product.wavelength_um[:3], product.time_h[:3]
    train = arielcal.open_split("results", "train")

:func:`calibrate_observation` runs the fused mode's code (the same functions as the workflow's
``fused`` job, equal to staged mode's products), with the workflow's defaults (config.yaml).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import formats, layout, observation, paths
from .errors import InputError
from .instruments import AIRS, AIRS_LABELLED_COLUMNS, INSTRUMENTS
from .product import Product, assemble, open_product

# The workflow's defaults (config.yaml; tests/unit/test_api.py keeps the two equal).
DEFAULTS = {
    "stages": {"mask": True, "linearity": True, "dark": True, "outliers": True, "flat": True, "bin": True},
    "airs_columns": list(AIRS_LABELLED_COLUMNS),
    "binning": {"AIRS-CH0": 30, "FGS1": 360},
    "second_read_extra_s": 0.1,
    "hot_pixels": {"sigma": 5, "maxiters": 5},
    "bad_pixels": {"hot": "nan", "dead": "nan", "saturated": "nan"},
    "outliers": {"threshold": 6.0, "window": 30},
}


def _find_split(data_dir: Path, planet_id: int) -> str:
    found = [split for split in layout.SPLITS if layout.planet_dir(data_dir, split, planet_id).is_dir()]
    if not found:
        raise InputError(data_dir, f"a folder for planet {planet_id} under {' or '.join(layout.SPLITS)}", "none")
    return found[0]


def calibrate_observation(
    data_dir,
    planet_id: int,
    instrument: str,
    visit: int = 0,
    split: str | None = None,
    **settings,
) -> Product:
    """Calibrate one observation of a competition dataset (2024 or 2025 layout) in memory.

    ``settings`` override the workflow's config keys of the same names: ``stages`` (a dict of
    switches), ``airs_columns``, ``binning`` (frames per bin of this instrument, or the dict),
    ``second_read_extra_s``, ``hot_pixels``, ``bad_pixels``, ``outliers``. ``split`` defaults to the one
    holding the planet. Returns the :class:`~arielcal.product.Product` the workflow writes.
    """
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"calibrate_observation: unknown settings {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    if instrument not in INSTRUMENTS:
        raise ValueError(f"instrument: expected one of {sorted(INSTRUMENTS)}, got {instrument!r}")
    from .fused import SWITCHABLE, Settings

    chosen = {**DEFAULTS, **settings}
    stages = {**DEFAULTS["stages"], **chosen["stages"]}
    binning = chosen["binning"]
    frames_per_bin = int(binning[instrument] if isinstance(binning, dict) else binning) if stages["bin"] else 1
    inst = INSTRUMENTS[instrument]
    columns = list(chosen["airs_columns"]) if inst is AIRS else [0, inst.cols]
    root = Path(data_dir)
    edition = layout.detect_edition(root)
    split = split or _find_split(root, int(planet_id))
    enabled = [s for s in SWITCHABLE if stages.get(s, True)]
    run = Settings(
        stages=frozenset(enabled),
        frames_per_bin=frames_per_bin,
        sigma=chosen["hot_pixels"]["sigma"],
        maxiters=chosen["hot_pixels"]["maxiters"],
        hot_action=chosen["bad_pixels"]["hot"],
        dead_action=chosen["bad_pixels"]["dead"],
        saturated_action=chosen["bad_pixels"].get("saturated", DEFAULTS["bad_pixels"]["saturated"]),
        outlier_threshold=chosen["outliers"]["threshold"],
        outlier_window=chosen["outliers"]["window"],
    )
    where = (root, edition, split, int(planet_id), int(visit), instrument)
    axis_info = layout.axis_info_file(root)
    fused = observation.calibrate_fused(
        layout.signal_file(*where),
        layout.adc_info_file(root, edition, split),
        axis_info,
        {kind: layout.calibration_file(*where, kind) for kind in observation.FUSED_MAPS},
        int(planet_id),
        inst,
        columns,
        run,
        chosen["second_read_extra_s"],
    )
    made = assemble(fused.cube, fused.dq, fused.n_valid, fused.axis, inst, columns, frames_per_bin, axis_info)
    made.meta.update(
        observation={"split": split, "planet": str(planet_id), "visit": str(visit), "instrument": instrument},
        settings={**chosen, "stages": stages},
        gain=fused.gain,
        offset=fused.offset,
        raw_frames=fused.raw_frames,
    )
    return made


@dataclass
class Split:
    """The per-split stacks: one row per (planet_id, visit) of ``observations``."""

    observations: list[tuple[int, int]]
    stacks: dict[str, np.ndarray]
    """Instrument name -> float32 (N, time, column, row); NaN rows where it has no product."""
    wavelength_um: np.ndarray | None
    """AIRS-CH0 wavelength of each column (decreasing), from the first AIRS product."""
    time_h: dict[str, np.ndarray]


def open_split(results_dir, split: str) -> Split:
    """Load a split's stacks as the workflow wrote them, with their wavelength and time axes."""
    root = Path(results_dir)
    table = Path(paths.observations_table(str(root)).format(split=split))
    if not table.is_file():
        raise InputError(table, "the split's observations.csv (run the workflow first)", "no such file")
    with open(table, newline="") as fh:
        rows = [(int(row["planet_id"]), int(row["visit"])) for row in csv.DictReader(fh)]
    stacks, time_h, wavelength = {}, {}, None
    for name in INSTRUMENTS:
        stack = Path(paths.stacked(str(root)).format(split=split, instrument=name))
        if not stack.is_file():
            continue
        stacks[name] = formats.load_npy(stack)
        for planet_id, visit in rows:
            directory = Path(
                paths.product_prefix(str(root)).format(split=split, planet=planet_id, visit=visit, instrument=name)
            )
            if (directory / "meta.json").is_file():
                meta = formats.load_json(directory / "meta.json")
                time_h[name] = np.asarray(meta["time_h"], dtype=np.float64)
                if meta.get("wavelength_um") is not None and wavelength is None:
                    wavelength = np.asarray(meta["wavelength_um"], dtype=np.float64)
                break
    return Split(rows, stacks, wavelength, time_h)


__all__ = ["DEFAULTS", "Product", "Split", "calibrate_observation", "open_product", "open_split"]
