"""What to simulate: :class:`SimulationConfig`, its checks, and the seeded random streams."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from .. import layout
from ..errors import InputError
from ..instruments import AIRS, FGS1, Instrument

CONFIG_SOURCE = "simulation config"

_SEED_PURPOSE = {
    "ids": 1,
    "planet": 2,
    "calibration": 3,
    "noise": 4,
    "pointing": 5,
    "jitter": 6,
    "drift": 7,
    "cosmic_rays": 8,
    "grazing": 9,
}
# The systematics ``realistic`` switches on (each None = follow ``realistic``), and the fraction
# of grazing transits it implies.
SYSTEMATICS = ("jitter", "drift", "limb_darkening", "cosmic_rays", "saturation")
REALISTIC_GRAZING_FRACTION = 0.25
_INSTRUMENT_CODE = {AIRS.name: 1, FGS1.name: 2}


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate (the module docstring describes the physics).

    ``noise`` False: no shot or read noise, still ADC-rounded (with error feedback).
    ``nonlinearity`` False: a linear detector; the shipped linear_corr is the same realistic
    polynomial, so only a pipeline that skips linearity recovers such data exactly.
    ``limb_darkening`` False: trapezoid transits, whose flat bottom gives the depth exactly.
    ``fgs1_frames`` left at its full-size default follows ``airs_frames`` (12 FGS1 frames per
    AIRS frame keep the instruments time-aligned); any other value is kept.

    Systematics (docs/systematics.md): ``realistic`` True switches on every one left at None
    (``jitter``, ``drift``, ``limb_darkening``, ``cosmic_rays``, ``saturation``, and
    ``grazing_fraction`` = 0.25); False leaves them off. ``cosmic_ray_rate`` hits per pixel per
    second with a log-uniform charge in ``cosmic_ray_charge_e``; ``saturation`` scales each star
    so its brightest pixel's long read is ``saturation_level`` x the ADC ceiling;
    ``grazing_fraction`` of the planets (drawn per planet) cross the limb. Limb darkening or
    grazing transits use the exact occultation of a disc on a chord (:mod:`.occultation`).
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
    jitter: bool | None = None
    drift: bool | None = None
    limb_darkening: bool | None = None
    hot_fraction: float = 0.007
    dead_fraction: float = 0.002
    realistic: bool = False
    cosmic_rays: bool | None = None
    saturation: bool | None = None
    grazing_fraction: float | None = None
    cosmic_ray_rate: float = 2e-5
    cosmic_ray_charge_e: tuple[float, float] = (300.0, 3000.0)
    saturation_level: float = 1.0

    def __post_init__(self):
        for name in ("seed", "train_planets", "test_planets", "two_visit_planets"):
            _require(
                name, getattr(self, name), _is_int(getattr(self, name)) and getattr(self, name) >= 0, "an integer >= 0"
            )
        _require("edition", self.edition, self.edition in layout.EDITIONS and _is_int(self.edition), "2024 or 2025")
        _require(
            "airs_frames",
            self.airs_frames,
            _is_frames(self.airs_frames, AIRS),
            f"an even integer from 2 to {AIRS.frames}",
        )
        if self.fgs1_frames == FGS1.frames and self.airs_frames != AIRS.frames:
            object.__setattr__(self, "fgs1_frames", self.airs_frames * (FGS1.frames // AIRS.frames))
        _require(
            "fgs1_frames",
            self.fgs1_frames,
            _is_frames(self.fgs1_frames, FGS1),
            f"an even integer from 2 to {FGS1.frames}",
        )
        _require("realistic", self.realistic, isinstance(self.realistic, bool), "true or false")
        for name in SYSTEMATICS:
            if getattr(self, name) is None:
                object.__setattr__(self, name, self.realistic)
        if self.grazing_fraction is None:
            object.__setattr__(self, "grazing_fraction", REALISTIC_GRAZING_FRACTION if self.realistic else 0.0)
        for name in ("noise", "nonlinearity", *SYSTEMATICS):
            _require(name, getattr(self, name), isinstance(getattr(self, name), bool), "true or false")
        _require("grazing_fraction", self.grazing_fraction, _is_number(self.grazing_fraction, 0, 1), "from 0 to 1")
        _require("cosmic_ray_rate", self.cosmic_ray_rate, _is_number(self.cosmic_ray_rate, 0, 1e-2), "0 to 0.01 /s")
        _require("saturation_level", self.saturation_level, _is_number(self.saturation_level, 0.1, 3), "0.1 to 3")
        charge = self.cosmic_ray_charge_e
        ok = isinstance(charge, (list, tuple)) and len(charge) == 2 and all(_is_number(q, 1, 1e6) for q in charge)
        _require("cosmic_ray_charge_e", charge, ok and charge[0] <= charge[1], "[lo, hi] e- with 1 <= lo <= hi")
        object.__setattr__(self, "cosmic_ray_charge_e", tuple(float(q) for q in charge))
        for name in ("hot_fraction", "dead_fraction"):
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 0.2
            _require(name, value, ok, "a fraction from 0 to 0.2")
        n_planets = self.train_planets + self.test_planets
        _require("train_planets + test_planets", n_planets, n_planets >= 1, "at least one planet")
        if self.two_visit_planets and self.edition == 2024:
            raise InputError(
                CONFIG_SOURCE,
                "two_visit_planets = 0 for edition 2024 (one visit per planet)",
                f"two_visit_planets = {self.two_visit_planets}",
            )
        _require(
            "two_visit_planets",
            self.two_visit_planets,
            self.two_visit_planets <= n_planets,
            f"at most the {n_planets} planets",
        )

    @classmethod
    def from_mapping(cls, mapping: Mapping) -> SimulationConfig:
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


def _is_number(value, low: float, high: float) -> bool:
    return isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and low <= value <= high


def _is_frames(value, instrument: Instrument) -> bool:
    return _is_int(value) and 2 <= value <= instrument.frames and value % 2 == 0


def _require(name: str, value, ok: bool, expected: str) -> None:
    if not ok:
        raise InputError(CONFIG_SOURCE, f"{name}: {expected}", f"{name} = {value!r}")


def _rng(
    cfg: SimulationConfig, purpose: str, planet_id: int = 0, visit: int = 0, instrument: str | None = None
) -> np.random.Generator:
    """An independent stream per (seed, purpose, planet, visit, instrument): order-free determinism."""
    code = 0 if instrument is None else _INSTRUMENT_CODE[instrument]
    entropy = [cfg.seed, _SEED_PURPOSE[purpose], int(planet_id), visit, code]
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence(entropy)))
