"""Stacks are never lost: with --keep-going, the split's stacks are written for the observations
that succeeded (NaN rows for the others; all NaN where none did), a damaged product or stack is
rebuilt by the next run, and a full disk is reported with the file and the cause in words. Every scenario starts from a copy of one
clean run, and every other observation's products stay byte-identical to it.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import Workflow, default_config, merged
from test_bad_input import EDITION, _dataset, _null_sample, _signal

from arielcal import layout

pytestmark = pytest.mark.workflow

N_PLANETS = 3
PRODUCT_FILES = ("calibrated.npy", "dq.npy", "nvalid.npy")


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """(planet ids, the clean run) in fused mode (one job per observation); the dataset lies in
    the run's directory as ``data`` (a relative data_dir), so a copy of the directory is the
    same run to Snakemake."""
    work = tmp_path_factory.mktemp("stack_clean")
    ids = _dataset(work / "data", n_planets=N_PLANETS)
    cfg = merged(
        default_config(), {"data_dir": "data", "splits": ["train"], "mode": "fused", "science": {"extract": False}}
    )
    wf = Workflow(work, cfg)
    wf.run()
    return ids, wf


@pytest.fixture
def scenario(clean, tmp_path):
    """A copy of the clean run's directory, dataset included (mtimes kept)."""
    ids, wf = clean
    work = tmp_path / "run"
    shutil.copytree(wf.workdir, work, symlinks=True)
    copy = Workflow(work, wf.config)
    return work / "data", ids, copy, wf


def _bytes(wf, planet, instrument, name):
    return wf.path("results", "train", planet, 0, instrument, name).read_bytes()


def _assert_identical_except(wf, clean_wf, ids, skip):
    for planet in ids:
        for instrument in ("AIRS-CH0", "FGS1"):
            if (planet, instrument) in skip:
                continue
            for name in PRODUCT_FILES:
                assert _bytes(wf, planet, instrument, name) == _bytes(clean_wf, planet, instrument, name), (
                    planet,
                    instrument,
                )


def _stack_rows_match(wf, clean_wf, instrument, nan_rows):
    got = np.load(wf.path("results", "train", f"{instrument}.npy"))
    want = np.load(clean_wf.path("results", "train", f"{instrument}.npy"))
    assert got.shape == want.shape
    for row in range(len(want)):
        if row in nan_rows:
            assert np.isnan(got[row]).all(), row
        else:
            assert got[row].tobytes() == want[row].tobytes(), row


