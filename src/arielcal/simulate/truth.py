"""The truth of the systematics: per-planet columns of ``simulation_truth.csv`` and a sidecar per
observation beside it (``simulation_truth/<split>/<planet>/<instrument>[_<visit>].json``).

Both appear only when a systematic that needs them is on, so a default simulation's files are
those of earlier versions: the csv columns ``impact``, ``grazing``, ``ld_u1_<j>``, ``ld_u2_<j>``
(label order, 0 without limb darkening) with the exact occultation (limb darkening or grazing
transits; a grazing transit has no second and third contact: t2_h, t3_h are NaN); the sidecar
with cosmic rays or saturation: the hits (row, column, frame pair, time after the ramp's reset,
charge, reads of the ramp that hold it) and the raw values at 65535 and at 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..instruments import Instrument
from .config import SimulationConfig
from .detector import ADC_MAX
from .frames import ObservationModel
from .sky import N_LABELS, Planet, label_wavelengths
from .transit import limb_darkening_coefficients

TRUTH_DIR = "simulation_truth"


def observation_truth_wanted(cfg: SimulationConfig) -> bool:
    return bool(cfg.cosmic_rays or cfg.saturation)


def planet_truth_wanted(cfg: SimulationConfig) -> bool:
    return bool(cfg.limb_darkening or cfg.grazing_fraction > 0)


def observation_truth_file(root, edition: int, split: str, planet_id: int, visit: int, instrument: str) -> Path:
    """The sidecar of one observation; the visit suffix only in the 2025 layout, as its signals."""
    suffix = f"_{visit}" if edition == 2025 else ""
    return Path(root) / TRUTH_DIR / split / str(planet_id) / f"{instrument}{suffix}.json"


def observation_truth(cfg: SimulationConfig, model: ObservationModel, cube: np.ndarray) -> dict:
    """The sidecar's content: cosmic-ray hits and clipped raw values of one observation."""
    inst: Instrument = model.instrument
    at_ceiling = cube == ADC_MAX
    payload = {
        "instrument": inst.name,
        "saturated_samples": int(np.count_nonzero(at_ceiling)),
        "saturated_pixels": int(np.count_nonzero(at_ceiling.any(axis=-1))),
        "floor_samples": int(np.count_nonzero(cube == 0)),
        "saturation_level": cfg.saturation_level if cfg.saturation else None,
    }
    hits = model.hits
    if hits is not None:
        reads = hits.reads(inst)
        payload["cosmic_rays"] = {
            "rate_per_pixel_s": cfg.cosmic_ray_rate,
            "charge_range_e": list(cfg.cosmic_ray_charge_e),
            "count": int(hits.pixel.size),
            "in_cds": int(np.count_nonzero(reads == 1)),
            "row": (hits.pixel // inst.cols).tolist(),
            "column": (hits.pixel % inst.cols).tolist(),
            "frame_pair": hits.pair.tolist(),
            "offset_s": hits.offset_s.tolist(),
            "charge_e": hits.charge_e.tolist(),
            "reads": reads.tolist(),
        }
    return payload


def planet_truth_columns(cfg: SimulationConfig, bodies: list[Planet]) -> dict[str, list]:
    """Impact, grazing flag and quadratic limb-darkening coefficients (label order) per planet."""
    u1, u2 = limb_darkening_coefficients(label_wavelengths(cfg.edition))
    if not cfg.limb_darkening:
        u1, u2 = np.zeros(N_LABELS), np.zeros(N_LABELS)
    columns: dict[str, list] = {
        "impact": [float(body.impact) for body in bodies],
        "grazing": [int(body.grazing) for body in bodies],
    }
    for name, values in (("ld_u1", u1), ("ld_u2", u2)):
        columns.update({f"{name}_{j + 1}": [float(values[j])] * len(bodies) for j in range(N_LABELS)})
    return columns


def hit_detection(
    truth: dict,
    n_valid: np.ndarray,
    usable: np.ndarray,
    read: np.ndarray,
    signal: np.ndarray,
    columns: tuple[int, int],
    frames_per_bin: int,
    sigmas: float = 10.0,
) -> dict[str, int]:
    """How many of a sidecar's CDS hits the outlier stage found, from a product's valid-frame counts.

    ``truth`` is an observation sidecar (:func:`observation_truth`); ``n_valid`` the product's
    (time, column, row) counts, ``usable``, ``read`` (per-read noise, e-) and ``signal`` (mean
    CDS charge per frame, e-) (column, row) maps of the product's detector ``columns`` [start,
    stop). A hit counts where it is a CDS jump (``reads`` 1) on a usable pixel in a binned frame;
    it is found when its bin lost a frame (``n_valid`` below ``frames_per_bin``). Strong hits
    are those above ``sigmas`` x the pixel's CDS noise sqrt(2 read^2 + max(signal, 0)).
    Returns counts: hits, found, strong, strong_found.
    """
    rays = truth.get("cosmic_rays") or {}
    n_bins = n_valid.shape[0]
    row, col, pair, charge, reads = (
        np.asarray(rays.get(name, []), dtype=dtype)
        for name, dtype in (
            ("row", np.int64),
            ("column", np.int64),
            ("frame_pair", np.int64),
            ("charge_e", np.float64),
            ("reads", np.int64),
        )
    )
    col = col - columns[0]
    keep = (reads == 1) & (col >= 0) & (col < columns[1] - columns[0]) & (pair < n_bins * frames_per_bin)
    row, col, pair, charge = row[keep], col[keep], pair[keep], charge[keep]
    on_usable = np.asarray(usable, dtype=bool)[col, row]
    row, col, pair, charge = row[on_usable], col[on_usable], pair[on_usable], charge[on_usable]
    found = n_valid[pair // frames_per_bin, col, row] < frames_per_bin
    noise = np.sqrt(2.0 * np.asarray(read, np.float64)[col, row] ** 2 + np.maximum(signal[col, row], 0.0))
    strong = charge > sigmas * noise
    return {
        "hits": int(charge.size),
        "found": int(found.sum()),
        "strong": int(strong.sum()),
        "strong_found": int((found & strong).sum()),
    }
