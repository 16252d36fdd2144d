"""The places where the workflow reaches into Snakemake below its documented API, kept here
so that a Snakemake release that changes them fails one test (tests/unit/test_snakemake_shim.py)
instead of silently slowing or breaking runs. They are why pyproject pins snakemake < 10.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

try:
    from snakemake.common import overwrite_function_params
except ImportError:  # a Snakemake without the hook: signatures are inspected at every call
    overwrite_function_params = None


def fixed_signature(func: Callable) -> Callable:
    """Mark an input, params or unpack function of a rule: Snakemake inspects the signature of
    such a function twice at every call, i.e. in every job (about 2 s of the 1100-planet dry run);
    this hands it the signature once, through the hook its own wrappers (snakemake.ioutils) use."""
    if overwrite_function_params is not None:
        overwrite_function_params(func, inspect.signature(func).parameters)
    return func


def drop_benchmark(rule) -> None:
    """Remove a rule's benchmark after it was defined. Snakemake refuses cache-eligible rules
    with a benchmark and has no syntax for an optional one; Rule.benchmark's property setter
    cannot unset it, so its private attribute is cleared (before the cache check runs)."""
    rule._benchmark = None


def threads_in_cluster_jobs(workflow) -> None:
    """Inside a cluster job, run the rules' ``run:`` blocks in threads of the job's Snakemake, as
    ``--force-use-threads`` (profiles/default) does locally. The executor plugins pass that flag
    to single-rule jobs only (snakemake-interface-executor-plugins' RealExecutor.get_job_args),
    and a job's Snakemake runs in ``--mode remote``, where no profile is read: in a group job
    (an observation's stage chain) the local executor would start a new ``python -m snakemake``
    for every rule, 6-8 s each (docs/slurm.md). Sets the local executor's ``use_threads``, read
    by its run_single_job; a no-op outside cluster jobs."""
    if not workflow.remote_exec:
        return
    from snakemake.executors import local

    if getattr(local.Executor, "_arielcal_threads", False):
        return
    post_init = local.Executor.__post_init__

    def __post_init__(self):
        post_init(self)
        self.use_threads = True

    local.Executor.__post_init__ = __post_init__
    local.Executor._arielcal_threads = True


def cancel_rescheduling_timers() -> int:
    """Let a finished run exit at once. The scheduler's job rate limiter (``--max-jobs-per-timespan``,
    default 100/1s) arms a non-daemon ``threading.Timer`` of one timespan after each scheduling pass
    (JobScheduler._schedule_reevalutation), and the interpreter waits for the last ones before it
    exits: ~1 s added to every run (bench/results/latest.md). For onsuccess/onerror, when no
    scheduling pass is left to wake. Returns how many timers were cancelled."""
    import threading

    cancelled = 0
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer) and "_schedule_reevalutation" in getattr(
            thread.function, "__qualname__", ""
        ):
            thread.cancel()
            cancelled += 1
    return cancelled


def force_rerun(workflow, files) -> None:
    """Rerun the jobs that write ``files``, and what depends on them, as ``--forcerun FILE ...``
    would (a dry run lists them; like --forcerun, the files become targets). A Snakefile cannot
    set that option: Snakemake hands the workflow its DAG settings after parsing the Snakefile
    (snakemake.api.DAGApi), so the files are added when the DAG is made (Workflow._prepare_dag)."""
    files = frozenset(map(str, files))
    if not files:
        return
    prepare_dag = workflow._prepare_dag

    def _prepare_dag(*args, **kwargs):
        settings = workflow.dag_settings
        settings.forcerun = frozenset(settings.forcerun) | files
        return prepare_dag(*args, **kwargs)

    workflow._prepare_dag = _prepare_dag
