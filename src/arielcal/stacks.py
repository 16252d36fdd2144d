"""The per-split stacks: which rows are real, and the stacks, written complete or not at all.

A row is real when the observation's product exists, is intact (its .npy header agrees with its
size) and no failure of the observation is newer than it (a stage that failed since leaves the
product of an earlier run behind, which no longer matches its inputs). Every other row is NaN;
``observations.csv`` says which rows are real, ``failed_observations.csv`` why the others are not
(:mod:`arielcal.failures`). A stack with no real row at all (every observation of the split and
instrument failed) is still written, all NaN, with the shape the products would have
(:func:`product_shape`): the split's stacks always exist and keep their shapes.
:func:`plan` is the pure decision, the rest reads and writes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import failures, formats, paths
from .errors import InputError
from .instruments import INSTRUMENTS

CALIBRATED = "calibrated"
FAILED = "failed"
PENDING = "pending"
"""Neither a product nor a failure yet: the run stopped before the observation."""


@dataclass(frozen=True)
class Row:
    planet: int
    visit: int
    status: str
    """CALIBRATED (``product`` is stacked), FAILED (a NaN row, ``reason`` says why) or PENDING."""
    product: str | None = None
    reason: str = ""
    damaged: str | None = None
    """The product, when it exists but is damaged."""
    failed_at: float = 0.0
    """When the row became a failure (the failure record's or the damaged product's mtime)."""

    @property
    def real(self) -> bool:
        return self.status == CALIBRATED


@dataclass(frozen=True)
class ProductState:
    mtime: float
    damage: str | None = None
    shape: tuple[int, ...] | None = None


def plan(
    slots: Sequence[Sequence],
    state_of: Callable[[str], ProductState | None],
    failure_of: Callable[[int, int], tuple[str, float] | None],
) -> list[Row]:
    """The rows of one stack, from its slots ``[planet, visit, product path or ""]`` ("" for an
    observation rejected before the run).

    ``state_of(path)`` is None for a missing product; ``failure_of(planet, visit)`` is the newest
    failure record of the observation as (reason, mtime), or None. The first real product's
    shape is the stack's: a product of another shape is a failed row.
    """
    rows, shape = [], None
    for planet, visit, path in slots:
        planet, visit = int(planet), int(visit)
        failure = failure_of(planet, visit)
        state = state_of(path) if path else None
        if state is None:
            if failure:
                rows.append(Row(planet, visit, FAILED, reason=failure[0], failed_at=failure[1]))
            else:
                rows.append(Row(planet, visit, PENDING))
        elif state.damage is not None:
            reason = f"{path}: expected a complete .npy array, found {state.damage}"
            rows.append(Row(planet, visit, FAILED, reason=reason, damaged=path, failed_at=state.mtime))
        elif failure is not None and failure[1] >= state.mtime:
            rows.append(Row(planet, visit, FAILED, reason=failure[0], failed_at=failure[1]))
        elif shape is not None and state.shape != shape:
            reason = f"{path}: expected the shape {shape} of the split's other products, found {state.shape}"
            rows.append(Row(planet, visit, FAILED, reason=reason))
        else:
            shape = shape or state.shape
            rows.append(Row(planet, visit, CALIBRATED, product=path))
    return rows


def product_shape(rows: int, columns: Sequence[int], raw_frames: int, frames_per_bin: int) -> tuple[int, int, int]:
    """The (time, column, row) shape of an observation's product: the raw frames' CDS pairs in bins
    of ``frames_per_bin`` (trailing frames dropped, as :func:`arielcal.calib.bin_frames`), the kept
    detector ``columns`` [start, stop) and every detector row."""
    start, stop = columns
    return ((raw_frames // 2) // frames_per_bin, stop - start, rows)


def table(observations: Sequence[tuple[int, int]], rows_by_instrument: Mapping[str, Sequence[Row]]) -> dict[str, list]:
    """The columns of observations.csv: planet_id, visit, and per stacked instrument whether its
    row is real (``calibrated``) or NaN (``failed``)."""
    columns: dict[str, list] = {"planet_id": [p for p, _ in observations], "visit": [v for _, v in observations]}
    for instrument, rows in rows_by_instrument.items():
        real = {(row.planet, row.visit) for row in rows if row.real}
        columns[instrument] = [CALIBRATED if (int(p), int(v)) in real else FAILED for p, v in observations]
    return columns


# --------------------------------------------------------------------------- reading and writing


def product_state(path: str | os.PathLike) -> ProductState | None:
    """mtime, damage and shape of a product from its header alone; None when it is missing."""
    try:
        mtime = os.stat(path).st_mtime
    except FileNotFoundError:
        return None
    damage = formats.npy_damage(path)
    return ProductState(mtime, damage, None if damage else tuple(formats.load_npy(path).shape))


def rows_of(slots, split: str, instrument: str, records: Mapping[tuple, tuple[str, float]]) -> list[Row]:
    """:func:`plan` on the files: product headers and the failure records of the run's logs."""

    def failure_of(planet: int, visit: int):
        return records.get((split, str(planet), str(visit), instrument))

    return plan(slots, product_state, failure_of)


