"""Real Snakemake, the operational side: the between-workflow output cache, resuming a killed run,
and rendering the rule graph and job DAG with graphviz.

One tiny dataset (2 train planets) is simulated once with the CLI; the cached run on it is also
the uninterrupted reference of the kill-and-resume test (the workflow's own simulation of the
same plan is byte-identical to the CLI's, which that test checks).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO, SNAKEMAKE, Workflow, default_config, merged, tiny_simulation

pytestmark = pytest.mark.workflow

SIMULATION = tiny_simulation(train_planets=2, test_planets=0)
# Calibration only: the science layer is tested on its own.
BASE: dict = {"splits": ["train"], "science": {"extract": False}}
# Rules with `cache: OUTPUT_CACHE` (rules/calibrate.smk, rules/collect.smk).
CACHED_RULES = ("adc", "mask", "linearity", "dark", "cds", "outliers", "bin", "flat", "product", "stack")
OBSERVATION_FILES = ("calibrated.npy", "dq.npy", "nvalid.npy")
# A workflow profile Snakemake picks up by itself (next to the Snakefile).
WORKFLOW_PROFILE = REPO / "profiles" / "default" / "config.yaml"
KILL_TIMEOUT_S = 600


# ---------------------------------------------------------------------------------------------
# helpers


def observation_dirs(workdir: Path) -> list[Path]:
    """results/{split}/{planet}/{visit}/{instrument}, relative to the working directory."""
    return sorted(p.parent.relative_to(workdir) for p in workdir.glob("results/*/*/*/*/calibrated.npy"))


def product_files(workdir: Path) -> list[Path]:
    """Every per-observation array product and every per-split file, relative to workdir."""
    files = [obs / name for obs in observation_dirs(workdir) for name in OBSERVATION_FILES]
    files += sorted(p.relative_to(workdir) for p in workdir.glob("results/*/*.npy"))
    files += sorted(p.relative_to(workdir) for p in workdir.glob("results/*/observations.csv"))
    return files


def assert_same_products(ours: Path, reference: Path) -> None:
    """Byte-identical products (outputs served by the cache are symlinks: contents are compared)."""
    expected = product_files(reference)
    assert expected and product_files(ours) == expected
    for rel in expected:
        assert (ours / rel).read_bytes() == (reference / rel).read_bytes(), rel


def job_stats(output: str) -> Counter:
    """Job count per rule from the 'Job stats' table of a Snakemake run or dry run."""
    if "Job stats:" not in output:
        return Counter()
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return Counter({w[0]: int(w[1]) for w in map(str.split, table.splitlines()) if len(w) == 2 and w[1].isdigit()})


def finished_jobs(output: str) -> Counter:
    """Jobs per rule that Snakemake reported finished."""
    return Counter(re.findall(r"Finished jobid: \d+ \(Rule: ([\w-]+)\)", output))


def incomplete_markers(workdir: Path) -> set[str]:
    """Outputs Snakemake marks incomplete (a job was running when it died): urlsafe base64 of
    the path, long names split into '@'-prefixed folders."""
    folder = workdir / ".snakemake" / "incomplete"
    return {
        base64.urlsafe_b64decode("".join(part.lstrip("@") for part in p.relative_to(folder).parts)).decode()
        for p in folder.rglob("*")
        if p.is_file()
    }


def snakemake_command(wf: Workflow, *args: str) -> list[str]:
    """The command of conftest's Workflow.run, for a run we start (and kill) ourselves."""
    return [*SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(wf.workdir), "--cores", "2", *args]


def copy_workflow(wf: Workflow, workdir: Path) -> Workflow:
    """A copy of a working directory (mtimes and Snakemake metadata included)."""
    shutil.copytree(wf.workdir, workdir, symlinks=True)
    return Workflow(workdir, wf.config)


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """The tiny dataset, simulated once with the CLI (so the cached runs have no simulate jobs)."""
    out = tmp_path_factory.mktemp("dataset") / "data"
    sim = SIMULATION
    subprocess.run(
        [sys.executable, "-m", "arielcal.simulate", "--out", str(out), "--edition", str(sim["edition"]),
         "--seed", str(sim["seed"]), "--train-planets", str(sim["train_planets"]),
         "--test-planets", str(sim["test_planets"]), "--airs-frames", str(sim["airs_frames"]),
         "--fgs1-frames", str(sim["fgs1_frames"])],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("snakemake-output-cache")


def cached_workflow(workdir: Path, dataset: Path) -> Workflow:
    return Workflow(workdir, merged(default_config(), {**BASE, "data_dir": str(dataset), "output_cache": True}))


def run_with_cache(wf: Workflow, cache_dir: Path) -> str:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SNAKEMAKE_OUTPUT_CACHE", str(cache_dir))
        done = wf.run("--cache")
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, dataset, cache_dir) -> tuple[Workflow, str]:
    """Run A: computes everything and fills the output cache. Also the uninterrupted reference."""
    wf = cached_workflow(tmp_path_factory.mktemp("cache-A") / "wf", dataset)
    return wf, run_with_cache(wf, cache_dir)


