"""The tiny simulated workflow through SLURM (the slurm/ profile), on a cluster of several nodes.

Opt in: needs a SLURM cluster that answers ``sinfo`` (``.ci/slurm-up.sh`` brings one up on this
machine, two nodes in network namespaces) and ``ARIELCAL_SLURM=1``; otherwise the cluster tests
skip. Run them with ``ARIELCAL_SLURM=1 python -m pytest -m slurm``. The tests that crash a node
need the namespaces of ``.ci/slurm-up.sh`` (and root); on another cluster they skip.

Checked: a run spreads over both nodes and submits one job per observation for the whole stage
chain (not one per stage); a node crashed mid-run costs one retry; a job killed for exceeding its
memory is retried with twice the memory, one killed for exceeding its time with twice the time;
a job requeued mid-run (with requeueing allowed) reruns under its id, and with the profile's
--no-requeue SLURM refuses the requeue; every product is byte-identical to a local run. The
profile's resources are checked against the rules' without a cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO, SNAKEMAKE, Workflow, default_config, merged, tiny_simulation

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

PROFILE = REPO / "slurm"
SLURM_UP = REPO / ".ci" / "slurm-up.sh"
# Every product the workflow promises, relative to the working directory.
PRODUCTS = (
    "results/**/calibrated.npy",
    "results/**/dq.npy",
    "results/**/nvalid.npy",
    "results/*/observations.csv",
    "results/*/*.npy",
)
# The rules of one observation's stage chain (rules/calibrate.smk), one SLURM job per observation.
GROUPED = ("adc", "mask", "linearity", "dark", "cds", "outliers", "bin", "flat", "product")
# Rules that never become SLURM jobs: localrules, and `all` (no action).
LOCAL = ("observations_table", "reject_observation", "all")
# A small part of the workflow for the fault tests: the train split's products and stacks
# (2 observations: 2 group jobs, 2 stack jobs).
TRAIN_TARGETS = ("results/train/AIRS-CH0.npy", "results/train/FGS1.npy", "results/train/observations.csv")


def _slurm_answers(timeout: int = 10) -> str | None:
    """None if the cluster answers, else why not (SLURM clients block for minutes on a dead daemon)."""
    if shutil.which("sinfo") is None:
        return "sinfo not installed"
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"sinfo did not answer within {timeout} s"
    if done.returncode != 0 or not done.stdout.strip():
        return f"sinfo failed: {done.stderr.strip() or 'no nodes'}"
    return None


def _require_cluster() -> None:
    """Skip unless opted in; once opted in (as CI is), a missing cluster is a failure."""
    if os.environ.get("ARIELCAL_SLURM") != "1":
        pytest.skip("SLURM test is opt-in: set ARIELCAL_SLURM=1 (and run .ci/slurm-up.sh)")
    why = _slurm_answers()
    if why is not None:
        pytest.fail(f"ARIELCAL_SLURM=1 but no SLURM cluster: {why} (run .ci/slurm-up.sh)")


def _nodes() -> dict[str, str]:
    """Node name -> state, e.g. {'n1': 'idle', 'n2': 'down*'}."""
    done = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %T"], capture_output=True, text=True, timeout=30)
    return dict(line.split() for line in done.stdout.splitlines() if line.strip())


def _require_own_cluster() -> list[str]:
    """The nodes of .ci/slurm-up.sh's cluster (network namespaces arielcal-nI), which a test may crash."""
    _require_cluster()
    nodes = sorted(_nodes())
    if len(nodes) < 2:
        pytest.fail(f"the SLURM tests need at least 2 nodes, sinfo lists {nodes} (run .ci/slurm-up.sh)")
    if os.geteuid() != 0 or not all(Path(f"/run/netns/arielcal-{n}").exists() for n in nodes):
        pytest.skip(f"crashing a node needs root and .ci/slurm-up.sh's namespaces (nodes: {nodes})")
    return nodes


