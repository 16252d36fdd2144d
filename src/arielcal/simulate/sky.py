"""The planets of a simulation: ids and visits, depth spectra, contact times, stars and ADC constants."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..instruments import AIRS, FGS1, INSTRUMENTS
from .config import CONFIG_SOURCE, SimulationConfig, _rng
from .occultation import Chord

N_LABELS = 283
AIRS_SCIENCE_COLUMNS = (39, 321)
AIRS_WAVELENGTH_FIT = (4.07846314, -4.43363407e-3, -6.91347214e-6)
FGS1_WAVELENGTH_UM = {2024: 0.705, 2025: 0.7}

ADC_2025 = {"offset": -1000.0, "gain": 0.4369}
# 2024 ADC populations keyed by the ``star`` column (reference doc, table 1.7).
ADC_GAIN_2024 = {
    0: {AIRS.name: (1.496, 1.526), FGS1.name: (1.015, 1.058)},
    1: {AIRS.name: (0.923, 0.940), FGS1.name: (0.833, 0.869)},
}
ADC_OFFSET_2024 = {AIRS.name: (-1174.0, -697.0), FGS1.name: (-492.0, -313.0)}
BRIGHTNESS_RANGE = (0.4, 1.0)

STAR_INFO_COLUMNS = ("Rs", "Ms", "Ts", "Mp", "e", "P", "sma", "i")


def planets(cfg: SimulationConfig) -> list[tuple[str, int, int]]:
    """(split, planet_id, n_visits), sorted. Train planets take the second visits first."""
    rng = _rng(cfg, "ids")
    n_planets = cfg.train_planets + cfg.test_planets
    ids: list[int] = []
    while len(ids) < n_planets:
        candidate = int(rng.integers(100_000, 2**32 - 1))
        if candidate not in ids:
            ids.append(candidate)
    train = sorted(ids[: cfg.train_planets])
    test = sorted(ids[cfg.train_planets :])
    ordered = [("train", pid) for pid in train] + [("test", pid) for pid in test]
    return sorted((split, pid, 2 if rank < cfg.two_visit_planets else 1) for rank, (split, pid) in enumerate(ordered))


def _n_visits(cfg: SimulationConfig, split: str, planet_id: int) -> int:
    for known_split, pid, n_visits in planets(cfg):
        if (known_split, pid) == (split, int(planet_id)):
            return n_visits
    raise InputError(CONFIG_SOURCE, f"a {split} planet of this simulation", f"planet_id {planet_id}")


@dataclass(frozen=True)
class Planet:
    """Everything shared by the visits and instruments of one planet."""

    planet_id: int
    depths: np.ndarray
    """Transit depth (Rp/Rs)^2 in label order: wl_1 = FGS1, then AIRS by increasing wavelength."""
    contacts_s: np.ndarray
    """t1 < t2 < t3 < t4, seconds from the first reset of every visit."""
    star: int
    adc: dict
    """instrument -> (gain, offset); raw = (x - offset) * gain."""
    brightness: float
    fgs1_colour: float
    impact: float
    star_info: dict
    chord: Chord | None = None
    """The chord across the star when the light curve is the exact occultation (limb darkening
    or grazing transits on); None for the trapezoid."""
    grazing: bool = False


def airs_wavelengths(columns=None) -> np.ndarray:
    """Wavelength (um) of AIRS detector columns (decreasing with the column index)."""
    c = np.arange(AIRS.cols, dtype=np.float64) if columns is None else np.asarray(columns, dtype=np.float64)
    a0, a1, a2 = AIRS_WAVELENGTH_FIT
    return a0 + a1 * c + a2 * c * c


def label_wavelengths(edition: int) -> np.ndarray:
    """wl_1 .. wl_283: FGS1, then AIRS columns 320 down to 39 (increasing wavelength)."""
    start, stop = AIRS_SCIENCE_COLUMNS
    return np.concatenate([[FGS1_WAVELENGTH_UM[edition]], airs_wavelengths(np.arange(stop - 1, start - 1, -1))])


def airs_column_depths(depths: np.ndarray) -> np.ndarray:
    """Label-order depths mapped to the 356 AIRS detector columns: column c <-> wl_{322-c};
    columns outside the science crop take the nearest edge value."""
    start, stop = AIRS_SCIENCE_COLUMNS
    columns = np.clip(np.arange(AIRS.cols), start, stop - 1)
    return np.asarray(depths)[stop - columns]


def depth_spectrum(rng: np.random.Generator, wavelengths_um: np.ndarray) -> np.ndarray:
    """A smooth (Rp/Rs)^2 spectrum in 1e-3 .. 7e-3: a base level with a haze slope and molecular
    bands (H2O, CH4, CO, CO2) whose size scales with the base, as an atmosphere's scale height."""
    base = math.exp(rng.uniform(math.log(1.3e-3), math.log(5.0e-3)))
    feature_size = rng.uniform(0.02, 0.08)
    bands_um = ((1.15, 0.06), (1.4, 0.08), (1.9, 0.09), (2.0, 0.05), (2.3, 0.07), (2.7, 0.12), (3.3, 0.10))
    lam = np.asarray(wavelengths_um, dtype=np.float64)
    shape = rng.uniform(0.0, 0.6) * (lam / 0.7) ** -4
    for centre, width in bands_um:
        shape += rng.uniform(0.0, 1.0) * np.exp(-0.5 * ((lam - centre) / width) ** 2)
    return np.clip(base * (1.0 + feature_size * shape), 1e-3, 7e-3)


