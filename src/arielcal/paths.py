"""Where the workflow writes: the one definition of every result path (patterns use Snakemake wildcards)."""

from __future__ import annotations

OBSERVATION = "{split}/{planet}/{visit}/{instrument}"


def stage_cube(results: str, stage: str) -> str:
    return f"{results}/{OBSERVATION}/stages/{stage}.npy"


def stage_dq(results: str, stage: str) -> str:
    return f"{results}/{OBSERVATION}/stages/{stage}.dq.npy"


def stage_meta(results: str, stage: str) -> str:
    return f"{results}/{OBSERVATION}/stages/{stage}.json"


def product(results: str, name: str) -> str:
    """Per-observation products: calibrated.npy, dq.npy, nvalid.npy, meta.json."""
    return f"{results}/{OBSERVATION}/{name}"


def stacked(results: str) -> str:
    return f"{results}/{{split}}/{{instrument}}.npy"


def observations_table(results: str) -> str:
    return f"{results}/{{split}}/observations.csv"


def log(name: str) -> str:
    return f"logs/{name}/{OBSERVATION}.log"


def benchmark(name: str) -> str:
    return f"benchmarks/{name}/{OBSERVATION}.tsv"
