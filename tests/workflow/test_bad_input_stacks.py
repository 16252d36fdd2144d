"""Stacks are never lost: with --keep-going, the split's stacks are written for the observations
that succeeded (NaN rows for the others), a damaged product is detected and rebuilt, and a full
disk is reported with the file and the cause in words. Every scenario starts from a copy of one
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
from test_bad_input import EDITION, _dataset, _signal

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


def test_a_product_damaged_by_hand_is_detected_and_rebuilt(scenario):
    data, ids, wf, clean_wf = scenario
    product = wf.path("results", "train", ids[2], 0, "FGS1", "calibrated.npy")
    size = product.stat().st_size
    os.truncate(product, size - 1000)
    assert wf.planned() == {"stack": 1, "observations_table": 1, "all": 1}  # Snakemake alone never rebuilds it
    done = wf.run("--keep-going", check=False)
    assert done.returncode != 0
    assert (
        f"{product.relative_to(wf.workdir)}: expected a complete .npy array, found {size - 1000} bytes"
        in done.stdout + done.stderr
    )
    assert "removed it, the next run recalibrates it" in done.stdout + done.stderr
    _stack_rows_match(wf, clean_wf, "FGS1", nan_rows={2})  # the stack of the others, written
    _stack_rows_match(wf, clean_wf, "AIRS-CH0", nan_rows=set())
    assert wf.planned() == {"fused": 1, "stack": 1, "observations_table": 1, "all": 1}
    wf.run()
    assert product.read_bytes() == clean_wf.path("results", "train", ids[2], 0, "FGS1", "calibrated.npy").read_bytes()
    for name in ("AIRS-CH0.npy", "FGS1.npy"):
        assert wf.path("results", "train", name).read_bytes() == clean_wf.path("results", "train", name).read_bytes()
    assert not wf.path("results", "failed_observations.csv").exists()


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