def _products(wf: Workflow, under: str = "") -> dict[str, bytes]:
    found = {p for pattern in PRODUCTS for p in wf.path().glob(pattern) if p.is_file()}
    named = {str(p.relative_to(wf.workdir)): p for p in sorted(found)}
    return {name: p.read_bytes() for name, p in named.items() if name.startswith(under)}


def _slurm_logs(wf: Workflow, chars: int = 3000) -> str:
    """Tails of the SLURM job logs the plugin kept (it keeps those of failed jobs)."""
    logs = sorted(wf.path("logs", "slurm").glob("**/*.log"))
    return "\n".join(f"---- {p}\n{p.read_text(errors='replace')[-chars:]}" for p in logs[-5:])


def _run_jobs(run_id: str) -> list[dict[str, str]]:
    """The SLURM jobs of one Snakemake run (job name = SLURM run ID): id, state, node, mem, comment.

    The plugin's comment is ``rule_<rule or group>_wildcards_<...>``. Finished jobs stay listed
    for MinJobAge (300 s in .ci/slurm-up.sh).
    """
    done = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--name", run_id, "--format=%i|%T|%N|%m|%k"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    keys = ("id", "state", "node", "mem", "comment")
    return [dict(zip(keys, line.split("|"), strict=True)) for line in done.stdout.splitlines() if line.strip()]


def _submitted(output: str) -> list[str]:
    return re.findall(r"has been submitted with SLURM jobid (\d+)", output)


def _run_id(output: str) -> str:
    found = re.search(r"SLURM run ID: (\S+)", output)
    assert found, output[-4000:]
    return found.group(1)


def _tiny(mode: str = "staged") -> dict:
    return merged(default_config(), {"mode": mode, "simulation": tiny_simulation()})


_LOCAL_RUNS: dict[str, Workflow] = {}


def _local_run(mode: str, tmp_path_factory) -> Workflow:
    """One local run per mode for the whole module: the reference bytes."""
    if mode not in _LOCAL_RUNS:
        wf = Workflow(tmp_path_factory.mktemp(f"local-{mode}"), _tiny(mode))
        wf.run()
        _LOCAL_RUNS[mode] = wf
    return _LOCAL_RUNS[mode]


def _with_dataset_of(local: Workflow, workdir: Path) -> Workflow:
    """A working directory with the local run's simulated dataset (same mtimes, so not simulated again)."""
    shutil.copytree(local.path("resources"), workdir / "resources")
    return Workflow(workdir, local.config)


def _start(wf: Workflow, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, Path]:
    """Snakemake in the background, its output to a file (so a test can act on the cluster meanwhile)."""
    out = wf.path("snakemake.out")
    cmd = [*SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(wf.workdir), *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with out.open("w") as handle:
        proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, text=True, env=env)
    return proc, out


def _finish(proc: subprocess.Popen, out: Path, timeout: int = 900) -> tuple[int, str]:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)  # SIGINT cancels the submitted jobs
        proc.wait(timeout=60)
        pytest.fail(f"snakemake did not finish within {timeout} s:\n{out.read_text()[-6000:]}")
    return proc.returncode, out.read_text()