def nan_shape(axis_info: str | os.PathLike, instrument: str, columns: Sequence[int], frames_per_bin: int):
    """The product shape of ``instrument`` from ``axis_info.parquet`` (its time stamps are the raw
    frames of every observation, preflight.check_layouts): for a stack with no real row."""
    frames = formats.read_axis_info(axis_info)[formats.AXIS_TIME.format(instrument=instrument)].size
    return product_shape(INSTRUMENTS[instrument].rows, columns, frames, frames_per_bin)


def write(
    path: str | os.PathLike, rows: Sequence[Row], shape_of: Callable[[], tuple[int, ...]] | None = None
) -> tuple[int, ...] | None:
    """Write the stack (N, *product shape) with NaN where a row is not real; atomic, so the
    file is replaced only by a complete stack. The shape is the first real product's; with no
    real row, ``shape_of()``'s (every row NaN). Returns the stack's shape, or None (nothing
    written) when no row is real and ``shape_of`` is None."""
    real = [row for row in rows if row.real]
    if real:
        shape = (len(rows), *formats.load_npy(real[0].product).shape)
    elif shape_of is not None:
        shape = (len(rows), *shape_of())
    else:
        return None
    with formats.npy_writer(path, shape, np.float32) as stacked:
        for index, row in enumerate(rows):
            stacked[index] = formats.load_npy(row.product) if row.real else np.nan
    return shape


def record_damage(rows: Sequence[Row], split: str, instrument: str, log_root: str = "logs") -> list[str]:
    """Remove the damaged products (the next run recalibrates them: Snakemake reruns a job whose
    output is missing) and leave a failure record for each; returns their paths."""
    damaged = []
    for row in rows:
        if row.damaged is None:
            continue
        wildcards = {"split": split, "planet": str(row.planet), "visit": str(row.visit), "instrument": instrument}
        record = Path(log_root, paths.log("stack").format(**wildcards).split("/", 1)[1] + failures.SUFFIX)
        failures.record(record, "stack", wildcards, row.reason + "; removed, the next run recalibrates it")
        Path(row.damaged).unlink(missing_ok=True)
        damaged.append(row.damaged)
    return damaged


def build(
    path, slots, split: str, instrument: str, log_root: str = "logs", shape_of: Callable[[], tuple] | None = None
) -> list[Row]:
    """The stack job: every product intact, or the damaged ones removed (with a failure record)
    and an :class:`InputError` naming them, before anything is written. With no product at all
    (every observation rejected), the stack of ``shape_of()`` products, all NaN."""
    rows = rows_of(slots, split, instrument, failures.latest(log_root))
    damaged = record_damage(rows, split, instrument, log_root)
    if damaged:
        more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
        first = next(row for row in rows if row.damaged)
        raise InputError(
            first.damaged,
            "a complete .npy array",
            first.reason.split(", found ", 1)[1] + more + "; removed it, the next run recalibrates it",
        )
    if write(path, rows, shape_of) is None:
        raise InputError(path, f"at least one calibrated {instrument} observation in {split}", "none")
    return rows


