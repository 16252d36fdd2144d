"""The thin step wrapper shared by every ``scripts/<rule>.py``: log file, failure record, outputs.

A stage script reads its inputs, calls pure functions of :mod:`arielcal.calib`, and hands the
result to :meth:`Step.write_cube` / :meth:`Step.write_dq`. This module owns the cross-cutting
parts: the job's log file (per thread: jobs may share a process), the failure record
(:mod:`arielcal.failures`), the NaN <-> DQ sync, and the JSON sidecar that records each stage's
parameters, inputs, outputs and versions (:mod:`arielcal.provenance`).
"""

from __future__ import annotations

import contextlib
import logging
import platform
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from . import calib, failures, formats, observation, product, provenance
from . import dq as dqflags
from .errors import InputError
from .instruments import INSTRUMENTS, Instrument

log = logging.getLogger("arielcal")


class Step:
    """One stage run for one observation, built from the Snakemake ``snakemake`` object."""

    def __init__(self, smk, stage: str):
        self.smk = smk
        self.stage = stage
        self.instrument: Instrument | None = INSTRUMENTS.get(getattr(smk.wildcards, "instrument", None))
        self.params = dict(smk.params.items())
        self.columns = self.params.get("columns")
        self.extra: dict = {}
        self._started = time.perf_counter()
        # The output cube's memory map (cube_out), published by write_cube, deleted on failure.
        self._outputs = contextlib.ExitStack()
        self._cube_out: np.ndarray | None = None
        self._published = False

    def calibration(self, kind: str) -> np.ndarray:
        """A calibration map from the rule input named ``kind``, cut to the stage's columns."""
        return observation.read_map(self.smk.input[kind], self.instrument, kind, self.columns)

    def read_raw(self) -> tuple[np.ndarray, float, float]:
        """The raw signal cut to the stage's columns, and the planet's ADC (gain, offset)."""
        smk = self.smk
        raw, gain, offset = observation.read_raw(
            smk.input.signal, smk.input.adc_info, int(smk.wildcards.planet), self.instrument, self.columns
        )
        self.extra.update(gain=gain, offset=offset, raw_frames=raw.shape[-1])
        return raw, gain, offset

    def input_dq(self) -> np.ndarray:
        return np.array(formats.load_npy(self.smk.input.dq, mmap=False), dtype=dqflags.DQ_DTYPE)

    def cube_out(self, shape: tuple[int, ...]) -> np.ndarray:
        """The output cube as a writable memory map of a temporary file beside it, for the stage
        function's ``out=``; :meth:`write_cube` of that same array renames it into place.

        A stage cube written this way costs the page cache's pages only, where an array in
        memory and then ``np.save`` cost as much memory again and a copy: on a machine where
        fresh memory is dear (a VM that returns freed memory to its host) the stage is 2-3x
        faster (bench/staged_io.py)."""
        if self._cube_out is not None:
            raise RuntimeError(f"{self.stage}: cube_out called twice")
        self._cube_out = self._outputs.enter_context(
            formats.npy_writer(self.smk.output.cube, tuple(shape), calib.STORE_DTYPE)
        )
        return self._cube_out

    def write_cube(self, cube: np.ndarray, dq: np.ndarray) -> None:
        """Write the cube with excluded pixels set to NaN (the NaN <-> DQ sync), then its DQ map."""
        calib.exclude_flagged(cube, dq)
        if self._cube_out is None:
            formats.save_npy(self.smk.output.cube, cube)
        elif cube is self._cube_out:
            self._outputs.close()
            self._published = True
        else:
            raise RuntimeError(f"{self.stage}: write_cube of an array that is not the cube_out() map")
        self.extra["cube_shape"] = list(cube.shape)
        self.write_dq(dq)

    def write_dq(self, dq: np.ndarray) -> None:
        formats.save_npy(self.smk.output.dq, dq.astype(dqflags.DQ_DTYPE))
        self.extra["dq_counts"] = dqflags.counts(dq)

    def write_meta(self) -> None:
        payload = {
            "stage": self.stage,
            "observation": dict(self.smk.wildcards.items()),
            "params": provenance.jsonable(self.params),
            "inputs": [provenance.file_record(path) for path in self.smk.input],
            "versions": provenance.versions(),
            "host": platform.node(),
            "seconds": round(time.perf_counter() - self._started, 3),
            **provenance.jsonable(self.extra),
        }
        formats.save_json(self.smk.output.meta, payload)


class Rejected(Exception):
    """An observation rejected before the run; the message is the reason, verbatim."""


@contextlib.contextmanager
def step(smk, stage: str) -> Iterator[Step]:
    """Run a stage: log to the rule's log file, report bad input as one clear line, write metadata.

    A failure leaves ``<log>.failed`` (stage, observation, reason) for the run's failure summary;
    a later success removes it.
    """
    failure = Path(str(smk.log[0]) + failures.SUFFIX)
    Path(smk.log[0]).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(smk.log[0], mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    # Jobs may run as threads of one process (arielcal.jobs): each log takes its own thread's records.
    handler.addFilter(_ThreadFilter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    current = Step(smk, stage)
    try:
        log.info("%s %s", stage, dict(smk.wildcards.items()))
        try:
            with current._outputs:  # a cube_out() map not yet written is removed on failure
                yield current
                if current._cube_out is not None and not current._published:
                    raise RuntimeError(f"{stage}: cube_out() was never handed to write_cube")
            if "meta" in current.smk.output.keys():  # noqa: SIM118 (a Namedlist: `in` tests values)
                current.write_meta()
        except (InputError, Rejected, formats.FileError) as exc:
            log.error("%s failed: %s", stage, exc)
            _record(failure, stage, smk.wildcards, str(exc))
            raise SystemExit(f"arielcal {stage}: {exc}") from None
        except Exception as exc:
            reason = failures.describe(exc)
            log.exception("%s failed: %s", stage, reason)
            _record(failure, stage, smk.wildcards, reason)
            raise
        failure.unlink(missing_ok=True)
        log.info("%s done in %.2f s", stage, time.perf_counter() - current._started)
    finally:
        log.removeHandler(handler)
        handler.close()


def _record(failure: Path, stage: str, wildcards, reason: str) -> None:
    """Leave the failure record; a record that cannot be written (a full disk) is logged, and
    never hides the job's own error."""
    try:
        failures.record(failure, stage, wildcards, reason)
    except OSError as exc:
        log.error("could not record the failure: %s", exc)


class _ThreadFilter(logging.Filter):
    """Pass the records of the thread that created the filter."""

    def __init__(self):
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.thread


def write_product(
    current: Step,
    cube: np.ndarray,
    dq: np.ndarray,
    n_valid: np.ndarray | None,
    axis: Mapping[str, np.ndarray],
    frames_per_bin: int,
    stages: list[dict],
) -> None:
    """Write an observation's products (:mod:`arielcal.product`) from a pixel-major cube;
    meta.json gains the product's axes and keys and the metadata of every stage, in order."""
    smk = current.smk
    made = product.assemble(
        cube, dq, n_valid, axis, current.instrument, current.columns, frames_per_bin, smk.input.axis_info
    )
    product.save_arrays(made, smk.output)
    current.extra.update(made.meta, stages=list(stages))