@pytest.mark.parametrize("mode", ["staged", "fused"])
def test_tiny_workflow_through_slurm_matches_local_run(tmp_path, tmp_path_factory, mode):
    # Checked here, not at collection: a plain `pytest` never calls a SLURM client.
    _require_cluster()
    config = _tiny(mode)
    planned = Workflow(tmp_path / "plan", config).planned()

    start = time.monotonic()
    local = _local_run(mode, tmp_path_factory)
    local_s = time.monotonic() - start

    cluster = Workflow(tmp_path / "slurm", config)
    start = time.monotonic()
    # An absolute profile path: with --directory, a bare `--profile slurm` would be looked up
    # in the caller's working directory.
    # Job logs kept, and --verbose (passed on to the jobs' Snakemake), which logs every job that
    # Snakemake starts as a new process ("spawned job: ...") instead of running it in a thread.
    done = cluster.run("--profile", str(PROFILE), "--slurm-keep-successful-logs", "--verbose", check=False)
    slurm_s = time.monotonic() - start
    output = done.stdout + done.stderr
    assert done.returncode == 0, (
        f"snakemake --profile {PROFILE} failed ({done.returncode}):\n{output[-8000:]}\n{_slurm_logs(cluster)}"
    )

    # The jobs really went through SLURM, with the profile's partition, and all completed.
    submitted = _submitted(output)
    assert submitted, f"no job was submitted to SLURM:\n{output[-4000:]}"
    assert "slurm_partition=debug" in output, (
        "the profile's default-resources were dropped (a workflow profile that sets "
        "default-resources replaces the whole block)"
    )
    run_id = _run_id(output)
    # Jobs that finished more than MinJobAge ago have left squeue: check the ones still listed.
    jobs = _run_jobs(run_id)
    assert jobs and {j["id"] for j in jobs} <= set(submitted), (jobs, submitted)
    assert {j["state"] for j in jobs} == {"COMPLETED"}, jobs

    # (1) The run spread over every node of the cluster.
    nodes = sorted(_nodes())
    assert sorted({j["node"] for j in jobs}) == nodes, jobs

    # (4) One SLURM job per observation for its whole stage chain (staged mode: a `group`;
    # fused mode: one rule), not one per stage; every other job is one rule's.
    observations = planned["adc"] if mode == "staged" else planned["fused"]
    expected = sum(n for rule, n in planned.items() if rule not in GROUPED + LOCAL)
    if mode == "staged":
        expected += observations
        group_jobs = [j for j in jobs if j["comment"].startswith("rule_obs_")]
        assert len(group_jobs) == observations, jobs
    assert len(submitted) == expected, (planned, len(submitted))

    # Every rule ran in a thread of its job's Snakemake, in group jobs too (arielcal.snakemake_shim
    # .threads_in_cluster_jobs; the plugin passes --force-use-threads to single-rule jobs only).
    logs = sorted(cluster.path("logs", "slurm").glob("**/*.log"))
    assert len(logs) == len(submitted), logs
    group_logs = [log for log in logs if log.parent.name.startswith("group_obs_")]
    assert len(group_logs) == (observations if mode == "staged" else 0), logs
    for log in logs:
        text = log.read_text(errors="replace")
        assert "Finished jobid" in text, (log, text[-3000:])
        assert "spawned job:" not in text, (log, re.findall(r"spawned job: .{0,200}", text)[:3])

    print(
        f"\n{mode}: local {local_s:.1f} s, SLURM {slurm_s:.1f} s, {len(submitted)} SLURM jobs "
        f"for {observations} observations and {sum(planned.values())} planned jobs (run {run_id}), "
        f"nodes {sorted({j['node'] for j in jobs})}"
    )

    expected_bytes = _products(local)
    got = _products(cluster)
    assert any(name.endswith("calibrated.npy") for name in expected_bytes), sorted(expected_bytes)
    assert any(name.endswith("observations.csv") for name in expected_bytes), sorted(expected_bytes)
    assert sorted(got) == sorted(expected_bytes)
    differ = [name for name in expected_bytes if got[name] != expected_bytes[name]]
    assert not differ, f"products differ between the SLURM and the local run: {differ}"


