"""Simulated Ariel raw data in the exact competition layout (ADC 2024 or 2025), with a known truth.

Every planet gets a random but seeded transit-depth spectrum; the simulator turns it into raw
uint16 frames following the reference recipe (docs, section 2.3): star spectrum on the AIRS trace
and a 2-D PSF on FGS1, a transit light curve, flat field, dark current with hot pixels, dead
pixels, ramps of two reads sharing their early charge, a per-pixel pedestal, shot and read noise,
the inverse of the shipped linearity polynomial and a per-planet ADC. The truth (depths in label
order and contact times) goes to ``simulation_truth.csv``.

Conventions the calibration side relies on (all in e-, the ADC-inverted unit):

* rate of a pixel = flat * source + dark, so ``(CDS - dark * dt) / flat`` is the source; dead
  pixels have no response at all (pedestal and read noise only);
* reads at 0.1 s and 4.6 s (AIRS) / 0.1 s and 0.2 s (FGS1) after each reset: dt = 4.5 s / 0.1 s;
* ``read`` is the per-read noise sigma; the pedestal is identical for both reads of a ramp;
* the detector value is x with P(x) = pedestal + charge, P the shipped ``linear_corr``
  polynomial; raw = clip(round((x - offset) * gain), 0, 65535). Noiseless data round with error
  feedback along time (see :func:`digitise_error_feedback`), so a time average over n ramps is
  exact to 1 ADU / n instead of keeping a fixed rounding bias.

Shot noise: exact Poisson (:func:`poisson_small_mean`) where an increment's mean charge is below
``POISSON_BELOW_E`` (dark-dominated pixels, far from Gaussian), and a Gaussian of variance = mean
above it: there the Poisson skewness (third cumulant = mean) is negligible against the >= 5 e-
read noise added to every read, and a Gaussian draw costs a fraction of numpy's Poisson sampler.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from . import formats, layout
from .errors import InputError
from .instruments import AIRS, FGS1, INSTRUMENTS, Instrument

CONFIG_SOURCE = "simulation config"

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
ADC_MAX = 65535

# Peak-pixel charge at the long read of the brightest star: the 2024 star-0 AIRS ADC clips near
# 4.2e4 e-, so 3.0e4 e- (times flat <= 1.11, plus noise) stays below every ADC ceiling.
PEAK_LONG_READ_E = {AIRS.name: 3.0e4, FGS1.name: 3.2e4}
BRIGHTNESS_RANGE = (0.4, 1.0)

# Spatial profiles: Gaussian core + wide wings, (weight, sigma in pixels), point-sampled.
AIRS_TRACE_ROW = 15.6
AIRS_ROW_PROFILE = ((0.8, 1.25), (0.2, 4.5))
FGS1_PSF_CENTRE = (15.4, 15.3)
FGS1_PSF_1D = ((0.83, 1.1), (0.17, 4.2))

# Linearity coefficient medians (constant first), reference doc 2.1.
LINEARITY_MEDIANS = {
    AIRS.name: (0.14, 0.9999, -5.7e-9, 1.2e-11, -6.0e-17, 1.3e-22),
    FGS1.name: (0.27, 0.9999, 5.7e-9, 8.5e-12, -3.6e-17, 6.6e-23),
}
DARK_MEDIAN = {AIRS.name: 0.0063, FGS1.name: 0.0069}
HOT_DARK_MAX = {AIRS.name: 11.9, FGS1.name: 1.35}
READ_MEDIAN = {AIRS.name: 13.0, FGS1.name: 13.3}
# Above ~60 e- per read the 2024 FGS1 raw (offset >= -313 e-) would reach the ADC floor.
READ_MAX_E = 60.0
# Real dead pixels stay within ~8 ADU over a visit although their read map says 35-130 e-.
DEAD_NOISE_E = 2.5
PEDESTAL_MEAN = {AIRS.name: 0.2, FGS1.name: 2.5}

POISSON_BELOW_E = 1.0
# Newton stops when the inverse linearity is this close (e-); 1 ADU is 0.65-2.3 e-.
NEWTON_TOLERANCE_E = 1e-3
NEWTON_MAX_ITERATIONS = 6
# float32 work arrays of this many elements stay in the 1 MiB L2 cache.
CHUNK_ELEMENTS = 1 << 15
# Observations this large (raw values) run in worker processes: starting one costs ~1 s, and
# threads are slower than one after the other here (measured: 14 s against 10 s).
PARALLEL_MIN_VALUES = 30_000_000
# Keep freed temporaries in the heap: concurrent processes that map and unmap them on every
# numpy operation run 3x slower on the 2-vCPU VM (page-fault contention, measured).
WORKER_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 28), "MALLOC_TRIM_THRESHOLD_": str(1 << 28)}

SAMPLE_SUBMISSION_VALUE = 0.456
WAVELENGTHS_FILE = "wavelengths.csv"
SAMPLE_SUBMISSION_FILE = "sample_submission.csv"
TRUTH_FILE = "simulation_truth.csv"
STAR_INFO_COLUMNS = ("Rs", "Ms", "Ts", "Mp", "e", "P", "sma", "i")

_SEED_PURPOSE = {"ids": 1, "planet": 2, "calibration": 3, "noise": 4, "pointing": 5, "jitter": 6, "drift": 7}
_INSTRUMENT_CODE = {AIRS.name: 1, FGS1.name: 2}


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate (the module docstring describes the physics).

    ``noise`` False: no shot or read noise, still ADC-rounded (with error feedback).
    ``nonlinearity`` False: a linear detector; the shipped linear_corr is the same realistic
    polynomial, so only a pipeline that skips linearity recovers such data exactly.
    ``limb_darkening`` False: trapezoid transits, whose flat bottom gives the depth exactly.
    ``fgs1_frames`` left at its full-size default follows ``airs_frames`` (12 FGS1 frames per
    AIRS frame keep the instruments time-aligned); any other value is kept.
    """

    edition: int = 2024
    seed: int = 42
    train_planets: int = 3
    test_planets: int = 1
    two_visit_planets: int = 0
    airs_frames: int = AIRS.frames
    fgs1_frames: int = FGS1.frames
    noise: bool = True
    nonlinearity: bool = True
    jitter: bool = False
    drift: bool = False
    limb_darkening: bool = False
    hot_fraction: float = 0.007
    dead_fraction: float = 0.002

    def __post_init__(self):
        for name in ("seed", "train_planets", "test_planets", "two_visit_planets"):
            _require(name, getattr(self, name), _is_int(getattr(self, name)) and getattr(self, name) >= 0, "an integer >= 0")
        _require("edition", self.edition, self.edition in layout.EDITIONS and _is_int(self.edition), "2024 or 2025")
        _require("airs_frames", self.airs_frames, _is_frames(self.airs_frames, AIRS), f"an even integer from 2 to {AIRS.frames}")
        if self.fgs1_frames == FGS1.frames and self.airs_frames != AIRS.frames:
            object.__setattr__(self, "fgs1_frames", self.airs_frames * (FGS1.frames // AIRS.frames))
        _require("fgs1_frames", self.fgs1_frames, _is_frames(self.fgs1_frames, FGS1), f"an even integer from 2 to {FGS1.frames}")
        for name in ("noise", "nonlinearity", "jitter", "drift", "limb_darkening"):
            _require(name, getattr(self, name), isinstance(getattr(self, name), bool), "true or false")
        for name in ("hot_fraction", "dead_fraction"):
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 0.2
            _require(name, value, ok, "a fraction from 0 to 0.2")
        n_planets = self.train_planets + self.test_planets
        _require("train_planets + test_planets", n_planets, n_planets >= 1, "at least one planet")
        if self.two_visit_planets and self.edition == 2024:
            raise InputError(CONFIG_SOURCE, "two_visit_planets = 0 for edition 2024 (one visit per planet)", f"two_visit_planets = {self.two_visit_planets}")
        _require("two_visit_planets", self.two_visit_planets, self.two_visit_planets <= n_planets, f"at most the {n_planets} planets")

    @classmethod
    def from_mapping(cls, mapping: Mapping) -> "SimulationConfig":
        if not isinstance(mapping, Mapping):
            raise InputError(CONFIG_SOURCE, "a mapping of simulation settings", type(mapping).__name__)
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(mapping) - set(known))
        if unknown:
            raise InputError(CONFIG_SOURCE, f"keys among {known}", f"unknown key(s) {unknown}")
        return cls(**mapping)

    def frames(self, instrument: str) -> int:
        return self.airs_frames if instrument == AIRS.name else self.fgs1_frames

    @property
    def window_s(self) -> float:
        """Observation window both instruments cover, from the first reset: transits fit in it."""
        return min(
            self.airs_frames // 2 * AIRS.pair_cadence_s,
            self.fgs1_frames // 2 * FGS1.pair_cadence_s,
        )


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_frames(value, instrument: Instrument) -> bool:
    return _is_int(value) and 2 <= value <= instrument.frames and value % 2 == 0


def _require(name: str, value, ok: bool, expected: str) -> None:
    if not ok:
        raise InputError(CONFIG_SOURCE, f"{name}: {expected}", f"{name} = {value!r}")


def _rng(cfg: SimulationConfig, purpose: str, planet_id: int = 0, visit: int = 0, instrument: str | None = None) -> np.random.Generator:
    """An independent stream per (seed, purpose, planet, visit, instrument): order-free determinism."""
    code = 0 if instrument is None else _INSTRUMENT_CODE[instrument]
    entropy = [cfg.seed, _SEED_PURPOSE[purpose], int(planet_id), visit, code]
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence(entropy)))


