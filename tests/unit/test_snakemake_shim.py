"""The Snakemake internals arielcal.snakemake_shim relies on are still there and still work."""

from snakemake.common import get_input_function_aux_params
from snakemake.rules import Rule

from arielcal import snakemake_shim


def test_fixed_signature_is_what_snakemake_reads():
    def inputs(wildcards, attempt):
        return []

    snakemake_shim.fixed_signature(inputs)
    assert snakemake_shim.overwrite_function_params is not None, "snakemake.common.overwrite_function_params is gone"
    assert set(get_input_function_aux_params(inputs, {"wildcards": 1, "attempt": 2, "threads": 3})) == {
        "wildcards",
        "attempt",
    }


def test_drop_benchmark_clears_what_rule_benchmark_returns():
    assert isinstance(Rule.__dict__.get("benchmark"), property), "Rule.benchmark is no longer a property"

    class Probe:
        benchmark = Rule.__dict__["benchmark"]
        _benchmark = "benchmarks/x.tsv"

    probe = Probe()
    snakemake_shim.drop_benchmark(probe)
    assert probe.benchmark is None


def test_threads_in_cluster_jobs_makes_the_local_executor_run_jobs_in_threads(monkeypatch):
    import concurrent.futures
    import inspect
    from types import SimpleNamespace

    import snakemake.api  # noqa: F401  (first: snakemake.workflow alone is a circular import)
    from snakemake.executors import local
    from snakemake.workflow import Workflow

    assert isinstance(Workflow.__dict__.get("remote_exec"), property), "Workflow.remote_exec is gone"
    # The attribute the shim sets is the one that decides between a thread and a new Snakemake.
    assert "self.use_threads" in inspect.getsource(local.Executor.run_single_job)
    # Restored after the test: the shim patches the class.
    monkeypatch.setattr(local.Executor, "__post_init__", local.Executor.__post_init__)
    monkeypatch.setattr(local.Executor, "_arielcal_threads", False, raising=False)

    def executor():
        probe = object.__new__(local.Executor)
        probe.workflow = SimpleNamespace(
            execution_settings=SimpleNamespace(use_threads=False, keep_incomplete=False),
            resource_settings=SimpleNamespace(cores=1),
        )
        local.Executor.__post_init__(probe)
        assert isinstance(probe.pool, concurrent.futures.ThreadPoolExecutor)
        probe.pool.shutdown()
        return probe

    snakemake_shim.threads_in_cluster_jobs(SimpleNamespace(remote_exec=False))
    assert executor().use_threads is False
    snakemake_shim.threads_in_cluster_jobs(SimpleNamespace(remote_exec=True))
    snakemake_shim.threads_in_cluster_jobs(SimpleNamespace(remote_exec=True))  # once only
    assert executor().use_threads is True


def test_cancel_rescheduling_timers_stops_the_schedulers_pending_timer():
    import threading
    from types import SimpleNamespace

    import snakemake.api  # noqa: F401  (first: the scheduler alone is a circular import)
    from snakemake.scheduling.job_scheduler import JobScheduler

    scheduler = SimpleNamespace(_open_jobs=threading.Semaphore(0))
    JobScheduler._schedule_reevalutation(scheduler, 60)
    (timer,) = [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
    assert not timer.daemon, "Snakemake's rescheduling timer is a daemon now: the shim can go"
    other = threading.Timer(60, lambda: None)
    other.start()
    try:
        assert snakemake_shim.cancel_rescheduling_timers() == 1
        timer.join(timeout=5)
        assert not timer.is_alive()
        assert other.is_alive()  # only the scheduler's timers
        assert not scheduler._open_jobs.acquire(blocking=False)  # cancelled, not fired
    finally:
        other.cancel()


def test_force_rerun_adds_the_files_to_forcerun_when_the_dag_is_made():
    import inspect
    from types import SimpleNamespace

    import snakemake.api  # noqa: F401  (first: snakemake.workflow alone is a circular import)
    from snakemake.settings.types import DAGSettings
    from snakemake.workflow import Workflow

    built = []
    workflow = SimpleNamespace(dag_settings=None)
    workflow._prepare_dag = lambda **kwargs: built.append((set(workflow.dag_settings.forcerun), kwargs))
    snakemake_shim.force_rerun(workflow, ["results/train/1/0/FGS1/calibrated.npy"])
    workflow.dag_settings = DAGSettings(forcerun=frozenset({"product"}))  # as DAGApi does, after parsing
    workflow._prepare_dag(forceall=False)
    assert built == [({"product", "results/train/1/0/FGS1/calibrated.npy"}, {"forceall": False})]
    # What the shim relies on: Snakemake makes the DAG in Workflow._prepare_dag, called through
    # the instance (so the wrapper runs), from dag_settings.forcerun.
    assert "self._prepare_dag(" in inspect.getsource(Workflow.execute)
    assert "set(files(self.dag_settings.forcerun))" in inspect.getsource(Workflow._prepare_dag)