def contact_times(rng: np.random.Generator, window_s: float) -> np.ndarray:
    """t1..t4 (s) as fractions of the window: >= 20 % baseline before and after, a flat bottom of
    >= 20 % of the window, so reduced frame counts still hold a full transit."""
    mid = rng.uniform(0.45, 0.55)
    duration = rng.uniform(0.35, 0.5)
    ingress = rng.uniform(0.08, 0.2) * duration
    fractions = np.array(
        [mid - duration / 2, mid - duration / 2 + ingress, mid + duration / 2 - ingress, mid + duration / 2]
    )
    return fractions * window_s


def planet(cfg: SimulationConfig, planet_id: int) -> Planet:
    """The truth and star of one planet: a pure function of the seed, the planet id and the window."""
    rng = _rng(cfg, "planet", planet_id)
    depths = depth_spectrum(rng, label_wavelengths(cfg.edition))
    contacts = contact_times(rng, cfg.window_s)
    star = int(rng.integers(0, 2))
    if cfg.edition == 2024:
        adc = {
            name: (rng.uniform(*ADC_GAIN_2024[star][name]), rng.uniform(*ADC_OFFSET_2024[name])) for name in INSTRUMENTS
        }
    else:
        adc = {name: (ADC_2025["gain"], ADC_2025["offset"]) for name in INSTRUMENTS}
    brightness = rng.uniform(*BRIGHTNESS_RANGE)
    fgs1_colour = rng.uniform(0.85, 1.0)
    impact = rng.uniform(0.0, 0.7)
    star_info = _star_info(rng, impact)
    chord, grazing = None, False
    if cfg.limb_darkening or cfg.grazing_fraction > 0:
        # Its own stream: the draws above, hence every other planet property, stay the same.
        extra = _rng(cfg, "grazing", planet_id)
        grazing = bool(extra.uniform() < cfg.grazing_fraction)
        if grazing:
            # 1 - 0.8 p_min .. 1 + 0.3 p_min: every wavelength's disc crosses the limb and transits.
            impact = 1.0 + math.sqrt(depths.min()) * extra.uniform(-0.8, 0.3)
            star_info = {**star_info, "i": math.degrees(math.acos(impact / star_info["sma"]))}
        radius = reference_radius(depths)
        chord = Chord.through(contacts[0], contacts[3], impact, radius)
        contacts = chord.contacts(radius)
    return Planet(
        int(planet_id), depths, contacts, star, adc, brightness, fgs1_colour, impact, star_info, chord, grazing
    )


def reference_radius(depths: np.ndarray) -> float:
    """Rp/Rs whose contacts the truth reports: that of the mean depth over all labels."""
    return math.sqrt(float(np.mean(depths)))


def _star_info(rng: np.random.Generator, impact: float) -> dict:
    """2025 star metadata, assumed units: solar radius and mass, K, Jupiter mass, days, a/Rs, degrees.
    Kepler's third law ties sma to P and Ms; the light curve does not use these numbers."""
    rs = rng.uniform(0.6, 1.5)
    ms = rs**1.1 * rng.uniform(0.9, 1.1)
    period = math.exp(rng.uniform(math.log(1.0), math.log(10.0)))
    sma_au = (ms * (period / 365.25) ** 2) ** (1.0 / 3.0)
    sma = sma_au * 215.032 / rs
    return {
        "Rs": rs,
        "Ms": ms,
        "Ts": rng.uniform(4000.0, 6500.0),
        "Mp": math.exp(rng.uniform(math.log(0.05), math.log(3.0))),
        "e": 0.0,
        "P": period,
        "sma": sma,
        "i": math.degrees(math.acos(impact / sma)),
    }
