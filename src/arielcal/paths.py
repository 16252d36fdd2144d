"""Where the workflow writes: the one definition of every result path (patterns use Snakemake wildcards)."""

from __future__ import annotations

OBSERVATION = "{split}/{planet}/{visit}/{instrument}"


# Each stage writes {stage}.npy (cube), {stage}.dq.npy, {stage}.json (metadata) and, for
# bin, {stage}.nvalid.npy: one prefix with several extensions, as Snakemake's multiext.
STAGE_EXTENSIONS = {"cube": ".npy", "dq": ".dq.npy", "meta": ".json"}
NVALID_EXTENSION = ".nvalid.npy"
PRODUCT_FILES = {"calibrated": "calibrated.npy", "dq": "dq.npy", "nvalid": "nvalid.npy", "meta": "meta.json"}


def stage_prefix(results: str, stage: str) -> str:
    return f"{results}/{OBSERVATION}/stages/{stage}"


def stage_cube(results: str, stage: str) -> str:
    return stage_prefix(results, stage) + STAGE_EXTENSIONS["cube"]


def stage_dq(results: str, stage: str) -> str:
    return stage_prefix(results, stage) + STAGE_EXTENSIONS["dq"]


def stage_meta(results: str, stage: str) -> str:
    return stage_prefix(results, stage) + STAGE_EXTENSIONS["meta"]


def stage_nvalid(results: str) -> str:
    return stage_prefix(results, "bin") + NVALID_EXTENSION


def product_prefix(results: str) -> str:
    return f"{results}/{OBSERVATION}/"


def product(results: str, name: str) -> str:
    """Per-observation products: calibrated.npy, dq.npy, nvalid.npy, meta.json."""
    return product_prefix(results) + name


def visit(results: str, name: str) -> str:
    """Per planet visit (every instrument of it): transit.json, depths.csv, qc/<figure>.png."""
    return f"{results}/{{split}}/{{planet}}/{{visit}}/{name}"


def stacked(results: str) -> str:
    return f"{results}/{{split}}/{{instrument}}.npy"


def observations_table(results: str) -> str:
    return f"{results}/{{split}}/observations.csv"


# What one job of a rule covers, as the tail of its log and benchmark paths.
VISIT = "{split}/{planet}/{visit}"
SPLIT = "{split}"
SPLIT_INSTRUMENT = "{split}/{instrument}"


def log(name: str, scope: str = OBSERVATION) -> str:
    """logs/<rule>/<scope>.log; ``scope`` is one of the patterns above (or a fixed name)."""
    return f"logs/{name}/{scope}.log"


def benchmark(name: str, scope: str = OBSERVATION) -> str:
    """benchmarks/<rule>/<scope>.tsv, beside the job's log."""
    return f"benchmarks/{name}/{scope}.tsv"