@dataclass
class KilledRun:
    wf: Workflow
    output: str  # Snakemake's output up to the kill
    caught: list[str]  # outputs of a job killed after writing them all, before Snakemake recorded it


# "Job 12: <message>" then "Reason: Missing output files: a, b, c[; other reasons]". In a fresh
# working directory every output of a job is missing, so this lists all of them.
STARTED = re.compile(r"^Job (\d+):.*\nReason: Missing output files: ([^;\n]+)", re.MULTILINE)


def _job_in_completion_window(workdir: Path, output: str) -> tuple[str, list[str]] | None:
    """(job id, outputs) of a job that has written every output but is not recorded finished
    (Snakemake takes 70-400 ms per job to notice and record it): the worst moment to die."""
    finished = set(re.findall(r"Finished jobid: (\d+)", output))
    for job, files in STARTED.findall(output):
        outputs = [f.strip() for f in files.split(",")]
        if job not in finished and all((workdir / f).exists() for f in outputs):
            return job, outputs
    return None


@pytest.fixture(scope="module")
def killed(tmp_path_factory) -> KilledRun:
    """The default workflow (simulation included), SIGKILLed with all its jobs once an observation
    product is finished, at an instant when a job has written all its outputs but Snakemake has
    not recorded it: a pristine snapshot that each test copies. That instant is a race (the
    kill can land just after Snakemake records the job): a lost race is run again, up to
    KILL_ATTEMPTS times."""
    for attempt in range(1, KILL_ATTEMPTS + 1):
        run = _kill_in_completion_window(tmp_path_factory, last=attempt == KILL_ATTEMPTS)
        if run is not None:
            return run
    raise AssertionError("unreachable: the last attempt fails instead of returning None")


KILL_ATTEMPTS = 3


def _kill_in_completion_window(tmp_path_factory, last: bool) -> KilledRun | None:
    wf = Workflow(
        tmp_path_factory.mktemp("killed") / "wf", merged(default_config(), {**BASE, "simulation": SIMULATION})
    )
    log = wf.workdir.parent / "killed-run.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen(
            snakemake_command(wf),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # its own process group: Snakemake and every job it starts
        )
    caught = None
    try:
        deadline = time.monotonic() + KILL_TIMEOUT_S
        while True:
            output = log.read_text()
            # Kill only while the caught job is still not recorded (its outputs were checked after
            # the log was read).
            if (
                finished_jobs(output)["product"]
                and (caught := _job_in_completion_window(wf.workdir, output))
                and f"Finished jobid: {caught[0]} " not in log.read_text()
            ):
                os.killpg(proc.pid, signal.SIGKILL)
                break
            if proc.poll() is not None:
                if last:
                    pytest.fail(f"the run ended (rc {proc.returncode}) before the kill:\n{output[-4000:]}")
                return None
            if time.monotonic() > deadline:
                pytest.fail(f"no kill after {KILL_TIMEOUT_S} s:\n{output[-4000:]}")
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # Snakemake is dead; its jobs, killed with it, may take a moment to be reaped.
    for _ in range(200):
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("processes of the killed run survived SIGKILL")
    unrecorded = incomplete_markers(wf.workdir)
    if not set(caught[1]) <= unrecorded:
        if last:
            pytest.fail(f"job {caught[0]} was recorded finished in the instant before the kill, {KILL_ATTEMPTS} times")
        return None
    return KilledRun(wf, log.read_text(), caught[1])


# ---------------------------------------------------------------------------------------------
# 1. output cache


def test_output_cache_serves_a_fresh_workdir_without_computing(first_run, dataset, cache_dir, tmp_path):
    reference, first_output = first_run
    assert re.search(r"Moving output file \S+ to cache", first_output), "run A stored nothing in the cache"

    fresh = cached_workflow(tmp_path / "B", dataset)
    said = run_with_cache(fresh, cache_dir)

    # Nothing computed: no output moved into the cache, every product served from it...
    assert not re.findall(r"Moving output file \S+ to cache", said)
    served = set(re.findall(r"output file (\S+) from cache", said))
    assert {str(p) for p in product_files(fresh.workdir) if p.name != "observations.csv"} <= served
    # ...and no calibration script ran: Snakemake only creates their logs empty (run A wrote them).
    for rule in CACHED_RULES:
        logs_a = sorted(reference.path("logs", rule).rglob("*.log"))
        logs_b = sorted(fresh.path("logs", rule).rglob("*.log"))
        assert logs_a and all(log.stat().st_size > 0 for log in logs_a), rule
        assert all(log.stat().st_size == 0 for log in logs_b), [str(log) for log in logs_b if log.stat().st_size]
    assert not fresh.path("benchmarks").exists()  # output_cache drops the per-job benchmarks

    assert_same_products(fresh.workdir, reference.workdir)