def _crash(node: str) -> list[int]:
    """Kill every process of a node (its network namespace): slurmd, slurmstepd and the job's processes."""
    done = subprocess.run(
        ["ip", "netns", "pids", f"arielcal-{node}"], capture_output=True, text=True, timeout=10, check=True
    )
    pids = [int(pid) for pid in done.stdout.split()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


def _first_running_observation_job(proc: subprocess.Popen, timeout_s: float = 300) -> tuple[str, str] | None:
    """(job id, node) of the first observation job that has run for 1 s, polled every 0.5 s while
    the run goes on; None if none did within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        done = subprocess.run(
            ["squeue", "-h", "-t", "RUNNING", "-o", "%i|%N|%k|%M"], capture_output=True, text=True, timeout=30
        )
        for line in done.stdout.splitlines():
            jobid, node, comment, elapsed = line.split("|")
            if comment.startswith("rule_obs_") and _seconds(elapsed) >= 1:
                return jobid, node
        time.sleep(0.5)
    return None


def _assert_same_train_products(local: Workflow, cluster: Workflow, after: str) -> None:
    """The cluster run's products and stacks are the local run's, byte for byte."""
    expected = _products(local, under="results/train/")
    got = _products(cluster)
    assert any(name.endswith("AIRS-CH0.npy") for name in expected), sorted(expected)
    assert sorted(got) == sorted(expected)
    differ = [name for name in expected if got[name] != expected[name]]
    assert not differ, f"products differ {after}: {differ}"


def _seconds(elapsed: str) -> int:
    """squeue's %M ([days-][hours:]minutes:seconds) in seconds."""
    days, _, clock = elapsed.rpartition("-")
    seconds = 0
    for part in clock.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds + int(days or 0) * 86400


def _restore_cluster() -> None:
    """Restart what a test crashed (slurm-up.sh is idempotent: it starts only the missing slurmd)."""
    done = subprocess.run([str(SLURM_UP)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr


def test_node_crashed_mid_run_costs_one_retry(tmp_path, tmp_path_factory):
    nodes = _require_own_cluster()
    local = _local_run("staged", tmp_path_factory)
    cluster = _with_dataset_of(local, tmp_path / "slurm")

    proc, out = _start(cluster, "--profile", str(PROFILE), *TRAIN_TARGETS)
    crashed = None
    try:
        # Crash the node of the first observation job 1 s after it started (its Snakemake is
        # then starting; the whole job takes ~5-10 s).
        running = _first_running_observation_job(proc)
        assert running is not None, f"no observation job ran:\n{out.read_text()[-4000:]}"
        crashed = (*running, _crash(running[1]))
        returncode, output = _finish(proc, out)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
        _restore_cluster()
    jobid, node, pids = crashed
    assert returncode == 0, f"the run did not survive the crash of {node}:\n{output[-8000:]}"

    # Snakemake saw that one job fail and submitted it once more. (The plugin's "failed due to
    # a node failure" message is not printed for a group job; without accounting it warns that
    # sacct cannot name the node.)
    jobs = {j["id"]: j for j in _run_jobs(_run_id(output))}
    assert jobs[jobid]["state"] == "NODE_FAIL", jobs
    group = jobs[jobid]["comment"].removeprefix("rule_").split("_adc_")[0]
    assert output.count("Error in group ") == 1 and f"Error in group {group}\n" in output, output[-6000:]
    assert output.count("Trying to restart job ") == 1, output[-6000:]
    assert f"Could not retrieve node information for job {jobid}: Slurm accounting storage is disabled" in output
    submitted = _submitted(output)
    # 2 observation jobs and 2 stacks, plus the one retry.
    assert len(submitted) == 5, submitted
    retry = [j for j in jobs.values() if j["comment"] == jobs[jobid]["comment"] and j["id"] != jobid]
    assert len(retry) == 1 and retry[0]["state"] == "COMPLETED", jobs
    assert retry[0]["node"] != node, jobs
    # The crashed node is back (ReturnToService=2) for the next tests.
    assert set(_nodes()) == set(nodes)
    assert all(state in ("idle", "mixed", "allocated") for state in _nodes().values()), _nodes()

    _assert_same_train_products(local, cluster, "after the node crash")
    print(
        f"\ncrashed {node} ({len(pids)} processes) under job {jobid}; retried as {retry[0]['id']} on {retry[0]['node']}"
    )


def _profile_with_smaller_first_stack(tmp_path, resource: str, shipped: int, first: int):
    """The SLURM profile as shipped, except that `stack`'s ``resource`` starts at ``first``
    instead of ``shipped`` on the first attempt, with the profile's own doubling per attempt."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    growth = profile["set-resources"]["stack"][resource]
    assert growth == f"{shipped} * 2 ** (attempt - 1)", growth
    profile["set-resources"]["stack"][resource] = growth.replace(str(shipped), str(first), 1)
    directory = tmp_path / "profile"
    directory.mkdir()
    (directory / "config.yaml").write_text(yaml.safe_dump(profile))
    return directory


def test_job_killed_for_memory_is_retried_with_twice_the_memory(tmp_path, tmp_path_factory):
    _require_own_cluster()
    local = _local_run("staged", tmp_path_factory)
    cluster = _with_dataset_of(local, tmp_path / "slurm")

    # `stack` asks for 150 MB on its first attempt (its Snakemake alone needs more).
    small = _profile_with_smaller_first_stack(tmp_path, "mem_mb", shipped=1000, first=150)

    done = cluster.run("--profile", str(small), *TRAIN_TARGETS, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{output[-8000:]}\n{_slurm_logs(cluster)}"

    stacks = [j for j in _run_jobs(_run_id(output)) if j["comment"].startswith("rule_stack_")]
    by_split = {}
    for job in sorted(stacks, key=lambda j: int(j["id"])):
        by_split.setdefault(job["comment"], []).append(job)
    assert len(by_split) == 2, stacks
    for comment, attempts in by_split.items():
        # 150 MB, killed by SLURM; then 300 MB, 600 MB ... until one fits. Without cgroups,
        # SLURM's memory enforcement (JobAcctGatherParams=OverMemoryKill) ends the job as
        # FAILED; with cgroups it would be OUT_OF_MEMORY. Either way Snakemake retries it.
        assert [j["mem"] for j in attempts] == [f"{150 * 2**k}M" for k in range(len(attempts))], attempts
        assert [j["state"] for j in attempts] == ["FAILED"] * (len(attempts) - 1) + ["COMPLETED"], attempts
        assert len(attempts) >= 2, (comment, attempts)
        killed = attempts[0]["id"]
        assert f"SLURM-job '{killed}' failed, SLURM status is: 'FAILED'" in output, output[-6000:]
        # The plugin keeps the log of a failed job: it says why.
        (log,) = cluster.path("logs", "slurm").glob(f"**/{killed}.log")
        assert re.search(
            rf"StepId={killed}\.\S+ exceeded memory limit \(\d+ > 157286400\), being killed", log.read_text()
        ), log.read_text()[-3000:]

    _assert_same_train_products(local, cluster, "after the memory retries")
    print(f"\nstack attempts: {[[(j['mem'], j['state']) for j in a] for a in by_split.values()]}")


# Fault injection for the time-limit test, on the PYTHONPATH of the Snakemake under test (sbatch
# --export=ALL hands it to every job): the SLURM job of one rule and wildcards hangs on its first
# attempt (its Snakemake's command line says `--attempt 1`) until SLURM kills it; every other
# Python process, later attempts included, starts as usual.
_HANG_ON_FIRST_ATTEMPT = """
import time

_ARGS = open("/proc/self/cmdline", "rb").read().decode(errors="replace").split("\\0")
if "--target-jobs" in _ARGS and "--attempt" in _ARGS and _ARGS[_ARGS.index("--attempt") + 1] == "1":
    if any(arg.startswith({target!r}) for arg in _ARGS):
        time.sleep(600)
"""


def _time_limits(run_id: str) -> dict[str, str]:
    """Job id -> its time limit as squeue prints it (``1:00`` for one minute)."""
    done = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--name", run_id, "--format=%i|%l"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return dict(line.split("|") for line in done.stdout.splitlines() if line.strip())


def test_job_killed_for_its_time_is_retried_with_twice_the_time(tmp_path, tmp_path_factory):
    _require_own_cluster()
    local = _local_run("staged", tmp_path_factory)
    cluster = _with_dataset_of(local, tmp_path / "slurm")

    # `stack` asks for 1 minute (SLURM's --time unit) on its first attempt; the AIRS-CH0 stack
    # job hangs on its first attempt only, so SLURM ends it as TIMEOUT and its retry (2 minutes)
    # completes.
    short = _profile_with_smaller_first_stack(tmp_path, "runtime", shipped=30, first=1)
    inject = tmp_path / "inject"
    inject.mkdir()
    target = "stack:split=train,instrument=AIRS-CH0"
    (inject / "sitecustomize.py").write_text(_HANG_ON_FIRST_ATTEMPT.format(target=target))
    pythonpath = os.pathsep.join(filter(None, [str(inject), os.environ.get("PYTHONPATH")]))

    start = time.monotonic()
    proc, out = _start(cluster, "--profile", str(short), *TRAIN_TARGETS, env={"PYTHONPATH": pythonpath})
    try:
        returncode, output = _finish(proc, out)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    elapsed = time.monotonic() - start
    assert returncode == 0, f"{output[-8000:]}\n{_slurm_logs(cluster)}"

    run_id = _run_id(output)
    limits = _time_limits(run_id)
    stacks = [j for j in _run_jobs(run_id) if j["comment"].startswith("rule_stack_")]
    airs = sorted((j for j in stacks if "AIRS-CH0" in j["comment"]), key=lambda j: int(j["id"]))
    fgs1 = [j for j in stacks if "FGS1" in j["comment"]]
    # 1 minute, ended by SLURM as TIMEOUT; then 2 minutes, completed. FGS1's stack: one attempt.
    assert [(j["state"], limits[j["id"]]) for j in airs] == [("TIMEOUT", "1:00"), ("COMPLETED", "2:00")], airs
    assert [(j["state"], limits[j["id"]]) for j in fgs1] == [("COMPLETED", "1:00")], fgs1
    killed = airs[0]["id"]
    assert f"SLURM-job '{killed}' failed, SLURM status is: 'TIMEOUT'" in output, output[-6000:]
    assert output.count("Trying to restart job ") == 1, output[-6000:]
    (log,) = cluster.path("logs", "slurm").glob(f"**/{killed}.log")
    assert re.search(rf"\*\*\* JOB {killed} ON n\d CANCELLED AT \S+ DUE TO TIME LIMIT \*\*\*", log.read_text()), (
        log.read_text()[-3000:]
    )

    _assert_same_train_products(local, cluster, "after the time-limit retry")
    print(f"\nstack AIRS-CH0: {[(j['state'], limits[j['id']]) for j in airs]}, run {elapsed:.0f} s")


def test_job_requeued_mid_run_reruns_under_its_id_and_products_are_identical(tmp_path, tmp_path_factory):
    """Preemption by requeue (what SLURM does to a preempted job on clusters with JobRequeue=1 and
    PreemptMode=REQUEUE), with the profile's slurm-no-requeue switched off: an observation's group
    job requeued mid-run (scontrol requeue) is killed, held for SLURM's 2 minutes and rerun under
    the same job id; Snakemake sees no failure and the products are byte-identical. (With the
    profile as shipped, --no-requeue, SLURM refuses the requeue: checked too.)"""
    _require_own_cluster()
    local = _local_run("staged", tmp_path_factory)
    cluster = _with_dataset_of(local, tmp_path / "slurm")
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert profile["slurm-no-requeue"] is True
    profile["slurm-no-requeue"] = False
    requeueing = tmp_path / "profile"
    requeueing.mkdir()
    (requeueing / "config.yaml").write_text(yaml.safe_dump(profile))

    refused = subprocess.run(
        ["sbatch", "--parsable", "--no-requeue", "--output=/dev/null", "--wrap", "sleep 30"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()
    try:
        deadline = time.monotonic() + 60
        while _job_state(refused) != "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _job_state(refused) == "RUNNING", _show_job(refused)
        done = subprocess.run(["scontrol", "requeue", refused], capture_output=True, text=True, timeout=30)
        assert done.returncode != 0, done
        assert f"Requested operation is presently disabled for job {refused}" in done.stderr, done.stderr
    finally:
        subprocess.run(["scancel", refused], capture_output=True, timeout=30)

    proc, out = _start(cluster, "--profile", str(requeueing), *TRAIN_TARGETS)
    requeued = None
    try:
        running = _first_running_observation_job(proc)
        assert running is not None, f"no observation job ran:\n{out.read_text()[-4000:]}"
        requeued = running[0]
        subprocess.run(["scontrol", "requeue", requeued], check=True, capture_output=True, timeout=30)
        returncode, output = _finish(proc, out)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    assert returncode == 0, f"{output[-8000:]}\n{_slurm_logs(cluster)}"

    jobs = {j["id"]: j for j in _run_jobs(_run_id(output))}
    assert jobs[requeued]["state"] == "COMPLETED", jobs
    assert "Restarts=1 " in _show_job(requeued), _show_job(requeued)
    assert "Trying to restart job" not in output and len(_submitted(output)) == 4, output[-6000:]
    _assert_same_train_products(local, cluster, "after the requeue")


def _job_state(jobid: str) -> str:
    done = subprocess.run(["squeue", "-h", "-j", jobid, "-o", "%T"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip()


def _show_job(jobid: str) -> str:
    return subprocess.run(["scontrol", "show", "job", jobid], capture_output=True, text=True, timeout=30).stdout


# Prints {rule: {"mem_mb": ..., "runtime": ...}} of the workflow in the working directory, as the
# rules declare them (Snakemake's API: the dry run does not list resources of rules with a message).
_RULE_RESOURCES = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

with SnakemakeApi(OutputSettings()) as api:
    wf = api.workflow(
        resource_settings=ResourceSettings(),
        config_settings=ConfigSettings(configfiles=[Path("config.yaml")]),
        snakefile=Path(sys.argv[1]),
        workdir=Path("."),
    )
    found = {
        rule.name: {name: rule.resources[name].value for name in ("mem_mb", "runtime") if name in rule.resources}
        for rule in wf._workflow.rules
    }
print("RESOURCES=" + json.dumps(found))
"""


@pytest.mark.parametrize("mode", ["staged", "fused"])
def test_profile_resources_are_the_rules_at_attempt_one_and_double_per_retry(tmp_path, mode):
    """No cluster needed: the profile's set-resources at attempt 1 are what the rules declare."""
    wf = Workflow(tmp_path / "plan", _tiny(mode))
    done = subprocess.run(
        [sys.executable, "-c", _RULE_RESOURCES, str(REPO / "Snakefile")],
        cwd=wf.workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    declared = json.loads(done.stdout.split("RESOURCES=", 1)[1])
    growing = yaml.safe_load((PROFILE / "config.yaml").read_text())["set-resources"]

    with_resources = {rule for rule, res in declared.items() if res}
    assert ("adc" if mode == "staged" else "fused") in with_resources, declared
    # Every rule that declares resources has its growing entry in the profile ...
    assert with_resources <= set(growing), sorted(with_resources - set(growing))
    for rule in sorted(with_resources):
        assert set(growing[rule]) == {"mem_mb", "runtime"}, (rule, growing[rule])
        for name, expression in growing[rule].items():
            # ... equal to the rule's value on the first attempt, doubling on each retry.
            at = [eval(expression, {"attempt": attempt}) for attempt in (1, 2, 3)]
            base = declared[rule][name]
            assert at == [base, 2 * base, 4 * base], (rule, name, expression, base)
