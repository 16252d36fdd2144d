"""What to simulate: :class:`SimulationConfig`, its checks, and the seeded random streams."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from .. import layout
from ..errors import InputError
from ..instruments import AIRS, FGS1, Instrument

CONFIG_SOURCE = "simulation config"

_SEED_PURPOSE = {"ids": 1, "planet": 2, "calibration": 3, "noise": 4, "pointing": 5, "jitter": 6, "drift": 7}
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
        for name in ("noise", "nonlinearity", "jitter", "drift", "limb_darkening"):
            _require(name, getattr(self, name), isinstance(getattr(self, name), bool), "true or false")
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
