"""The tiny simulated workflow through SLURM (the slurm/ profile) gives the same bytes as a local run.

Opt in: needs a SLURM cluster that answers ``sinfo`` (``.ci/slurm-up.sh`` brings one up on this
machine) and ``ARIELCAL_SLURM=1``; otherwise the test skips. Run it with
``ARIELCAL_SLURM=1 python -m pytest -m slurm``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import REPO, Workflow, default_config, merged, tiny_simulation

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

PROFILE = REPO / "slurm"
# Every product the workflow promises, relative to the working directory.
PRODUCTS = (
    "results/**/calibrated.npy",
    "results/**/dq.npy",
    "results/**/nvalid.npy",
    "results/*/observations.csv",
    "results/*/*.npy",
)


def _slurm_answers(timeout: int = 10) -> str | None:
    """None if the cluster answers, else why not (SLURM clients block for minutes on a dead daemon)."""
    if shutil.which("sinfo") is None:
        return "sinfo not installed"
    try:
        done = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=timeout
        )
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


def _products(wf: Workflow) -> dict[str, bytes]:
    found = {p for pattern in PRODUCTS for p in wf.path().glob(pattern) if p.is_file()}
    return {str(p.relative_to(wf.workdir)): p.read_bytes() for p in sorted(found)}


def _slurm_logs(wf: Workflow, chars: int = 3000) -> str:
    """Tails of the SLURM job logs the plugin kept (it keeps those of failed jobs)."""
    logs = sorted(wf.path("logs", "slurm").glob("**/*.log"))
    return "\n".join(f"---- {p}\n{p.read_text(errors='replace')[-chars:]}" for p in logs[-5:])


def _run_states(run_id: str) -> dict[str, str]:
    """SLURM job id -> state for the jobs of one Snakemake run (job name = SLURM run ID).

    Finished jobs stay listed for MinJobAge (300 s in .ci/slurm-up.sh).
    """
    done = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--name", run_id, "--format=%i %T"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return dict(line.split() for line in done.stdout.splitlines() if line.strip())


@pytest.mark.parametrize("mode", ["staged", "fused"])
def test_tiny_workflow_through_slurm_matches_local_run(tmp_path, mode):
    # Checked here, not at collection: a plain `pytest` never calls a SLURM client.
    _require_cluster()
    config = merged(default_config(), {"mode": mode, "simulation": tiny_simulation()})

    local = Workflow(tmp_path / "local", config)
    start = time.monotonic()
    local.run()
    local_s = time.monotonic() - start

    cluster = Workflow(tmp_path / "slurm", config)
    start = time.monotonic()
    # An absolute profile path: with --directory, a bare `--profile slurm` would be looked up
    # in the caller's working directory.
    done = cluster.run("--profile", str(PROFILE), check=False)
    slurm_s = time.monotonic() - start
    output = done.stdout + done.stderr
    assert done.returncode == 0, (
        f"snakemake --profile {PROFILE} failed ({done.returncode}):\n"
        f"{output[-8000:]}\n{_slurm_logs(cluster)}"
    )

    # The jobs really went through SLURM, with the profile's partition, and all completed.
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", output)
    assert submitted, f"no job was submitted to SLURM:\n{output[-4000:]}"
    assert "slurm_partition=debug" in output, (
        "the profile's default-resources were dropped (a workflow profile that sets "
        "default-resources replaces the whole block)"
    )
    run_id = re.search(r"SLURM run ID: (\S+)", output)
    assert run_id, output[-4000:]
    # Jobs that finished more than MinJobAge ago have left squeue: check the ones still listed.
    states = _run_states(run_id.group(1))
    assert states and set(states) <= set(submitted), (states, submitted)
    assert set(states.values()) == {"COMPLETED"}, states

    print(
        f"\n{mode}: local {local_s:.1f} s, SLURM {slurm_s:.1f} s, "
        f"{len(submitted)} SLURM jobs (run {run_id.group(1)})"
    )

    expected = _products(local)
    got = _products(cluster)
    assert any(name.endswith("calibrated.npy") for name in expected), sorted(expected)
    assert any(name.endswith("observations.csv") for name in expected), sorted(expected)
    assert sorted(got) == sorted(expected)
    differ = [name for name in expected if got[name] != expected[name]]
    assert not differ, f"products differ between the SLURM and the local run: {differ}"