# --------------------------------------------------------------------------- planets


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
    return sorted(
        (split, pid, 2 if rank < cfg.two_visit_planets else 1) for rank, (split, pid) in enumerate(ordered)
    )


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
    fractions = np.array([mid - duration / 2, mid - duration / 2 + ingress, mid + duration / 2 - ingress, mid + duration / 2])
    return fractions * window_s


def planet(cfg: SimulationConfig, planet_id: int) -> Planet:
    """The truth and star of one planet: a pure function of the seed, the planet id and the window."""
    rng = _rng(cfg, "planet", planet_id)
    depths = depth_spectrum(rng, label_wavelengths(cfg.edition))
    contacts = contact_times(rng, cfg.window_s)
    star = int(rng.integers(0, 2))
    if cfg.edition == 2024:
        adc = {
            name: (rng.uniform(*ADC_GAIN_2024[star][name]), rng.uniform(*ADC_OFFSET_2024[name]))
            for name in INSTRUMENTS
        }
    else:
        adc = {name: (ADC_2025["gain"], ADC_2025["offset"]) for name in INSTRUMENTS}
    brightness = rng.uniform(*BRIGHTNESS_RANGE)
    fgs1_colour = rng.uniform(0.85, 1.0)
    impact = rng.uniform(0.0, 0.7)
    star_info = _star_info(rng, impact)
    return Planet(int(planet_id), depths, contacts, star, adc, brightness, fgs1_colour, impact, star_info)


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


# --------------------------------------------------------------------------- time axis and light curve