def test_a_failed_observation_leaves_the_stacks_of_the_others(scenario):
    data, ids, wf, clean_wf = scenario
    signal = _signal(data, ids[1], "AIRS-CH0")
    good = signal.read_bytes()
    signal.write_bytes(good[: len(good) // 3])
    done = wf.run("--keep-going", check=False)
    assert done.returncode != 0
    assert "AIRS-CH0_signal.parquet: expected a readable parquet file" in done.stdout + done.stderr
    assert not wf.path("results", "train", ids[1], 0, "AIRS-CH0", "calibrated.npy").exists()
    _stack_rows_match(wf, clean_wf, "AIRS-CH0", nan_rows={1})
    _stack_rows_match(wf, clean_wf, "FGS1", nan_rows=set())
    table = pd.read_csv(wf.path("results", "train", "observations.csv"))
    assert table.to_dict("list") == {
        "planet_id": ids,
        "visit": [0] * N_PLANETS,
        "AIRS-CH0": ["calibrated", "failed", "calibrated"],
        "FGS1": ["calibrated"] * N_PLANETS,
    }
    summary = pd.read_csv(wf.path("results", "failed_observations.csv"))
    assert summary[["planet", "instrument", "stage"]].values.tolist() == [[ids[1], "AIRS-CH0", "fused"]]
    _assert_identical_except(wf, clean_wf, ids, skip={(ids[1], "AIRS-CH0")})

    # Fixed: the next run calibrates it and the stacks are the clean run's again.
    signal.write_bytes(good)
    assert wf.planned() == {"fused": 1, "stack": 1, "observations_table": 1, "all": 1}
    wf.run()
    for name in ("AIRS-CH0.npy", "FGS1.npy"):
        assert wf.path("results", "train", name).read_bytes() == clean_wf.path("results", "train", name).read_bytes()
    assert (
        pd.read_csv(wf.path("results", "train", "observations.csv"))["AIRS-CH0"].tolist() == ["calibrated"] * N_PLANETS
    )
    assert not wf.path("results", "failed_observations.csv").exists()
    _assert_identical_except(wf, clean_wf, ids, skip=set())


def _job_stats(output: str) -> dict[str, int]:
    """The job count of each rule from Snakemake's job stats table (of a run or a dry run)."""
    table = output.split("Job stats:", 1)[1].split("total", 1)[0] if "Job stats:" in output else ""
    rows = (words for words in map(str.split, table.splitlines()) if len(words) == 2 and words[1].isdigit())
    return {rule: int(count) for rule, count in rows}


def _mtimes(wf) -> dict[str, int]:
    return {str(p.relative_to(wf.workdir)): p.stat().st_mtime_ns for p in wf.path("results").glob("**/*.npy")}


def test_a_damaged_product_or_stack_is_rebuilt_by_one_run(scenario):
    """Cut short after a good run (by hand, a copy): the next run alone rebuilds exactly the
    damaged files and what depends on them, byte-identical, and succeeds."""
    data, ids, wf, clean_wf = scenario
    product = wf.path("results", "train", ids[2], 0, "FGS1", "calibrated.npy")
    stack = wf.path("results", "train", "AIRS-CH0.npy")
    sizes = {path: path.stat().st_size for path in (product, stack)}
    shapes = {path: np.load(path, mmap_mode="r").shape for path in (product, stack)}
    os.truncate(product, sizes[product] - 1000)
    os.truncate(stack, sizes[stack] // 2)
    before = _mtimes(wf)
    expected_jobs = {"fused": 1, "stack": 2, "observations_table": 1, "all": 1}
    assert wf.planned() == expected_jobs  # the dry run says so too
    done = wf.run()
    output = done.stdout + done.stderr
    for path, cut in ((product, sizes[product] - 1000), (stack, sizes[stack] // 2)):
        assert (
            f"{path.relative_to(wf.workdir)}: expected a complete .npy array, found {cut} bytes where its header "
            f"{shapes[path]} float32 needs {sizes[path]} (truncated or damaged); rebuilding it"
        ) in output
    assert _job_stats(output) == expected_jobs  # nothing else recomputed
    assert product.read_bytes() == clean_wf.path("results", "train", ids[2], 0, "FGS1", "calibrated.npy").read_bytes()
    for name in ("AIRS-CH0.npy", "FGS1.npy"):
        assert wf.path("results", "train", name).read_bytes() == clean_wf.path("results", "train", name).read_bytes()
    _assert_identical_except(wf, clean_wf, ids, skip=set())
    rebuilt = {f"results/train/{ids[2]}/0/FGS1/{name}" for name in PRODUCT_FILES} | {
        "results/train/AIRS-CH0.npy",
        "results/train/FGS1.npy",
    }
    after = _mtimes(wf)
    assert sorted(name for name in before if after[name] != before[name]) == sorted(rebuilt)
    assert not wf.path("results", "failed_observations.csv").exists()
    assert wf.planned() == {}  # and then nothing is left to do


# Fault injection for the next test, on the PYTHONPATH of the Snakemake under test: the FGS1
# stack job fails as an unexpected error would (jobs run in threads of that process).
_FAIL_THE_FGS1_STACK = """
import errno
from arielcal import stacks

_build = stacks.build


def build(path, slots, split, instrument, *args, **kwargs):
    if instrument == "FGS1":
        raise OSError(errno.EIO, "injected fault while stacking", str(path))
    return _build(path, slots, split, instrument, *args, **kwargs)


stacks.build = build
"""


def test_a_failed_stack_job_still_leaves_the_stack(scenario, tmp_path, monkeypatch):
    """Snakemake deletes a job's outputs before it runs, so a stack job that fails takes the
    previous stack with it: the run's onerror hook writes it again from the products."""
    data, ids, wf, clean_wf = scenario
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(_FAIL_THE_FGS1_STACK)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(inject), os.environ.get("PYTHONPATH")])))
    done = wf.run("--keep-going", "--forcerun", "stack", check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "injected fault while stacking" in wf.path("logs", "stack", "train", "FGS1.log").read_text()
    assert "Wrote results/train/FGS1.npy from the observations that succeeded" in output, output[-4000:]
    for name in ("AIRS-CH0.npy", "FGS1.npy"):
        assert wf.path("results", "train", name).read_bytes() == clean_wf.path("results", "train", name).read_bytes()
    _assert_identical_except(wf, clean_wf, ids, skip=set())


def test_every_observation_of_an_instrument_failed_still_gives_its_stack(scenario):
    """No AIRS-CH0 observation of the split succeeds (one rejected, two failed in their job): its
    stack is written all NaN, of the products' shape; FGS1's is the clean run's."""
    data, ids, wf, clean_wf = scenario
    _signal(data, ids[0], "AIRS-CH0").unlink()
    signal = _signal(data, ids[1], "AIRS-CH0")
    signal.write_bytes(signal.read_bytes()[: signal.stat().st_size // 3])
    _null_sample(_signal(data, ids[2], "AIRS-CH0"), "column_70", 3)
    done = wf.run("--keep-going", check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "results/train/AIRS-CH0.npy: no observation calibrated, 3 NaN rows (see failed_observations.csv)" in output
    _stack_rows_match(wf, clean_wf, "AIRS-CH0", nan_rows={0, 1, 2})
    _stack_rows_match(wf, clean_wf, "FGS1", nan_rows=set())
    table = pd.read_csv(wf.path("results", "train", "observations.csv"))
    assert table.to_dict("list") == {
        "planet_id": ids,
        "visit": [0] * N_PLANETS,
        "AIRS-CH0": ["failed"] * N_PLANETS,
        "FGS1": ["calibrated"] * N_PLANETS,
    }
    summary = pd.read_csv(wf.path("results", "failed_observations.csv")).sort_values("planet")
    assert summary[["planet", "instrument", "stage"]].values.tolist() == [
        [ids[0], "AIRS-CH0", "reject"],
        [ids[1], "AIRS-CH0", "fused"],
        [ids[2], "AIRS-CH0", "fused"],
    ]
    reasons = summary.reason.tolist()
    assert "AIRS-CH0_signal.parquet: expected an existing file, found no such file" in reasons[0]
    assert "AIRS-CH0_signal.parquet: expected a readable parquet file" in reasons[1]
    assert "AIRS-CH0_signal.parquet: expected uint16 samples (no null samples), found 1 null samples" in reasons[2]
    for planet in ids[1:]:  # the failed jobs left no product
        assert not any(wf.path("results", "train", planet, 0, "AIRS-CH0").glob("*.npy")), planet
    _assert_identical_except(wf, clean_wf, ids, skip={(planet, "AIRS-CH0") for planet in ids})


def test_every_observation_of_an_instrument_rejected_still_gives_its_stack(scenario):
    """Every AIRS-CH0 observation rejected before the run: the stack job has no product to stack
    and writes the stack all NaN (its log says so); observations.csv marks every row failed."""
    data, ids, wf, clean_wf = scenario
    for planet in ids:
        _signal(data, planet, "AIRS-CH0").unlink()
    done = wf.run("--keep-going", check=False)
    assert done.returncode != 0
    _stack_rows_match(wf, clean_wf, "AIRS-CH0", nan_rows={0, 1, 2})
    _stack_rows_match(wf, clean_wf, "FGS1", nan_rows=set())
    log = wf.path("logs", "stack", "train", "AIRS-CH0.log").read_text()
    assert f"no AIRS-CH0 observation of train calibrated: every row is NaN {[[p, 0] for p in ids]}" in log
    table = pd.read_csv(wf.path("results", "train", "observations.csv"))
    assert table["AIRS-CH0"].tolist() == ["failed"] * N_PLANETS
    assert table["FGS1"].tolist() == ["calibrated"] * N_PLANETS
    summary = pd.read_csv(wf.path("results", "failed_observations.csv"))
    assert summary[["instrument", "stage"]].values.tolist() == [["AIRS-CH0", "reject"]] * N_PLANETS
    assert sorted(summary.planet) == sorted(ids)
    _assert_identical_except(wf, clean_wf, ids, skip={(planet, "AIRS-CH0") for planet in ids})


def _mount_tiny_tmpfs(path):
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(path)], capture_output=True, timeout=30
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {done.stderr.decode().strip()}")


def test_a_full_disk_is_named_in_the_log_with_no_partial_file(scenario):
    data, ids, wf, clean_wf = scenario
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs needs root")
    shutil.rmtree(wf.path("results", "train", ids[0], 0, "FGS1"))
    full = wf.path("results", "train", ids[0], 0, "FGS1")
    _mount_tiny_tmpfs(full)
    # Not empty: Snakemake removes the empty folders of missing outputs, and a mount point is busy.
    (full / ".keep").touch()
    try:
        done = wf.run("--keep-going", check=False)
        assert done.returncode != 0
        log = wf.path("logs", "fused", "train", ids[0], 0, "FGS1.log").read_text()
        assert f"results/train/{ids[0]}/0/FGS1/calibrated.npy: cannot write: No space left on device" in log
        assert "No space left on device" in done.stdout + done.stderr
        assert sorted(p.name for p in full.iterdir()) == [".keep"]  # no partial or temporary file
        _stack_rows_match(wf, clean_wf, "FGS1", nan_rows={0})
        _assert_identical_except(wf, clean_wf, ids, skip={(ids[0], "FGS1")})
    finally:
        subprocess.run(["umount", str(full)], timeout=30)
    assert layout.signal_file(data, EDITION, "train", ids[0], 0, "FGS1").is_file()