def describe(rows: Sequence[Row]) -> str:
    """How many rows of a stack are real, in words."""
    failed = sum(not row.real for row in rows)
    if failed == len(rows):
        return f"no observation calibrated, {failed} NaN rows"
    return f"{len(rows) - failed} calibrated rows, {failed} NaN rows"


def read_table(path: str | os.PathLike) -> dict[str, list[str]] | None:
    """observations.csv as strings, or None if it does not exist."""
    import csv

    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            data = list(reader)
    except FileNotFoundError:
        return None
    return {name: [row[name] for row in data] for name in reader.fieldnames or []}


def salvage(
    stacks: Mapping[str, Mapping[str, Sequence]],
    observations: Mapping[str, Sequence[tuple[int, int]]],
    results: str = "results",
    log_root: str = "logs",
    log: Callable[[str], None] = print,
    shape_of: Callable[[str, str], tuple[int, ...]] | None = None,
) -> list[str]:
    """After a failed run: write every stack the run could not, from the products that succeeded.

    ``stacks[split][instrument]`` are the slots of each stack, ``observations[split]`` the rows
    of observations.csv. A stack is written only when every row is settled (calibrated or
    failed: not after a run stopped early, without --keep-going) and the stack on disk is
    missing, damaged, older than a product or marks other rows as real. Where no row is real,
    the stack is all NaN, of ``shape_of(split, instrument)`` products (without ``shape_of``:
    none, and a stale one is removed). Returns what it wrote.
    """
    records = failures.latest(log_root)
    written = []
    for split, by_instrument in stacks.items():
        table_path = paths.observations_table(results).format(split=split)
        on_disk = read_table(table_path) or {}
        all_rows = {}
        for instrument, slots in by_instrument.items():
            rows = rows_of(slots, split, instrument, records)
            if any(row.status == PENDING for row in rows):
                log(f"{split} {instrument}: stack not written, some observations did not run")
                all_rows = None
                break
            record_damage(rows, split, instrument, log_root)
            all_rows[instrument] = rows
            stack = paths.stacked(results).format(split=split, instrument=instrument)
            if _current(stack, rows, on_disk.get(instrument), observations[split]):
                continue
            shape = None if shape_of is None else (lambda s=split, i=instrument: shape_of(s, i))
            if write(stack, rows, shape) is None:
                log(f"{split} {instrument}: no observation calibrated, no stack")
                Path(stack).unlink(missing_ok=True)
                continue
            log(f"{stack}: {describe(rows)} (see failed_observations.csv)")
            written.append(stack)
        if all_rows:
            columns = table(observations[split], all_rows)
            if {k: list(map(str, v)) for k, v in columns.items()} != on_disk:
                formats.write_csv(table_path, columns)
                written.append(table_path)
    return written


def _current(stack: str, rows: Sequence[Row], recorded: list[str] | None, observations) -> bool:
    """The stack on disk is intact, as long as ``rows`` and newer than every real product and
    every failure (so it was written by this code after them, with NaN where they failed), and
    observations.csv, if there, marks the same rows as real."""
    state = product_state(stack)
    if state is None or state.damage is not None or state.shape[0] != len(rows):
        return False
    if recorded is not None:
        real = {(row.planet, row.visit) for row in rows if row.real}
        expected = [CALIBRATED if (int(p), int(v)) in real else FAILED for p, v in observations]
        if recorded != expected:
            return False
    newest = max(
        [os.stat(row.product).st_mtime for row in rows if row.real] + [row.failed_at for row in rows if not row.real],
        default=0.0,
    )
    return state.mtime >= newest