def frame_times_s(instrument: Instrument, n_frames: int) -> np.ndarray:
    """axis_info time stamps (s): pair k at 0.1 + cadence*k and 0.2 + cadence*k."""
    start = instrument.pair_cadence_s * np.arange(n_frames // 2)
    times = np.empty(n_frames)
    times[0::2] = 0.1 + start
    times[1::2] = 0.2 + start
    return times


def pair_times_s(instrument: Instrument, n_frames: int) -> np.ndarray:
    """Time of each ramp for the light curve: the mean of its two stamps (the CDS time stamp)."""
    return 0.15 + instrument.pair_cadence_s * np.arange(n_frames // 2)


def trapezoid(t: np.ndarray, contacts: np.ndarray) -> np.ndarray:
    """0 out of transit, 1 on the flat bottom, linear ingress and egress."""
    t1, t2, t3, t4 = contacts
    return np.clip(np.minimum((t - t1) / (t2 - t1), (t4 - t) / (t4 - t3)), 0.0, 1.0)


def limb_darkening_coefficients(wavelengths_um: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quadratic limb darkening (u1, u2), stronger at short wavelength."""
    blue = 0.7 / np.asarray(wavelengths_um, dtype=np.float64)
    return 0.12 + 0.33 * blue, 0.22 - 0.05 * blue


def limb_darkened(t: np.ndarray, contacts: np.ndarray, impact: float, u1, u2) -> np.ndarray:
    """Small-planet approximation: the trapezoid's overlap fraction times the local surface
    brightness under the planet over the disc mean; the flat bottom is curved and its mean
    deficit is not the depth. ``u1``/``u2`` of shape (n, 1) give n curves."""
    t1, _, _, t4 = contacts
    half = (t4 - t1) / 2
    z2 = impact**2 + (1 - impact**2) * ((t - (t1 + t4) / 2) / half) ** 2
    one_minus_mu = 1.0 - np.sqrt(np.clip(1.0 - z2, 0.0, 1.0))
    brightness = 1.0 - u1 * one_minus_mu - u2 * one_minus_mu**2
    return trapezoid(t, contacts) * brightness / (1.0 - u1 / 3.0 - u2 / 6.0)


def transit_multiplier(t: np.ndarray, contacts: np.ndarray, depths: np.ndarray, wavelengths_um: np.ndarray, impact: float, limb_darkening: bool) -> np.ndarray:
    """Flux multiplier 1 - depth * shape(t), shape (n_wavelengths, n_times)."""
    depths = np.asarray(depths, dtype=np.float64)[:, None]
    if not limb_darkening:
        return 1.0 - depths * trapezoid(t, contacts)[None, :]
    u1, u2 = limb_darkening_coefficients(wavelengths_um)
    return 1.0 - depths * limb_darkened(t, contacts, impact, u1[:, None], u2[:, None])


def drift(rng: np.random.Generator, t: np.ndarray, window_s: float, wavelengths_um: np.ndarray) -> np.ndarray:
    """Slow multiplicative drift 1 + f(t) g(lambda), f and g low-order polynomials (~1e-3)."""
    tau = 2.0 * t / window_s - 1.0
    a1, a2 = rng.normal(0.0, 4e-4, size=2)
    slope = rng.uniform(-0.3, 0.3)
    chromatic = 1.0 + slope * (np.asarray(wavelengths_um, dtype=np.float64) - 2.5)
    return 1.0 + chromatic[:, None] * (a1 * tau + a2 * tau**2)[None, :]


def pointing(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Sub-pixel pointing offsets (2, n_times) in pixels: three slow sinusoids per axis."""
    offsets = np.zeros((2, t.size))
    for axis in range(2):
        for _ in range(3):
            amplitude = rng.uniform(0.005, 0.03)
            period = rng.uniform(60.0, 3000.0)
            offsets[axis] += amplitude * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    return offsets


# --------------------------------------------------------------------------- optics


def gaussian_mixture(offset: np.ndarray, components) -> np.ndarray:
    """Point-sampled density of a sum of (weight, sigma) Gaussians at ``offset`` pixels."""
    offset = np.asarray(offset, dtype=np.float64)
    total = np.zeros_like(offset)
    for weight, sigma in components:
        total += weight / (sigma * math.sqrt(2 * math.pi)) * np.exp(-0.5 * (offset / sigma) ** 2)
    return total


def airs_spectrum_shape(columns: np.ndarray, star_temperature: float) -> np.ndarray:
    """Relative photon rate per AIRS column: a Planck photon spectrum times a throughput that
    rises toward short wavelength (high column) and cuts off past column ~312."""
    columns = np.asarray(columns, dtype=np.float64)
    lam = airs_wavelengths(columns)
    planck_photons = lam**-4 / np.expm1(14387.77 / (lam * star_temperature))
    throughput = np.exp(-(lam - 2.0) / 1.06) / (1.0 + np.exp((columns - 322.0) / 4.0))
    return planck_photons * throughput


def source_factors(cfg: SimulationConfig, body: Planet, visit: int, instrument: Instrument) -> tuple[np.ndarray, np.ndarray]:
    """Separable source rate (e-/s before the flat): rate[r, c, k] = rows[r, k] * cols[c, k].

    Time-independent factors have a single time column (broadcast).
    """
    n_frames = cfg.frames(instrument.name)
    t = pair_times_s(instrument, n_frames)
    shift = np.zeros((2, 1))
    if cfg.jitter:
        # Slow jitter shared by both instruments (one telescope) plus white noise per instrument.
        shift = pointing(_rng(cfg, "pointing", body.planet_id, visit), t)
        shift += _rng(cfg, "jitter", body.planet_id, visit, instrument.name).normal(0.0, 0.01, shift.shape)
    rows = np.arange(instrument.rows, dtype=np.float64)[:, None]
    cols = np.arange(instrument.cols, dtype=np.float64)[:, None]
    if instrument is AIRS:
        wavelengths = airs_wavelengths()
        depths = airs_column_depths(body.depths)
        # Jitter moves the trace across rows and the spectrum along columns; the transit depth
        # stays attached to detector columns.
        profile = gaussian_mixture(rows - AIRS_TRACE_ROW - shift[0][None, :], AIRS_ROW_PROFILE)
        shape = airs_spectrum_shape(cols - shift[1][None, :], body.star_info["Ts"])
        peak = gaussian_mixture(rows - AIRS_TRACE_ROW, AIRS_ROW_PROFILE).max() * airs_spectrum_shape(cols, body.star_info["Ts"]).max()
        scale = PEAK_LONG_READ_E[AIRS.name] * body.brightness / (instrument.long_read_s * peak)
        row_factor, col_factor = profile, scale * shape
    else:
        wavelengths = np.array([FGS1_WAVELENGTH_UM[cfg.edition]])
        depths = body.depths[:1]
        row_factor = gaussian_mixture(rows - FGS1_PSF_CENTRE[0] - shift[0][None, :], FGS1_PSF_1D)
        col_factor = gaussian_mixture(cols - FGS1_PSF_CENTRE[1] - shift[1][None, :], FGS1_PSF_1D)
        peak = gaussian_mixture(rows - FGS1_PSF_CENTRE[0], FGS1_PSF_1D).max() * gaussian_mixture(cols - FGS1_PSF_CENTRE[1], FGS1_PSF_1D).max()
        row_factor = row_factor * PEAK_LONG_READ_E[FGS1.name] * body.brightness * body.fgs1_colour / (instrument.long_read_s * peak)
    modulation = transit_multiplier(t, body.contacts_s, depths, wavelengths, body.impact, cfg.limb_darkening)
    if cfg.drift:
        modulation = modulation * drift(_rng(cfg, "drift", body.planet_id, visit), t, cfg.window_s, wavelengths)
    return row_factor, col_factor * modulation


# --------------------------------------------------------------------------- detector


def calibration_maps(rng: np.random.Generator, instrument: Instrument, hot_fraction: float, dead_fraction: float) -> dict[str, np.ndarray]:
    """The five shipped maps plus the (unshipped) per-pixel pedestal, with realistic values (doc 2.1).

    linear_corr has shape (6, rows, cols), constant term first.
    """
    name, shape = instrument.name, (instrument.rows, instrument.cols)
    n_pixels = instrument.pixels
    row, col = np.indices(shape)
    gradient = rng.normal(0.0, 0.01, 2)
    flat = 1.0 + rng.normal(0.0, 0.018, shape) + gradient[0] * (row / instrument.rows - 0.5) + gradient[1] * (col / instrument.cols - 0.5)
    flat = np.clip(flat, 0.88, 1.11)
    low_qe = rng.choice(n_pixels, max(1, round(0.001 * n_pixels)), replace=False)
    flat.flat[low_qe] = rng.uniform(0.57, 0.88, low_qe.size)

    dark = DARK_MEDIAN[name] * np.exp(rng.normal(0.0, 0.19, shape))
    hot = rng.choice(n_pixels, round(hot_fraction * n_pixels), replace=False)
    dark.flat[hot] = np.exp(rng.uniform(math.log(0.05), math.log(HOT_DARK_MAX[name]), hot.size))

    read = np.clip(READ_MEDIAN[name] * np.exp(rng.normal(0.0, 0.34, shape)), 5.0, READ_MAX_E)
    dead = np.zeros(shape, dtype=bool)
    dead_pixels = rng.choice(n_pixels, round(dead_fraction * n_pixels), replace=False)
    dead.flat[dead_pixels] = True
    # About half the dead pixels have a flat of ~0 or below, the rest a normal flat; all are noisy.
    n_bad_flat = (dead_pixels.size + 1) // 2
    flat.flat[dead_pixels[:n_bad_flat]] = rng.uniform(-0.048, -0.001, n_bad_flat)
    flat.flat[dead_pixels[n_bad_flat:]] = rng.uniform(0.86, 1.02, dead_pixels.size - n_bad_flat)
    read.flat[dead_pixels] = rng.uniform(35.0, 130.0, dead_pixels.size)

    medians = LINEARITY_MEDIANS[name]
    amplitude = rng.uniform(0.8, 1.2, shape)
    linear_corr = np.empty((6, *shape))
    linear_corr[0] = medians[0] + rng.normal(0.0, 0.03, shape)
    linear_corr[1] = medians[1] + rng.normal(0.0, 2e-5, shape)
    for k in range(2, 6):
        linear_corr[k] = medians[k] * amplitude
    pedestal = PEDESTAL_MEAN[name] + rng.normal(0.0, 3.9, shape)
    return {"dark": dark, "dead": dead, "flat": flat, "read": read, "linear_corr": linear_corr, "pedestal": pedestal}


def linearity(x: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """The shipped correction P(x) = sum_k coeffs[k] x**k (Horner; coeffs broadcast against x)."""
    result = coeffs[5] * x
    for k in range(4, 0, -1):
        result += coeffs[k]
        result *= x
    result += coeffs[0]
    return result


def linearity_slope(x: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """P'(x)."""
    result = 5.0 * coeffs[5] * x
    for k in range(4, 1, -1):
        result += k * coeffs[k]
        result *= x
    result += coeffs[1]
    return result


def check_monotonic(coeffs: np.ndarray, y_low: float, y_high: float) -> None:
    """Raise unless P' > 0 over [y_low, y_high] for every pixel: P must be invertible there."""
    grid = np.linspace(y_low, y_high, 257).reshape(-1, *([1] * (coeffs.ndim - 1)))
    slope = linearity_slope(grid, coeffs)
    if not np.all(slope > 0):
        raise ValueError(f"linearity polynomial not increasing on [{y_low}, {y_high}] (min slope {slope.min():.3g})")


def invert_linearity(y: np.ndarray, coeffs: np.ndarray, iterations: int) -> np.ndarray:
    """x with P(x) = y: Newton from the linear solution (P' ~ 1, so it converges in 1-3 steps)."""
    x = (y - coeffs[0]) / coeffs[1]
    for _ in range(iterations):
        step = linearity(x, coeffs)
        step -= y
        step /= linearity_slope(x, coeffs)
        x -= step
    return x


def newton_iterations(coeffs: np.ndarray, y_low: np.ndarray, y_high: np.ndarray, tolerance: float = NEWTON_TOLERANCE_E) -> np.ndarray:
    """Newton steps :func:`invert_linearity` needs per pixel for |error| <= tolerance over
    [y_low, y_high], found by running it in float64 on a grid. coeffs (6, n), y_* (n,)."""
    y = np.linspace(y_low, y_high, 9)
    reference = invert_linearity(y, coeffs[:, None, :], NEWTON_MAX_ITERATIONS + 2)
    needed = np.full(y.shape[1], -1)
    for iterations in range(NEWTON_MAX_ITERATIONS + 1):
        error = np.abs(invert_linearity(y, coeffs[:, None, :], iterations) - reference).max(axis=0)
        needed[(needed < 0) & (error <= tolerance)] = iterations
    if np.any(needed < 0):
        raise ValueError(f"Newton inversion of the linearity does not converge within {NEWTON_MAX_ITERATIONS} steps")
    return needed


def digitise(x: np.ndarray, gain: float, offset: float) -> tuple[np.ndarray, int]:
    """raw = clip(round((x - offset) * gain), 0, 65535) as uint16, and the clipped count."""
    value = x - np.float32(offset)
    value *= np.float32(gain)
    np.rint(value, out=value)
    return _clip_adc(value)


def digitise_error_feedback(x: np.ndarray, gain: float, offset: float, carry: np.ndarray) -> tuple[np.ndarray, int]:
    """Like :func:`digitise` along the last (time) axis, carrying each rounding residue into the
    next conversion of the same pixel and read (first-order error feedback).

    raw_k = round(S_k) - round(S_{k-1}) with S the running sum of the exact values plus the
    residue ``carry`` (one per row, in [-0.5, 0.5], updated in place): the raw sum over any run of
    consecutive ramps is within 1 ADU of the exact sum.
    """
    running = x.astype(np.float64)
    running -= offset
    running *= gain
    np.cumsum(running, axis=-1, out=running)
    running += carry[:, None]
    rounded = np.rint(running)
    carry[:] = running[:, -1] - rounded[:, -1]
    return _clip_adc(np.diff(rounded, axis=-1, prepend=0.0))


def _clip_adc(value: np.ndarray) -> tuple[np.ndarray, int]:
    clipped = 0
    if value.min() < 0 or value.max() > ADC_MAX:
        clipped = int(np.count_nonzero((value < 0) | (value > ADC_MAX)))
        np.clip(value, 0, ADC_MAX, out=value)
    return value.astype(np.uint16), clipped


@dataclass(frozen=True)
class ObservationModel:
    """Inputs of :func:`simulate_frames` for one visit of one instrument (arrays, no I/O)."""

    instrument: Instrument
    row_factor: np.ndarray
    """(rows, n_pairs or 1): source rate factor of each detector row."""
    col_factor: np.ndarray
    """(cols, n_pairs or 1): source rate factor of each detector column (spectrum, transit, drift)."""
    maps: dict
    """:func:`calibration_maps` output."""
    gain: float
    offset: float
    n_pairs: int


def observation_model(cfg: SimulationConfig, body: Planet, visit: int, instrument: Instrument) -> ObservationModel:
    rng = _rng(cfg, "calibration", body.planet_id, visit, instrument.name)
    maps = calibration_maps(rng, instrument, cfg.hot_fraction, cfg.dead_fraction)
    gain, offset = body.adc[instrument.name]
    n_pairs = cfg.frames(instrument.name) // 2
    row_factor, col_factor = source_factors(cfg, body, visit, instrument)
    return ObservationModel(instrument, row_factor, col_factor, maps, gain, offset, n_pairs)


def simulate_frames(model: ObservationModel, rng: np.random.Generator, noise: bool = True, nonlinearity: bool = True) -> tuple[np.ndarray, int]:
    """Raw frames, pixel-major uint16 (rows, cols, frames), and the number of clipped values.

    Per ramp k and pixel: rate = flat * source + dark (0 for dead pixels); short read
    y_s = pedestal + Q_s, long read y_l = pedestal + Q_s + Q_d (shared early charge), with
    Q_s, Q_d the charges of [0, t_short] and [t_short, t_long]; read noise per read; then the
    inverse linearity and the ADC. Pixels are processed in groups of equal treatment (noise model,
    Newton steps) and in cache-sized blocks of pixels x ramps.
    """
    inst = model.instrument
    maps = model.maps
    n_pairs = model.n_pairs
    t_short, t_long = inst.short_read_s, inst.long_read_s
    row_of = np.repeat(np.arange(inst.rows), inst.cols)
    col_of = np.tile(np.arange(inst.cols), inst.rows)
    flat = maps["flat"].ravel()
    dead = maps["dead"].ravel()
    dark = np.where(dead, 0.0, maps["dark"].ravel())
    read = maps["read"].ravel()
    pedestal = maps["pedestal"].ravel()
    coeffs = maps["linear_corr"].reshape(6, -1)

    read = np.where(dead, DEAD_NOISE_E, read)
    rate_max = np.where(dead, 0.0, np.abs(flat) * model.row_factor.max(axis=1)[row_of] * model.col_factor.max(axis=1)[col_of] + dark)
    exact_short = noise & (rate_max * t_short < POISSON_BELOW_E)
    exact_long = noise & (rate_max * (t_long - t_short) < POISSON_BELOW_E)
    if nonlinearity:
        ceiling = ADC_MAX / model.gain + model.offset
        check_monotonic(coeffs, model.offset - 1000.0, ceiling)
        spread = 6.0 * np.sqrt(rate_max * t_long + read**2) if noise else np.zeros_like(read)
        y_low = pedestal - spread
        steps_short = newton_iterations(coeffs, y_low, pedestal + rate_max * t_short + spread)
        steps_long = newton_iterations(coeffs, y_low, pedestal + rate_max * t_long + spread)
    else:
        steps_short = steps_long = np.zeros(dead.size, dtype=int)

    key = np.stack([dead, exact_short, exact_long, steps_short, steps_long], axis=1).astype(np.int64)
    groups, group_of = np.unique(key, axis=0, return_inverse=True)
    group_of = group_of.ravel()
    factors = (np.asarray(model.row_factor, dtype=np.float32), np.asarray(model.col_factor, dtype=np.float32))
    per_pixel = np.stack([flat, dark, read, pedestal]).astype(np.float32)
    coeffs32 = coeffs.astype(np.float32)
    out = np.empty((dead.size, n_pairs, 2), dtype=np.uint16)
    clipped = 0
    ramps = min(n_pairs, 2048)
    block = max(1, CHUNK_ELEMENTS // ramps)
    for group, (is_dead, poisson_short, poisson_long, n_short, n_long) in enumerate(groups):
        members = np.flatnonzero(group_of == group)
        for start in range(0, members.size, block):
            pix = members[start : start + block]
            p_flat, p_dark, p_read, p_pedestal = per_pixel[:, pix, None]
            p_coeffs = coeffs32[:, pix, None]
            carries = (np.zeros(pix.size), np.zeros(pix.size))
            for k0 in range(0, n_pairs, ramps):
                k1 = min(k0 + ramps, n_pairs)
                if is_dead:
                    reads = [_dead_read(p_pedestal, k1 - k0, rng, noise) for _ in range(2)]
                else:
                    rate = _factor_block(factors[1], col_of[pix], k0, k1)
                    rate *= _factor_block(factors[0], row_of[pix], k0, k1)
                    rate *= p_flat
                    rate += p_dark
                    reads = _ramp_reads(rate, t_short, t_long, p_pedestal, p_read, rng, noise, bool(poisson_short), bool(poisson_long))
                for read_index, (y, steps) in enumerate(zip(reads, (n_short, n_long))):
                    x = invert_linearity(y, p_coeffs, int(steps)) if nonlinearity else y
                    if noise:
                        raw, n_clipped = digitise(x, model.gain, model.offset)
                    else:
                        raw, n_clipped = digitise_error_feedback(x, model.gain, model.offset, carries[read_index])
                    out[pix, k0:k1, read_index] = raw
                    clipped += n_clipped
    return out.reshape(inst.rows, inst.cols, 2 * n_pairs), clipped


def _factor_block(factor: np.ndarray, index: np.ndarray, k0: int, k1: int) -> np.ndarray:
    """factor[index, k0:k1] as a fresh float32 (len(index), k1 - k0) array (time-constant factors broadcast)."""
    if factor.shape[1] == 1:
        return np.repeat(factor[index], k1 - k0, axis=1)
    return factor[index, k0:k1]


def _dead_read(pedestal, width, rng, noise):
    """A dead pixel does not respond: pedestal plus a small read noise."""
    values = np.repeat(pedestal, width, axis=1)
    if noise:
        values += np.float32(DEAD_NOISE_E) * _normal(rng, values.shape)
    return values


def _ramp_reads(rate, t_short, t_long, pedestal, read, rng, noise, poisson_short, poisson_long):
    """The two reads (e-, before the non-linearity) of every ramp in a block."""
    mean_short = rate * np.float32(t_short)
    mean_long = rate * np.float32(t_long)
    if not noise:
        mean_short += pedestal
        mean_long += pedestal
        return mean_short, mean_long
    if not (poisson_short or poisson_long):
        # Bivariate Gaussian with the exact covariance: A = shot_s + read_s and
        # B = shot_s + shot_d + read_l share var(shot_s); B = beta * A + independent rest.
        var_short = mean_short + read * read
        noise_short = np.sqrt(var_short)
        noise_short *= _normal(rng, rate.shape)
        beta = mean_short / var_short
        rest = mean_long + read * read
        rest -= beta * mean_short
        np.sqrt(rest, out=rest)
        rest *= _normal(rng, rate.shape)
        rest += beta * noise_short
        mean_short += noise_short
        mean_short += pedestal
        mean_long += rest
        mean_long += pedestal
        return mean_short, mean_long
    mean_increment = mean_long - mean_short
    if poisson_short:
        charge_short = poisson_small_mean(rng, mean_short)
    else:
        charge_short = mean_short + np.sqrt(mean_short) * _normal(rng, rate.shape)
    if poisson_long:
        increment = poisson_small_mean(rng, mean_increment)
        increment += read * _normal(rng, rate.shape)
    else:
        # Gaussian shot noise of the increment merged with the long read's noise: one draw.
        increment = mean_increment + np.sqrt(mean_increment + read * read) * _normal(rng, rate.shape)
    y_short = charge_short + pedestal
    y_long = y_short + increment
    y_short += read * _normal(rng, rate.shape)
    return y_short, y_long


def poisson_small_mean(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """Exact Poisson draws (float32) for small means: the number of unit-rate exponential gaps
    that fit below the mean. One vectorised pass settles the zero counts (most of them); only
    the draws with arrivals iterate. 5-10x faster than numpy's sampler with array means."""
    limit = mean.ravel()
    elapsed = rng.standard_exponential(limit.size, dtype=np.float32)
    counts = np.zeros(limit.size, dtype=np.float32)
    active = np.flatnonzero(elapsed < limit)
    elapsed, limit = elapsed[active], limit[active]
    while active.size:
        counts[active] += 1
        elapsed += rng.standard_exponential(active.size, dtype=np.float32)
        more = elapsed < limit
        active, elapsed, limit = active[more], elapsed[more], limit[more]
    return counts.reshape(mean.shape)


def _normal(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


# --------------------------------------------------------------------------- writing


def planet_files(cfg: SimulationConfig, split: str, planet_id: int) -> list[str]:
    """Paths, relative to the dataset root, of every file :func:`write_planet` writes."""
    paths = []
    for visit in range(_n_visits(cfg, split, planet_id)):
        for name in INSTRUMENTS:
            paths.append(layout.signal_file("", cfg.edition, split, planet_id, visit, name))
            paths.extend(layout.calibration_file("", cfg.edition, split, planet_id, visit, name, kind) for kind in formats.CALIBRATION_MAPS)
    return [str(path) for path in paths]


def _star_info_file(split: str) -> str:
    return f"{split}_star_info.csv"


def table_files(cfg: SimulationConfig) -> list[str]:
    """Paths, relative to the dataset root, of every top-level file :func:`write_tables` writes."""
    adc = dict.fromkeys(str(layout.adc_info_file("", cfg.edition, split)) for split in layout.SPLITS)
    names = [*adc, str(layout.axis_info_file("")), str(layout.labels_file("", cfg.edition)), WAVELENGTHS_FILE, SAMPLE_SUBMISSION_FILE]
    if cfg.edition == 2025:
        names += [_star_info_file(split) for split in layout.SPLITS]
    return names + [TRUTH_FILE]


def write_observation(cfg: SimulationConfig, out_dir, split: str, planet_id: int, visit: int, instrument: str) -> int:
    """Signal and calibration maps of one visit of one instrument; returns the clipped-value count."""
    if visit >= _n_visits(cfg, split, planet_id):
        raise InputError(CONFIG_SOURCE, f"a visit below {_n_visits(cfg, split, planet_id)} for planet {planet_id}", f"visit {visit}")
    inst = INSTRUMENTS[instrument]
    model = observation_model(cfg, planet(cfg, planet_id), visit, inst)
    rng = _rng(cfg, "noise", planet_id, visit, instrument)
    cube, clipped = simulate_frames(model, rng, noise=cfg.noise, nonlinearity=cfg.nonlinearity)
    if clipped:
        warnings.warn(f"{split}/{planet_id} visit {visit} {instrument}: {clipped} raw values clipped to 0 or {ADC_MAX}", stacklevel=2)
    formats.write_signal(layout.signal_file(out_dir, cfg.edition, split, planet_id, visit, instrument), cube)
    del cube
    for kind in formats.CALIBRATION_MAPS:
        path = layout.calibration_file(out_dir, cfg.edition, split, planet_id, visit, instrument, kind)
        formats.write_calibration(path, model.maps[kind])
    return clipped


def write_planet(cfg: SimulationConfig, out_dir, split: str, planet_id: int) -> None:
    """Every file of one planet: both instruments, all visits; large ones in parallel processes."""
    visits = range(_n_visits(cfg, split, planet_id))
    jobs = [(visit, name) for visit in visits for name in INSTRUMENTS]
    workers = min(len(jobs), len(os.sched_getaffinity(0)))
    largest = max(cfg.frames(name) * INSTRUMENTS[name].pixels for name in INSTRUMENTS)
    if workers < 2 or largest < PARALLEL_MIN_VALUES:
        for visit, name in jobs:
            write_observation(cfg, out_dir, split, planet_id, visit, name)
        return
    # Fresh interpreters rather than multiprocessing: fork can deadlock polars' thread pool, and
    # spawn re-imports the caller's __main__.
    running: list[tuple[subprocess.Popen, str]] = []
    failed: list[str] = []
    for visit, name in jobs:
        if len(running) == workers:
            failed += _finished(*running.pop(0))
        if failed:
            break
        job = {"config": asdict(cfg), "out_dir": os.fspath(out_dir), "split": split, "planet_id": int(planet_id), "visit": visit, "instrument": name}
        command = [sys.executable, "-c", "import sys; from arielcal.simulate import _run_job; _run_job(sys.argv[1])", json.dumps(job)]
        env = {**WORKER_MALLOC_ENV, **os.environ}
        running.append((subprocess.Popen(command, env=env), f"{split}/{planet_id} visit {visit} {name}"))
    for proc, label in running:
        failed += _finished(proc, label)
    if failed:
        raise RuntimeError(f"simulating {', '.join(failed)} failed in a worker process (see its stderr above)")


def _run_job(text: str) -> None:
    job = json.loads(text)
    cfg = SimulationConfig.from_mapping(job.pop("config"))
    write_observation(cfg, **job)


def _finished(proc: subprocess.Popen, label: str) -> list[str]:
    """Wait for a worker; its label if it failed."""
    return [f"{label} (exit {proc.returncode})"] if proc.wait() else []


def _label_columns(depths_by_planet: list[np.ndarray]) -> dict[str, list[float]]:
    return {f"wl_{j + 1}": [float(d[j]) for d in depths_by_planet] for j in range(N_LABELS)}


def write_tables(cfg: SimulationConfig, out_dir) -> None:
    """ADC info, axis_info, labels, wavelengths, sample submission, 2025 star info and the truth."""
    plan = [(split, pid) for split, pid, _ in planets(cfg)]
    bodies = {pid: planet(cfg, pid) for _, pid in plan}
    by_split = {split: [pid for s, pid in plan if s == split] for split in layout.SPLITS}

    airs_times = frame_times_s(AIRS, cfg.airs_frames)
    formats.write_axis_info(
        layout.axis_info_file(out_dir),
        {
            "AIRS-CH0-axis0-h": airs_times / 3600.0,
            formats.AXIS_WAVELENGTH: airs_wavelengths(),
            formats.AXIS_INTEGRATION: np.tile([AIRS.short_read_s, AIRS.long_read_s - AIRS.short_read_s], cfg.airs_frames // 2),
            "FGS1-axis0-h": frame_times_s(FGS1, cfg.fgs1_frames) / 3600.0,
        },
    )
    if cfg.edition == 2024:
        for split, ids in by_split.items():
            columns = {"planet_id": ids}
            for name in formats.ADC_COLUMNS:
                instrument, _, quantity = name.rpartition("_adc_")
                columns[name] = [bodies[pid].adc[instrument][0 if quantity == "gain" else 1] for pid in ids]
            columns["star"] = [bodies[pid].star for pid in ids]
            formats.write_csv(layout.adc_info_file(out_dir, cfg.edition, split), columns)
    else:
        values = {f"{name}_adc_{quantity}": [ADC_2025[quantity]] for name in ("FGS1", "AIRS-CH0") for quantity in ("offset", "gain")}
        formats.write_csv(layout.adc_info_file(out_dir, cfg.edition, "train"), {name: values[name] for name in formats.ADC_COLUMNS})
        for split, ids in by_split.items():
            # The competition's test file prints planet ids as floats (1103775.0).
            columns = {"planet_id": [float(pid) if split == "test" else pid for pid in ids]}
            columns.update({key: [bodies[pid].star_info[key] for pid in ids] for key in STAR_INFO_COLUMNS})
            formats.write_csv(Path(out_dir) / _star_info_file(split), columns)

    train = by_split["train"]
    formats.write_csv(layout.labels_file(out_dir, cfg.edition), {"planet_id": train, **_label_columns([bodies[pid].depths for pid in train])})
    wavelengths = label_wavelengths(cfg.edition)
    formats.write_csv(Path(out_dir) / WAVELENGTHS_FILE, {f"wl_{j + 1}": [float(wavelengths[j])] for j in range(N_LABELS)})
    test = by_split["test"]
    submission = {"planet_id": test}
    for prefix in ("wl", "sigma"):
        submission.update({f"{prefix}_{j + 1}": [SAMPLE_SUBMISSION_VALUE] * len(test) for j in range(N_LABELS)})
    formats.write_csv(Path(out_dir) / SAMPLE_SUBMISSION_FILE, submission)

    truth = {"split": [split for split, _ in plan], "planet_id": [pid for _, pid in plan]}
    for i in range(4):
        truth[f"t{i + 1}_h"] = [float(bodies[pid].contacts_s[i] / 3600.0) for _, pid in plan]
    truth.update(_label_columns([bodies[pid].depths for _, pid in plan]))
    formats.write_csv(Path(out_dir) / TRUTH_FILE, truth)


# --------------------------------------------------------------------------- command line


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="arielcal-simulate", description="Write a simulated Ariel dataset in the competition layout.")
    parser.add_argument("--out", required=True, help="dataset root to write")
    parser.add_argument("--edition", type=int, help="2024 (default) or 2025 layout")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--train-planets", type=int)
    parser.add_argument("--test-planets", type=int)
    parser.add_argument("--two-visit-planets", type=int, help="2025 only: planets with a second visit")
    parser.add_argument("--airs-frames", type=int, help="even; default 11250")
    parser.add_argument("--fgs1-frames", type=int, help="even; default 12 x AIRS frames")
    parser.add_argument("--noiseless", action="store_true", help="no shot or read noise (still ADC-rounded)")
    parser.add_argument("--no-nonlinearity", action="store_true", help="a linear detector")
    parser.add_argument("--jitter", action="store_true", help="sub-pixel pointing jitter")
    parser.add_argument("--drift", action="store_true", help="slow multiplicative drift")
    parser.add_argument("--limb-darkening", action="store_true", help="limb-darkened transits")
    parser.add_argument("--hot-fraction", type=float)
    parser.add_argument("--dead-fraction", type=float)
    return parser


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    settings = {
        name: getattr(args, name)
        for name in ("edition", "seed", "train_planets", "test_planets", "two_visit_planets", "airs_frames", "fgs1_frames", "hot_fraction", "dead_fraction")
        if getattr(args, name) is not None
    }
    flags = {"noise": not args.noiseless, "nonlinearity": not args.no_nonlinearity, "jitter": args.jitter, "drift": args.drift, "limb_darkening": args.limb_darkening}
    try:
        cfg = SimulationConfig.from_mapping({**settings, **flags})
        write_tables(cfg, args.out)
        for split, planet_id, _ in planets(cfg):
            started = time.perf_counter()
            write_planet(cfg, args.out, split, planet_id)
            print(f"{split}/{planet_id}: {time.perf_counter() - started:.1f} s", flush=True)
    except (InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
