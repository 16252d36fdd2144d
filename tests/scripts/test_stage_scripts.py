"""Each scripts/<stage>.py run with a fake ``snakemake`` object on a hand-made tiny FGS1 observation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_script

from arielcal import formats
from arielcal.dq import DQ

GAIN, OFFSET = 0.5, -100.0
FRAMES = 8
WILDCARDS = {"split": "train", "planet": "7", "visit": "0", "instrument": "FGS1"}
ADC_HEADER = "planet_id,FGS1_adc_offset,FGS1_adc_gain,AIRS-CH0_adc_offset,AIRS-CH0_adc_gain,star\n"


@pytest.fixture
def observation(tmp_path):
    """A 32 x 32 x 8 FGS1 observation with a dead pixel, a hot pixel and a negative flat."""
    rng = np.random.default_rng(1)
    raw = rng.integers(1000, 2000, size=(32, 32, FRAMES), dtype=np.uint16)
    dark = np.full((32, 32), 0.01)
    dark[5, 5] = 50.0  # hot
    dead = np.zeros((32, 32), bool)
    dead[1, 2] = True
    flat = np.full((32, 32), 0.9)
    flat[3, 4] = -0.01
    linear = np.zeros((6, 32, 32))
    linear[1] = 1.0
    linear[2] = 1e-6
    files = {
        "signal": tmp_path / "FGS1_signal.parquet",
        "adc_info": tmp_path / "train_adc_info.csv",
        "dark": tmp_path / "dark.parquet",
        "dead": tmp_path / "dead.parquet",
        "flat": tmp_path / "flat.parquet",
        "linear_corr": tmp_path / "linear_corr.parquet",
    }
    formats.write_signal(files["signal"], raw)
    files["adc_info"].write_text(ADC_HEADER + f"7,{OFFSET},{GAIN},-1.0,1.0,0\n")
    for kind, values in (("dark", dark), ("dead", dead), ("flat", flat), ("linear_corr", linear)):
        formats.write_calibration(files[kind], values)
    axis = {name: np.zeros(2) for name in formats.AXIS_INFO_COLUMNS}
    axis["FGS1-axis0-h"] = (0.1 + 0.4 * np.arange(FRAMES // 2).repeat(2) + np.tile([0, 0.1], FRAMES // 2)) / 3600
    files["axis_info"] = tmp_path / "axis_info.parquet"
    formats.write_axis_info(files["axis_info"], axis, n_rows=FRAMES)
    return tmp_path, files, raw, dict(dark=dark, dead=dead, flat=flat, linear=linear)


def stage_files(root, stage):
    return {
        "cube": root / "stages" / f"{stage}.npy",
        "dq": root / "stages" / f"{stage}.dq.npy",
        "meta": root / "stages" / f"{stage}.json",
    }


def run_stage(root, stage, inputs, params=None, extra_outputs=None):
    outputs = {**stage_files(root, stage), **(extra_outputs or {})}
    if stage == "mask":
        del outputs["cube"]
    run_script(stage, input=inputs, output=outputs, params=params or {}, wildcards=WILDCARDS, log=root / f"{stage}.log")
    return outputs


def test_full_chain_of_stage_scripts(observation):
    root, files, raw, maps = observation
    columns = {"columns": [0, 32]}
    adc = run_stage(root, "adc", {"signal": files["signal"], "adc_info": files["adc_info"]}, columns)
    cube = np.load(adc["cube"])
    np.testing.assert_allclose(cube, raw.astype(np.float64) / GAIN + OFFSET, rtol=1e-7)
    meta = json.loads(adc["meta"].read_text())
    assert meta["gain"] == GAIN and meta["offset"] == OFFSET
    assert {r["path"] for r in meta["inputs"]} == {str(files["signal"]), str(files["adc_info"])}

    mask = run_stage(
        root,
        "mask",
        {"dq": adc["dq"], "dead": files["dead"], "dark": files["dark"]},
        {**columns, "sigma": 5, "maxiters": 5, "hot": "nan", "dead": "nan", "saturated": "nan"},
    )
    dq = np.load(mask["dq"])
    assert dq[1, 2] == DQ.DEAD | DQ.DO_NOT_USE and dq[5, 5] == DQ.HOT | DQ.DO_NOT_USE
    assert np.count_nonzero(dq) == 2

    lin = run_stage(root, "linearity", {"cube": adc["cube"], "dq": mask["dq"], "linear_corr": files["linear_corr"]}, columns)
    x = raw.astype(np.float64) / GAIN + OFFSET
    expected = x + 1e-6 * x**2
    got = np.load(lin["cube"])
    assert np.isnan(got[1, 2]).all() and np.isnan(got[5, 5]).all()
    good = ~np.isnan(got)
    np.testing.assert_allclose(got[good], expected[good], rtol=1e-6)

    dark = run_stage(
        root,
        "dark",
        {"cube": lin["cube"], "dq": lin["dq"], "dark": files["dark"], "axis_info": files["axis_info"]},
        {**columns, "second_read_extra_s": 0.1},
    )
    dt = np.tile([0.1, 0.2], FRAMES // 2)
    expected = expected - maps["dark"][:, :, None] * dt
    cds = run_stage(root, "cds", {"cube": dark["cube"], "dq": dark["dq"]})
    expected = expected[..., 1::2] - expected[..., ::2]
    binned = run_stage(
        root, "bin", {"cube": cds["cube"], "dq": cds["dq"]}, {"frames_per_bin": 2}, {"nvalid": root / "stages" / "nvalid.npy"}
    )
    expected = expected.reshape(32, 32, 2, 2).sum(axis=-1)
    assert np.load(root / "stages" / "nvalid.npy")[0, 0].tolist() == [2, 2]
    flat = run_stage(root, "flat", {"cube": binned["cube"], "dq": binned["dq"], "flat": files["flat"]}, columns)
    final_dq = np.load(flat["dq"])
    assert final_dq[3, 4] & DQ.NO_FLAT_FIELD and final_dq[3, 4] & DQ.DO_NOT_USE
    expected = expected / maps["flat"][:, :, None]
    got = np.load(flat["cube"])
    good = (final_dq & DQ.DO_NOT_USE) == 0
    assert np.isnan(got[~good]).all()
    # float32 storage of ~1e4 e- reads: compare relative to the product's scale, as the parity test.
    np.testing.assert_allclose(got[good], expected[good], rtol=1e-5, atol=1e-5 * np.abs(expected[good]).max())

    product = {
        "calibrated": root / "calibrated.npy",
        "dq": root / "dq.npy",
        "meta": root / "meta.json",
        "nvalid": root / "nvalid.npy",
    }
    run_script(
        "product",
        input={
            "cube": flat["cube"],
            "dq": flat["dq"],
            "stage_meta": [stage_files(root, s)["meta"] for s in ("adc", "mask", "linearity", "dark", "cds", "bin", "flat")],
            "axis_info": files["axis_info"],
            "nvalid": root / "stages" / "nvalid.npy",
        },
        output=product,
        params={"columns": [0, 32], "frames_per_bin": 2, "stages": [], "edition": 2024},
        wildcards=WILDCARDS,
        log=root / "product.log",
    )
    calibrated = np.load(product["calibrated"])
    assert calibrated.shape == (2, 32, 32)
    np.testing.assert_array_equal(calibrated, got.transpose(2, 1, 0))
    np.testing.assert_array_equal(np.load(product["dq"]), final_dq.T)
    meta = json.loads(product["meta"].read_text())
    # Bin centres: mean long-read stamps of the CDS frames in each bin (0.2, 0.6 s; 1.0, 1.4 s).
    np.testing.assert_allclose(np.array(meta["time_h"]) * 3600, [0.4, 1.2])
    assert meta["excluded_pixels"] == 3 and meta["wavelength_um"] is None


@pytest.mark.parametrize(("action", "expected"), [("nan", DQ.SATURATED | DQ.DO_NOT_USE), ("flag", DQ.SATURATED)])
def test_mask_excludes_saturated_pixels(observation, action, expected):
    root, files, _, _ = observation
    adc_dq = np.zeros((32, 32), np.uint32)
    adc_dq[9, 9] = DQ.SATURATED
    (root / "stages").mkdir(exist_ok=True)
    np.save(root / "stages" / "adc.dq.npy", adc_dq)
    params = {"columns": [0, 32], "sigma": 5, "maxiters": 5, "hot": "nan", "dead": "nan", "saturated": action}
    mask = run_stage(root, "mask", {"dq": root / "stages" / "adc.dq.npy", "dead": files["dead"], "dark": files["dark"]}, params)
    assert np.load(mask["dq"])[9, 9] == expected


def test_outliers_stage_rejects_a_hit(observation):
    root, files, _, _ = observation
    rng = np.random.default_rng(2)
    cds = rng.normal(500.0, 20.0, (32, 32, 40)).astype(np.float32)
    cds[4, 7, 33] += 2000.0  # a cosmic ray in the last block (frames 30..39)
    cds[1, 2] = np.nan  # an excluded pixel
    dq = np.zeros((32, 32), np.uint32)
    dq[1, 2] = DQ.DEAD | DQ.DO_NOT_USE
    (root / "stages").mkdir(exist_ok=True)
    np.save(root / "stages" / "cds.npy", cds)
    np.save(root / "stages" / "cds.dq.npy", dq)
    formats.write_calibration(root / "read.parquet", np.full((32, 32), 13.0))
    inputs = {"cube": root / "stages" / "cds.npy", "dq": root / "stages" / "cds.dq.npy", "read": root / "read.parquet"}
    out = run_stage(root, "outliers", inputs, {"columns": [0, 32], "threshold": 6.0, "window": 30})
    cube, out_dq = np.load(out["cube"]), np.load(out["dq"])
    assert np.isnan(cube[4, 7, 33]) and np.count_nonzero(np.isnan(cube)) == 40 + 1
    assert out_dq[4, 7] == DQ.JUMP_DET and out_dq[1, 2] == DQ.DEAD | DQ.DO_NOT_USE
    assert np.count_nonzero(out_dq) == 2
    meta = json.loads(out["meta"].read_text())
    assert meta["rejected_frames"] == 1 and meta["params"]["threshold"] == 6.0


def test_bad_input_fails_with_the_file_named_and_no_output(observation):
    root, files, _, _ = observation
    files["adc_info"].write_text(ADC_HEADER + f"8,{OFFSET},{GAIN},-1.0,1.0,0\n")
    outputs = stage_files(root, "adc")
    with pytest.raises(SystemExit) as err:
        run_stage(root, "adc", {"signal": files["signal"], "adc_info": files["adc_info"]}, {"columns": [0, 32]})
    assert str(files["adc_info"]) in str(err.value) and "planet_id 7" in str(err.value)
    assert not any(p.exists() for p in outputs.values())
    assert "planet_id 7" in (root / "adc.log").read_text()


def test_truncated_signal_is_reported(observation):
    root, files, _, _ = observation
    data = files["signal"].read_bytes()
    files["signal"].write_bytes(data[: len(data) // 2])
    with pytest.raises(SystemExit) as err:
        run_stage(root, "adc", {"signal": files["signal"], "adc_info": files["adc_info"]}, {"columns": [0, 32]})
    assert str(files["signal"]) in str(err.value)
    assert not stage_files(root, "adc")["cube"].exists()
