"""Validate the workflow configuration against ``config/schema.yaml`` with messages that name the key."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import jsonschema
import yaml

from .errors import InputError

SCHEMA = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"


def load_schema(path: str | Path = SCHEMA) -> dict:
    return yaml.safe_load(Path(path).read_text())


def problems(config: Mapping, schema: Mapping | None = None) -> list[str]:
    """Every violation as ``config key 'a.b': <reason>``, sorted by key."""
    schema = load_schema() if schema is None else schema
    validator = jsonschema.Draft202012Validator(schema)
    found = [
        f"config key '{'.'.join(map(str, error.absolute_path)) or '<top level>'}': {error.message}"
        for error in validator.iter_errors(config)
    ]
    columns = config.get("airs_columns")
    if isinstance(columns, list) and len(columns) == 2 and all(isinstance(c, int) for c in columns):
        if columns[0] >= columns[1]:
            found.append(f"config key 'airs_columns': start {columns[0]} must be below stop {columns[1]}")
    return sorted(found)


def normalize(config: dict) -> None:
    """Undo what the command line does to values: ``--config planets=[785834]`` gives strings."""
    planets = config.get("planets")
    if isinstance(planets, list):
        config["planets"] = [int(p) if isinstance(p, str) and p.strip().isdigit() else p for p in planets]


def validate(config: Mapping, source: str = "config", schema: Mapping | None = None) -> None:
    """Raise :class:`InputError` listing every problem at once."""
    found = problems(config, schema)
    if found:
        raise InputError(source, "a configuration valid against config/schema.yaml", "; ".join(found))


def simulation(config: Mapping):
    """The :class:`~arielcal.simulate.SimulationConfig` of the demo dataset (``out_dir`` is the workflow's)."""
    from .simulate import SimulationConfig

    settings = {key: value for key, value in config.get("simulation", {}).items() if key != "out_dir"}
    return SimulationConfig.from_mapping(settings)
