"""Competition dataset layout of both editions: where each file lives, and which observations exist.

ADC 2024: ``{split}/{planet}/{instrument}_signal.parquet`` and ``{instrument}_calibration/``,
per-planet ADC constants in ``{split}_adc_info.csv``. ADC 2025: one suffix per visit,
``_signal_{k}.parquet`` and ``_calibration_{k}/``, one global ``adc_info.csv``. The 2024 layout
is visit 0.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .instruments import INSTRUMENTS

EDITIONS = (2024, 2025)
SPLITS = ("train", "test")

PLANET_DIR = re.compile(r"^\d+$")
SIGNAL_FILE = re.compile(r"^(AIRS-CH0|FGS1)_signal(?:_(\d+))?\.parquet$")
CALIBRATION_DIR = re.compile(r"^(AIRS-CH0|FGS1)_calibration(?:_(\d+))?$")
# The calibration maps of every observation (formats.py reads them).
CALIBRATION_MAPS = ("dark", "dead", "flat", "read", "linear_corr")
AXIS_INFO = "axis_info.parquet"


@dataclass(frozen=True, order=True)
class Observation:
    """One visit of one planet seen by one instrument: the unit of calibration."""

    split: str
    planet_id: int
    visit: int
    instrument: str

    @property
    def wildcards(self) -> dict[str, str]:
        return {
            "split": self.split,
            "planet": str(self.planet_id),
            "visit": str(self.visit),
            "instrument": self.instrument,
        }


def _suffix(edition: int, visit: int) -> str:
    return "" if edition == 2024 else f"_{visit}"


def planet_dir(data_dir: str | os.PathLike, split: str, planet_id: int) -> Path:
    return Path(data_dir) / split / str(planet_id)


def signal_file(data_dir, edition: int, split: str, planet_id: int, visit: int, instrument: str) -> Path:
    return planet_dir(data_dir, split, planet_id) / f"{instrument}_signal{_suffix(edition, visit)}.parquet"


def calibration_dir(data_dir, edition: int, split: str, planet_id: int, visit: int, instrument: str) -> Path:
    return planet_dir(data_dir, split, planet_id) / f"{instrument}_calibration{_suffix(edition, visit)}"


def calibration_file(data_dir, edition, split, planet_id, visit, instrument, kind: str) -> Path:
    return calibration_dir(data_dir, edition, split, planet_id, visit, instrument) / f"{kind}.parquet"


def adc_info_file(data_dir, edition: int, split: str) -> Path:
    return Path(data_dir) / (f"{split}_adc_info.csv" if edition == 2024 else "adc_info.csv")


def axis_info_file(data_dir) -> Path:
    return Path(data_dir) / AXIS_INFO


def labels_file(data_dir, edition: int) -> Path:
    return Path(data_dir) / ("train_labels.csv" if edition == 2024 else "train.csv")


def detect_edition(data_dir: str | os.PathLike) -> int:
    """2025 when the global ``adc_info.csv`` exists, 2024 when a ``{split}_adc_info.csv`` does."""
    root = Path(data_dir)
    if not root.is_dir():
        raise InputError(root, "a competition data directory", "no such directory")
    has_2025 = (root / "adc_info.csv").is_file()
    has_2024 = any((root / f"{split}_adc_info.csv").is_file() for split in SPLITS)
    if has_2025 and has_2024:
        raise InputError(root, "one edition's ADC files", "both adc_info.csv (2025) and {split}_adc_info.csv (2024)")
    if has_2025:
        return 2025
    if has_2024:
        return 2024
    raise InputError(root, "train_adc_info.csv / test_adc_info.csv (2024) or adc_info.csv (2025)", "neither")


def discover(
    data_dir: str | os.PathLike,
    splits: list[str],
    planets: list[int] | None = None,
    instruments: list[str] | None = None,
) -> tuple[int, list[Observation]]:
    """The edition and the sorted observations of the dataset.

    A visit exists when any signal file or calibration folder of either instrument names it,
    and every requested instrument gets an observation for it: a missing file then surfaces
    as an observation with :func:`missing_inputs`, instead of silently vanishing. An empty
    planet folder counts as visit 0.
    """
    edition = detect_edition(data_dir)
    instruments = list(INSTRUMENTS) if instruments is None else instruments
    wanted = None if planets is None else {int(p) for p in planets}
    found: list[Observation] = []
    for split in splits:
        split_dir = Path(data_dir) / split
        if not split_dir.is_dir():
            raise InputError(split_dir, f"a '{split}' directory of planet folders", "no such directory")
        planet_dirs = [e for e in os.scandir(split_dir) if e.is_dir() and PLANET_DIR.match(e.name)]
        if not planet_dirs:
            raise InputError(split_dir, "planet folders named by their integer id", "none")
        for entry in planet_dirs:
            planet_id = int(entry.name)
            if wanted is None or planet_id in wanted:
                for visit in _visits(Path(entry.path), edition) or [0]:
                    found.extend(Observation(split, planet_id, visit, i) for i in instruments)
    if not found:
        raise InputError(data_dir, f"planets {sorted(wanted)} under {splits}", "none of them")
    return edition, sorted(found)


def _visits(path: Path, edition: int) -> list[int]:
    visits = set()
    for name in os.listdir(path):
        match = SIGNAL_FILE.match(name) or CALIBRATION_DIR.match(name)
        if not match:
            continue
        if (match.group(2) is not None) != (edition == 2025):
            expected = "a _{k} visit suffix (2025)" if edition == 2025 else "no visit suffix (2024)"
            raise InputError(path / name, f"a file named with {expected}", "the other edition's naming")
        visits.add(int(match.group(2) or 0))
    return sorted(visits)


def missing_inputs(data_dir, edition: int, obs: Observation) -> list[Path]:
    """The raw files of an observation that do not exist."""
    args = (data_dir, edition, obs.split, obs.planet_id, obs.visit, obs.instrument)
    wanted = [signal_file(*args)] + [calibration_file(*args, kind) for kind in CALIBRATION_MAPS]
    return [path for path in wanted if not path.is_file()]
