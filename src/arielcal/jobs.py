"""Run a stage script inside the Snakemake process that schedules it, instead of a new interpreter.

A ``script:`` job starts Python, imports numpy, polars and Snakemake's script preamble before it
does any work: ~0.2-0.4 s per job, more than a tiny observation's whole calibration
(bench/job_cost.py). A rule whose ``run:`` block calls :func:`run_script` runs the same
``scripts/<stage>.py`` adapter in a thread of the scheduling process (with ``force-use-threads``,
set in profiles/default), where those imports are paid once per run. On a cluster each job is
still its own process: the run block then executes inside the job's Snakemake.
"""

from __future__ import annotations

import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Job:
    """What a script sees as ``snakemake``: the attributes our scripts read, from a rule's run block."""

    input: Any
    output: Any
    params: Any
    wildcards: Any
    threads: int
    resources: Any
    log: Any
    rule: str


class JobFailed(RuntimeError):
    """A script stopped with an error message (``SystemExit``), which must not end the scheduler's thread."""


def run_script(path: str | Path, job: Job) -> None:
    """Execute the adapter at ``path`` with ``snakemake`` bound to ``job``, as Snakemake's ``script:`` does."""
    try:
        runpy.run_path(str(path), init_globals={"snakemake": job}, run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise JobFailed(str(exc.code)) from None