# ---------------------------------------------------------------------------------------------
# 2. kill and resume


def test_after_a_kill_unlock_is_the_only_extra_command(killed, tmp_path):
    """SIGKILL leaves Snakemake's lock, which only `snakemake --unlock` removes (Snakemake's own
    LockException says so), and incomplete markers, which need --rerun-incomplete: the workflow
    profile sets it, so the plain command plans the rerun. (The next test really runs it.)"""
    assert yaml.safe_load(WORKFLOW_PROFILE.read_text())["rerun-incomplete"] is True
    wf = copy_workflow(killed.wf, tmp_path / "plain")
    assert list(wf.path(".snakemake", "locks").iterdir()), "the killed run left no lock"
    locked = wf.run(check=False)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    done = wf.run("-n", check=False)
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-3000:]
    assert "IncompleteFilesException" not in said


def test_resume_after_kill_reruns_only_unfinished_jobs_and_matches_an_uninterrupted_run(
    killed, first_run, dataset, tmp_path
):
    wf = copy_workflow(killed.wf, tmp_path / "resume")
    total, finished = job_stats(killed.output), finished_jobs(killed.output)
    assert finished["product"] >= 1 and finished.total() < total.total()
    unfinished = total - finished
    caught = {rel: (wf.workdir / rel).stat().st_mtime_ns for rel in killed.caught}
    # Products finished before the kill, which must not be rewritten.
    incomplete = incomplete_markers(wf.workdir)
    done_before = {
        rel: (wf.workdir / rel).stat().st_mtime_ns
        for rel in product_files(wf.workdir)
        if str(rel) not in incomplete and str(rel.parent / "calibrated.npy") not in incomplete
    }
    assert done_before

    # What the README tells the user to type: `snakemake --unlock && snakemake`, really run.
    wf.run("--unlock")
    rerun = wf.run()
    said = rerun.stdout + rerun.stderr
    planned = job_stats(said)
    assert finished_jobs(said) == planned
    # No job that finished before the kill ran again. (A job recorded in the instant between
    # Snakemake's record and its "Finished" line is neither rerun nor counted: at most 2 cores.)
    assert all(planned[rule] <= unfinished[rule] for rule in planned), (planned, unfinished)
    assert unfinished.total() - 2 <= planned.total() < total.total(), (planned, unfinished)
    for rel, mtime in done_before.items():
        assert (wf.workdir / rel).stat().st_mtime_ns == mtime, f"{rel} was rewritten"
    # The job killed after writing its outputs ran again (its files may since be deleted as temp).
    for rel, mtime in caught.items():
        assert not (wf.workdir / rel).exists() or (wf.workdir / rel).stat().st_mtime_ns != mtime, rel
    assert not incomplete_markers(wf.workdir)

    # No truncated file survives: every array loads, every simulated table reads, and the
    # simulated dataset is byte-identical to the CLI's (uninterrupted) simulation.
    for path in wf.path("results").rglob("*.npy"):
        np.load(path, allow_pickle=False)
    simulated = wf.path(wf.config["simulation"]["out_dir"])
    for path in simulated.rglob("*.parquet"):
        pq.read_table(path)
    ours = sorted(p.relative_to(simulated) for p in simulated.rglob("*") if p.is_file())
    assert ours == sorted(p.relative_to(dataset) for p in dataset.rglob("*") if p.is_file())
    for rel in ours:
        assert (simulated / rel).read_bytes() == (dataset / rel).read_bytes(), rel
    assert_same_products(wf.workdir, first_run[0].workdir)


# ---------------------------------------------------------------------------------------------
# 3. rule graph and DAG


@pytest.mark.skipif(
    shutil.which("dot") is None, reason="graphviz `dot` is not installed (Debian: apt-get install graphviz)"
)
@pytest.mark.parametrize("graph", ["--rulegraph", "--dag"])
def test_graph_renders_as_svg_with_every_rule(graph, make_workflow):
    wf = make_workflow(simulation=tiny_simulation())
    dot_source = wf.run(graph).stdout
    assert dot_source.lstrip().startswith("digraph"), dot_source[:500]
    rendered = subprocess.run(["dot", "-Tsvg"], input=dot_source, capture_output=True, text=True, timeout=120)
    assert rendered.returncode == 0, rendered.stderr
    svg = ET.fromstring(rendered.stdout)
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    labels = {" ".join(node.itertext()).split()[0] for node in svg.iter("{http://www.w3.org/2000/svg}text")}
    expected = {"all", "simulate_observation", "simulate_tables", "observations_table", *CACHED_RULES}
    assert expected <= labels, expected - labels
    nodes = [g for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "node"]
    edges = [g for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "edge"]
    assert len(edges) >= len(nodes) - 1 > 0
