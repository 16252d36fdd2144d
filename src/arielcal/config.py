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


# "integer" means a Python int: JSON Schema also counts 39.0 as an integer, which then
# crashes the first stage that slices with it.
_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
)
Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=_TYPES)


def problems(config: Mapping, schema: Mapping | None = None) -> list[str]:
    """Every violation as ``config key 'a.b': <reason>``, sorted by key."""
    schema = load_schema() if schema is None else schema
    validator = Validator(schema)
    found = [
        f"config key '{'.'.join(map(str, error.absolute_path)) or '<top level>'}': {error.message}"
        for error in validator.iter_errors(config)
    ]
    columns = config.get("airs_columns")
    is_pair = isinstance(columns, list) and len(columns) == 2 and all(isinstance(c, int) for c in columns)
    if is_pair and columns[0] >= columns[1]:
        found.append(f"config key 'airs_columns': start {columns[0]} must be below stop {columns[1]}")
    return sorted(found)


def normalize(config: dict, schema: Mapping | None = None) -> None:
    """Undo what the command line does to values: Snakemake hands ``--config key=value`` over as
    strings (``"true"``, ``["39", "300"]``). A string where the schema wants another type is read
    as YAML, so the command line takes the same values as config.yaml; anything else is left to
    the schema's validation."""
    schema = load_schema() if schema is None else schema
    planets = config.get("planets")
    if isinstance(planets, list):
        # Decimal ids as written, before YAML (which reads 0123 as octal and 0785834 as text).
        config["planets"] = [int(p) if isinstance(p, str) and p.strip().isdigit() else p for p in planets]
    for key in list(config):
        config[key] = _from_command_line(config[key], schema.get("properties", {}).get(key, {}))


def _accepts_string(schema: Mapping) -> bool:
    types = schema.get("type")
    types = [types] if isinstance(types, str) else types
    if types is not None:
        return "string" in types
    if "enum" in schema:
        return any(isinstance(value, str) for value in schema["enum"])
    return True  # no type stated: leave the value alone


def _from_command_line(value, schema: Mapping):
    if isinstance(value, str) and not _accepts_string(schema):
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        value = value if isinstance(parsed, str) else parsed
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {
            k: _from_command_line(v, properties.get(k, extra if isinstance(extra, Mapping) else {}))
            for k, v in value.items()
        }
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_from_command_line(item, schema["items"]) for item in value]
    return value


def unknown_planets(requested, found: set[int], splits, where) -> None:
    """Stop the run when requested planet ids are in none of the requested splits."""
    if requested is None:
        return
    unknown = sorted(set(requested) - set(found))
    if unknown:
        raise InputError(
            where,
            f"every requested planet in the splits {list(splits)}",
            f"no planet folder for {', '.join(map(str, unknown))}",
        )


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
