"""Which rows of a stack are real (arielcal.stacks.plan), and stacks written complete or not at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from arielcal import failures, formats, stacks
from arielcal.errors import InputError
from arielcal.stacks import CALIBRATED, FAILED, PENDING, ProductState


def test_plan_decides_each_row():
    states = {
        "a": ProductState(10.0, shape=(2, 3)),
        "b": ProductState(10.0, shape=(2, 3)),  # failed since: its product is of an earlier run
        "c": ProductState(10.0, damage="5 bytes where ... (truncated or damaged)"),
        "d": ProductState(10.0, shape=(4, 3)),  # another shape than the first real product
        "e": ProductState(30.0, shape=(2, 3)),  # failed before, calibrated since: real
    }
    failures_of = {(2, 0): ("adc failed", 20.0), (5, 0): ("rejected: no signal", 5.0), (6, 0): ("old", 25.0)}
    slots = [[1, 0, "a"], [2, 0, "b"], [3, 0, "c"], [4, 0, "d"], [5, 0, ""], [6, 0, "e"], [7, 0, "f"], [8, 1, ""]]
    rows = stacks.plan(slots, states.get, lambda p, v: failures_of.get((p, v)))
    assert [(row.planet, row.status) for row in rows] == [
        (1, CALIBRATED),
        (2, FAILED),
        (3, FAILED),
        (4, FAILED),
        (5, FAILED),
        (6, CALIBRATED),
        (7, PENDING),
        (8, PENDING),
    ]
    assert [row.product for row in rows if row.real] == ["a", "e"]
    assert rows[1].reason == "adc failed"
    assert (
        rows[2].damaged == "c"
        and rows[2].reason == "c: expected a complete .npy array, found 5 bytes where ... (truncated or damaged)"
    )
    assert rows[3].reason == "d: expected the shape (2, 3) of the split's other products, found (4, 3)"
    assert rows[4].reason == "rejected: no signal"


def test_table_says_which_rows_are_real():
    rows = {
        "AIRS-CH0": [stacks.Row(1, 0, CALIBRATED, "p"), stacks.Row(2, 0, FAILED, reason="x")],
        "FGS1": [stacks.Row(1, 0, FAILED, reason="y"), stacks.Row(2, 0, CALIBRATED, "q")],
    }
    assert stacks.table([(1, 0), (2, 0)], rows) == {
        "planet_id": [1, 2],
        "visit": [0, 0],
        "AIRS-CH0": ["calibrated", "failed"],
        "FGS1": ["failed", "calibrated"],
    }


def _product(tmp_path, name, value, shape=(2, 3)):
    path = tmp_path / name / "calibrated.npy"
    formats.save_npy(path, np.full(shape, value, np.float32))
    return str(path)


def test_build_writes_nan_rows_and_refuses_damaged_products(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b = _product(tmp_path, "a", 1.0), _product(tmp_path, "b", 2.0)
    out = tmp_path / "results" / "train" / "FGS1.npy"
    slots = [[1, 0, a], [2, 0, ""], [3, 0, b]]
    rows = stacks.build(out, slots, "train", "FGS1")
    stacked = np.load(out)
    assert stacked.shape == (3, 2, 3) and stacked.dtype == np.float32
    assert (stacked[0] == 1).all() and np.isnan(stacked[1]).all() and (stacked[2] == 2).all()
    assert [row.status for row in rows] == [CALIBRATED, PENDING, CALIBRATED]
    good = out.read_bytes()

    data = Path(b).read_bytes()
    Path(b).write_bytes(data[:-4])
    with pytest.raises(InputError) as err:
        stacks.build(out, slots, "train", "FGS1")
    assert str(err.value) == (
        f"{b}: expected a complete .npy array, found {len(data) - 4} bytes where its header (2, 3) float32 needs "
        f"{len(data)} (truncated or damaged); removed it, the next run recalibrates it"
    )
    assert out.read_bytes() == good  # the previous stack untouched
    assert not (tmp_path / "b" / "calibrated.npy").exists()  # removed: the next run rebuilds it
    ((key, (reason, _)),) = [(k, v) for k, v in failures.latest("logs").items() if k[1] == "3"]
    assert key == ("train", "3", "0", "FGS1") and reason.endswith("; removed, the next run recalibrates it")


def test_build_without_any_product_writes_an_all_nan_stack_of_the_products_shape(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "results" / "train" / "AIRS-CH0.npy"
    slots = [[1, 0, ""], [2, 0, ""]]  # every observation rejected
    rows = stacks.build(out, slots, "train", "AIRS-CH0", shape_of=lambda: (2, 282, 32))
    stacked = np.load(out)
    assert stacked.shape == (2, 2, 282, 32) and stacked.dtype == np.float32 and np.isnan(stacked).all()
    assert stacks.describe(rows) == "no observation calibrated, 2 NaN rows"
    out.unlink()
    with pytest.raises(InputError) as err:  # no shape to give it: an error, not a guess
        stacks.build(out, slots, "train", "AIRS-CH0")
    assert str(err.value) == f"{out}: expected at least one calibrated AIRS-CH0 observation in train, found none"
    assert not out.exists()


def test_product_shape_is_the_binned_cds_frames_the_kept_columns_and_every_row():
    assert stacks.product_shape(32, [39, 321], 120, 30) == (2, 282, 32)  # AIRS-CH0, tiny
    assert stacks.product_shape(32, [0, 32], 1440, 360) == (2, 32, 32)  # FGS1, tiny
    assert stacks.product_shape(32, [0, 32], 1440, 1) == (720, 32, 32)  # binning off
    assert stacks.product_shape(32, [39, 321], 11250, 30) == (187, 282, 32)  # full size: trailing frames dropped


def test_nan_shape_reads_the_frames_of_axis_info(tmp_path):
    import pandas as pd

    axis = pd.DataFrame(
        {
            "AIRS-CH0-axis0-h": np.arange(8.0),
            "AIRS-CH0-axis2-um": np.r_[np.arange(5.0), [np.nan] * 3],
            "AIRS-CH0-integration_time": np.ones(8),
            "FGS1-axis0-h": np.r_[np.arange(6.0), [np.nan] * 2],  # null padding: 6 frames
        }
    )
    axis.to_parquet(tmp_path / "axis_info.parquet", index=False)
    assert stacks.nan_shape(tmp_path / "axis_info.parquet", "FGS1", [0, 32], 1) == (3, 32, 32)
    assert stacks.nan_shape(tmp_path / "axis_info.parquet", "AIRS-CH0", [39, 321], 2) == (2, 282, 32)


def test_damaged_outputs_are_found_from_their_headers(tmp_path):
    from arielcal import preflight

    good, cut, empty = (str(tmp_path / name) for name in ("good.npy", "cut.npy", "empty.npy"))
    formats.save_npy(good, np.zeros((4, 5), np.float32))
    formats.save_npy(cut, np.zeros((4, 5), np.float32))
    size = Path(cut).stat().st_size
    Path(cut).write_bytes(Path(cut).read_bytes()[:-8])
    Path(empty).write_bytes(b"")
    found = preflight.damaged_outputs([good, cut, empty, str(tmp_path / "missing.npy")])
    assert found == {
        cut: f"{size - 8} bytes where its header (4, 5) float32 needs {size} (truncated or damaged)",
        empty: "an unreadable .npy header (ValueError: EOF: reading magic string, expected 8 bytes got 0)",
    }
    assert formats.npy_damage(tmp_path / "missing.npy").startswith("an unreadable .npy header (FileNotFoundError")


@pytest.mark.parametrize(
    "array, version",
    [
        (np.zeros((2, 282, 32), np.float32), (1, 0)),
        (np.zeros((7,), np.uint16), (1, 0)),
        (np.zeros((), np.float64), (1, 0)),
        (np.zeros((3, 4), ">u4"), (2, 0)),
        (np.zeros(3, [("a", "<f4"), ("b", "<i2")]), (1, 0)),  # not the plain layout: numpy's reader
        (np.zeros((2, 3), np.float32, order="F"), (3, 0)),
    ],
)
def test_the_fast_header_check_agrees_with_numpys_reader(tmp_path, array, version):
    from arielcal import files

    path = tmp_path / "a.npy"
    with open(path, "wb") as fh:
        np.lib.format.write_array(fh, array, version=version)
    data = path.read_bytes()
    assert files._npy_intact(path) is (array.dtype.names is None)
    assert formats.npy_damage(path) is None
    for changed in (data[:-1], data + b"\0"):  # one byte short, one byte too many
        path.write_bytes(changed)
        assert files._npy_intact(path) is False
        assert formats.npy_damage(path).endswith(f"needs {len(data)} (truncated or damaged)")
    assert files._npy_intact(tmp_path / "missing.npy") is None


def test_salvage_writes_what_the_failed_run_could_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = _product(tmp_path, "results/train/1/0/FGS1", 1.0)
    failures.record(
        tmp_path / "logs/adc/train/2/0/FGS1.log.failed",
        "adc",
        {"split": "train", "planet": "2", "visit": "0", "instrument": "FGS1"},
        "signal truncated",
    )
    slots = {"train": {"FGS1": [[1, 0, a], [2, 0, "results/train/2/0/FGS1/calibrated.npy"]]}}
    messages = []
    written = stacks.salvage(slots, {"train": [(1, 0), (2, 0)]}, log=messages.append)
    assert written == ["results/train/FGS1.npy", "results/train/observations.csv"]
    stacked = np.load("results/train/FGS1.npy")
    assert (stacked[0] == 1).all() and np.isnan(stacked[1]).all()
    assert Path("results/train/observations.csv").read_text() == "planet_id,visit,FGS1\n1,0,calibrated\n2,0,failed\n"
    assert messages == ["results/train/FGS1.npy: 1 calibrated rows, 1 NaN rows (see failed_observations.csv)"]
    # Up to date: nothing rewritten, also without observations.csv (a run whose table job was skipped).
    assert stacks.salvage(slots, {"train": [(1, 0), (2, 0)]}, log=messages.append) == []
    Path("results/train/observations.csv").unlink()
    assert stacks.salvage(slots, {"train": [(1, 0), (2, 0)]}, log=messages.append) == ["results/train/observations.csv"]
    # A failure newer than the stack (a signal replaced by a bad one since): no row is real any
    # more, and a stack of stale data is worse than none: all NaN, of the products' shape.
    failures.record(
        tmp_path / "logs/adc/train/1/0/FGS1.log.failed",
        "adc",
        {"split": "train", "planet": "1", "visit": "0", "instrument": "FGS1"},
        "signal replaced by a bad one",
    )
    shapes = []
    written = stacks.salvage(
        slots, {"train": [(1, 0), (2, 0)]}, log=messages.append, shape_of=lambda *key: shapes.append(key) or (2, 3)
    )
    assert written == ["results/train/FGS1.npy", "results/train/observations.csv"]
    assert shapes == [("train", "FGS1")]
    stacked = np.load("results/train/FGS1.npy")
    assert stacked.shape == (2, 2, 3) and np.isnan(stacked).all()
    assert Path("results/train/observations.csv").read_text() == "planet_id,visit,FGS1\n1,0,failed\n2,0,failed\n"
    assert messages[-1] == "results/train/FGS1.npy: no observation calibrated, 2 NaN rows (see failed_observations.csv)"
    # Without a shape (a caller that cannot tell it), no stack rather than a wrong one.
    Path("results/train/FGS1.npy").unlink()
    assert stacks.salvage(slots, {"train": [(1, 0), (2, 0)]}, log=messages.append) == []
    assert messages[-1] == "train FGS1: no observation calibrated, no stack"
    assert not Path("results/train/FGS1.npy").exists()
    # A run stopped early (an observation neither calibrated nor failed): nothing written.
    slots["train"]["FGS1"].append([3, 0, "results/train/3/0/FGS1/calibrated.npy"])
    assert stacks.salvage(slots, {"train": [(1, 0), (2, 0), (3, 0)]}, log=messages.append) == []
    assert messages[-1] == "train FGS1: stack not written, some observations did not run"


def test_summary_ignores_failures_older_than_the_product(tmp_path):
    import os

    key = {"split": "train", "planet": "1", "visit": "0", "instrument": "FGS1"}
    failures.record(tmp_path / "logs/dark/x.log.failed", "dark", key, "old failure")
    product = tmp_path / "p.npy"
    product.write_bytes(b"")
    os.utime(tmp_path / "logs/dark/x.log.failed", (1, 1))
    requested = {("train", "1", "0", "FGS1")}
    assert failures.summarize(tmp_path / "logs", tmp_path / "s.csv", requested) == 1
    assert failures.summarize(tmp_path / "logs", tmp_path / "s.csv", requested, lambda k: product) == 0
    assert not (tmp_path / "s.csv").exists()
