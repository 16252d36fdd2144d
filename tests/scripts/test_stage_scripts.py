"""Each scripts/<stage>.py run with a fake ``snakemake`` object on hand-made tiny observations.

Every expected value is computed here by hand from the format description
(/work/shared/docs/ariel-data.md): value = raw / gain + offset, P(x) constant term first, dark
current times the integration time of each read (AIRS 0.1 / 4.5 s from axis_info, FGS1 0.1 s,
``second_read_extra_s`` on the second read of each pair), CDS = second minus first read, sums of
N CDS frames, division by the flat. No function of arielcal computes an expected value.

Tolerances are per value: the pipeline stores float32 between stages, so each value may differ
from the float64 hand computation by a few float32 roundings of the reads that enter it. The
bound is ``RTOL`` times the *magnitude* of those reads (the same chain applied to absolute
values, without cancellation), never a fraction of a cube's maximum. The dark is large (~100
e-/s, 10 e- per FGS1 CDS frame, against a bound of ~0.006 e-), so its sign, its factor and the
read it is applied to all change the result far beyond the bound.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from astropy.stats import sigma_clip
from conftest import run_script

from arielcal import formats
from arielcal.dq import DQ

GAIN, OFFSET = 0.5, -100.0
FRAMES = 8
WILDCARDS = {"split": "train", "planet": "7", "visit": "0", "instrument": "FGS1"}
ADC_HEADER = "planet_id,FGS1_adc_offset,FGS1_adc_gain,AIRS-CH0_adc_offset,AIRS-CH0_adc_gain,star\n"
# float32 storage after each of ~6 stages: <= 6 x 2^-24 = 3.6e-7 of the magnitude, with margin.
RTOL = 1e-6
# Integration times by hand from the format description (doc 0 and 1.6): AIRS axis_info says
# 0.1 s (short read) and 4.5 s (long read); the notebook uses 0.1 s for every FGS1 frame; the
# 29 Aug 2024 notebook adds second_read_extra_s = 0.1 s to the long read.
HAND_DT = {
    ("AIRS-CH0", 0.1): (0.1, 4.6),
    ("AIRS-CH0", 0.0): (0.1, 4.5),
    ("FGS1", 0.1): (0.1, 0.2),
    ("FGS1", 0.0): (0.1, 0.1),
}
STAGES = ("adc", "mask", "linearity", "dark", "cds", "bin", "flat")
HOT, GRADED, DEAD_PIXEL, BAD_FLAT = (5, 5), (9, 20), (1, 2), (3, 4)


def graded_dark(rng, shape):
    """A dark of ~100 e-/s (sd 5) with one hot pixel (5000) and one pixel between the 5 and 6
    sigma bounds of astropy's clip (the notebook's hot-pixel rule), so the sigma matters."""
    dark = rng.normal(100.0, 5.0, shape)
    dark[HOT] = 5000.0
    core = np.delete(dark.ravel(), np.ravel_multi_index(HOT, shape))
    dark[GRADED] = np.median(core) + 5.5 * core.std()
    # The premise, checked with astropy itself: flagged at 5 sigma, kept at 6.
    assert sigma_clip(dark, sigma=5, maxiters=5).mask[GRADED]
    assert not sigma_clip(dark, sigma=6, maxiters=5).mask[GRADED]
    return dark


@pytest.fixture
def observation(tmp_path):
    """A 32 x 32 x 8 FGS1 observation: dead pixel, hot pixel, graded pixel, negative flat."""
    rng = np.random.default_rng(1)
    raw = rng.integers(1000, 2000, size=(32, 32, FRAMES), dtype=np.uint16)
    dark = graded_dark(rng, (32, 32))
    dead = np.zeros((32, 32), bool)
    dead[DEAD_PIXEL] = True
    flat = rng.uniform(0.8, 1.2, (32, 32))
    flat[BAD_FLAT] = -0.01
    linear = np.zeros((6, 32, 32))
    linear[0] = 3.0
    linear[1] = rng.uniform(0.98, 1.02, (32, 32))
    linear[2] = 1e-6
    files = {
        "signal": tmp_path / "FGS1_signal.parquet",
        "adc_info": tmp_path / "train_adc_info.csv",
        "dark": tmp_path / "dark.parquet",
        "dead": tmp_path / "dead.parquet",
        "flat": tmp_path / "flat.parquet",
        "linear_corr": tmp_path / "linear_corr.parquet",
        "read": tmp_path / "read.parquet",
    }
    formats.write_signal(files["signal"], raw)
    files["adc_info"].write_text(ADC_HEADER + f"7,{OFFSET},{GAIN},-1.0,1.0,0\n")
    read = np.full((32, 32), 10.0)  # read noise (e-), the outlier stage's noise floor
    for kind, values in (("dark", dark), ("dead", dead), ("flat", flat), ("linear_corr", linear), ("read", read)):
        formats.write_calibration(files[kind], values)
    files["axis_info"] = tmp_path / "axis_info.parquet"
    formats.write_axis_info(files["axis_info"], axis_columns(FRAMES), n_rows=FRAMES)
    return tmp_path, files, raw, dict(dark=dark, dead=dead, flat=flat, linear=linear)


def axis_columns(frames):
    """axis_info as the doc describes it (1.6): AIRS integration times 0.1, 4.5, ...; FGS1 stamps
    0.1, 0.2, 0.5, 0.6, ... s (pairs every 0.4 s), in hours."""
    axis = {name: np.zeros(2) for name in formats.AXIS_INFO_COLUMNS}
    axis[formats.AXIS_INTEGRATION] = np.tile([0.1, 4.5], frames // 2)
    axis["FGS1-axis0-h"] = (0.1 + 0.4 * np.arange(frames // 2).repeat(2) + np.tile([0, 0.1], frames // 2)) / 3600
    return axis


def by_hand(raw, maps, extra_s=0.1, frames_per_bin=2):
    """The FGS1 chain in float64, and the magnitude of the reads entering each value."""
    c = maps["linear"]
    x = raw.astype(np.float64) / GAIN + OFFSET
    reads = c[0][..., None] + c[1][..., None] * x + c[2][..., None] * x**2
    even, odd = HAND_DT[("FGS1", extra_s)]
    dark = maps["dark"][..., None] * np.tile([even, odd], FRAMES // 2)
    value, magnitude = reads - dark, np.abs(reads) + np.abs(dark)
    value = value[..., 1::2] - value[..., ::2]
    magnitude = magnitude[..., 1::2] + magnitude[..., ::2]
    n_bins = value.shape[-1] // frames_per_bin
    value = value.reshape(32, 32, n_bins, frames_per_bin).sum(axis=-1)
    magnitude = magnitude.reshape(32, 32, n_bins, frames_per_bin).sum(axis=-1)
    divisor = np.where(maps["dead"], 1.0, maps["flat"])[..., None]  # dead pixels are not divided
    return value / divisor, magnitude / np.abs(divisor)


def assert_per_value(got, expected, magnitude, rtol=RTOL):
    error = np.abs(got.astype(np.float64) - expected)
    worst = np.unravel_index(np.argmax(error / magnitude), error.shape)
    assert np.all(error <= rtol * magnitude), (worst, got[worst], expected[worst], magnitude[worst])


def stage_files(root, stage):
    return {
        "cube": root / "stages" / f"{stage}.npy",
        "dq": root / "stages" / f"{stage}.dq.npy",
        "meta": root / "stages" / f"{stage}.json",
    }


def run_stage(root, stage, inputs, params=None, extra_outputs=None, wildcards=WILDCARDS):
    outputs = {**stage_files(root, stage), **(extra_outputs or {})}
    if stage == "mask":
        del outputs["cube"]
    run_script(stage, input=inputs, output=outputs, params=params or {}, wildcards=wildcards, log=root / f"{stage}.log")
    return outputs


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_full_chain_of_stage_scripts(observation):
    root, files, raw, maps = observation
    columns = {"columns": [0, 32]}
    adc = run_stage(root, "adc", {"signal": files["signal"], "adc_info": files["adc_info"]}, columns)
    np.testing.assert_allclose(np.load(adc["cube"]), raw.astype(np.float64) / GAIN + OFFSET, rtol=1.2e-7, atol=0)
    meta = json.loads(adc["meta"].read_text())
    assert meta["gain"] == GAIN and meta["offset"] == OFFSET and meta["raw_frames"] == FRAMES
    assert {r["path"]: r.get("sha256") for r in meta["inputs"]} == {
        str(files["signal"]): sha256(files["signal"]),
        str(files["adc_info"]): sha256(files["adc_info"]),
    }

    mask = run_stage(
        root,
        "mask",
        {"dq": adc["dq"], "dead": files["dead"], "dark": files["dark"]},
        {**columns, "sigma": 5, "maxiters": 5, "hot": "flag", "dead": "nan", "saturated": "nan"},
    )
    dq = np.load(mask["dq"])
    assert dq[DEAD_PIXEL] == DQ.DEAD | DQ.DO_NOT_USE and dq[HOT] == DQ.HOT and dq[GRADED] == DQ.HOT
    assert np.count_nonzero(dq) == 3

    lin = run_stage(
        root, "linearity", {"cube": adc["cube"], "dq": mask["dq"], "linear_corr": files["linear_corr"]}, columns
    )
    dark = run_stage(
        root,
        "dark",
        {"cube": lin["cube"], "dq": lin["dq"], "dark": files["dark"], "axis_info": files["axis_info"]},
        {**columns, "second_read_extra_s": 0.1},
    )
    assert json.loads(dark["meta"].read_text())["integration_time_s"] == {"even": 0.1, "odd": 0.2}
    cds = run_stage(root, "cds", {"cube": dark["cube"], "dq": dark["dq"]})
    binned = run_stage(
        root,
        "bin",
        {"cube": cds["cube"], "dq": cds["dq"]},
        {"frames_per_bin": 2},
        {"nvalid": root / "stages" / "nvalid.npy"},
    )
    n_valid = np.load(root / "stages" / "nvalid.npy")
    assert n_valid.shape == (32, 32, 2) and np.all(n_valid[~maps["dead"]] == 2)
    assert json.loads(binned["meta"].read_text())["dropped_frames"] == 0
    flat = run_stage(root, "flat", {"cube": binned["cube"], "dq": binned["dq"], "flat": files["flat"]}, columns)
    final_dq = np.load(flat["dq"])
    assert final_dq[BAD_FLAT] == DQ.NO_FLAT_FIELD | DQ.DO_NOT_USE
    assert final_dq[DEAD_PIXEL] == DQ.DEAD | DQ.DO_NOT_USE | DQ.NO_FLAT_FIELD
    got = np.load(flat["cube"])
    good = (final_dq & DQ.DO_NOT_USE) == 0
    assert np.isnan(got[~good]).all() and np.isfinite(got[good]).all() and good.sum() == 32 * 32 - 2
    expected, magnitude = by_hand(raw, maps)
    assert_per_value(got[good], expected[good], magnitude[good])

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
            "stage_meta": [stage_files(root, s)["meta"] for s in STAGES],
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
    np.testing.assert_array_equal(np.load(product["nvalid"]), n_valid.transpose(2, 1, 0))
    meta = json.loads(product["meta"].read_text())
    # Bin centres: mean long-read stamps of the CDS frames in each bin (0.2, 0.6 s; 1.0, 1.4 s).
    np.testing.assert_allclose(np.array(meta["time_h"]) * 3600, [0.4, 1.2], rtol=1e-12)
    assert meta["excluded_pixels"] == 2 and meta["wavelength_um"] is None
    assert [s["stage"] for s in meta["stages"]] == list(STAGES)
    assert meta["stages"][3]["integration_time_s"] == {"even": 0.1, "odd": 0.2}


def test_fused_script_equals_the_stage_chain(observation):
    """scripts/fused.py on the same files: the same hand-computed values, DQ and counts."""
    root, files, raw, maps = observation
    output = {
        name: root / "fused" / f"{name}.{ext}"
        for name, ext in (("calibrated", "npy"), ("dq", "npy"), ("nvalid", "npy"), ("meta", "json"))
    }
    run_script(
        "fused",
        input={k: files[k] for k in ("signal", "adc_info", "axis_info", "dead", "dark", "flat", "linear_corr", "read")},
        output=output,
        params={
            "columns": [0, 32],
            "stages": list(STAGES),
            "frames_per_bin": 2,
            "second_read_extra_s": 0.1,
            "sigma": 5,
            "maxiters": 5,
            "hot": "flag",
            "dead": "nan",
            "saturated": "nan",
            "outlier_threshold": 6.0,
            "outlier_window": 30,
        },
        wildcards=WILDCARDS,
        log=root / "fused.log",
    )
    got = np.load(output["calibrated"]).transpose(2, 1, 0)
    dq = np.load(output["dq"]).T
    assert dq[DEAD_PIXEL] == DQ.DEAD | DQ.DO_NOT_USE | DQ.NO_FLAT_FIELD and dq[HOT] == DQ.HOT == dq[GRADED]
    assert dq[BAD_FLAT] == DQ.NO_FLAT_FIELD | DQ.DO_NOT_USE and np.count_nonzero(dq) == 4
    good = (dq & DQ.DO_NOT_USE) == 0
    assert np.isnan(got[~good]).all()
    expected, magnitude = by_hand(raw, maps)
    assert_per_value(got[good], expected[good], magnitude[good])
    n_valid = np.load(output["nvalid"]).transpose(2, 1, 0)
    assert np.all(n_valid[good] == 2) and np.all(n_valid[maps["dead"]] == 0)


@pytest.mark.parametrize("instrument, extra_s", list(HAND_DT))
def test_dark_stage_by_hand(tmp_path, instrument, extra_s):
    """The dark stage alone, per frame: cube - dark * dt, with dt written out by hand for both
    instruments and both second_read_extra_s values, and recorded in the stage metadata."""
    width, columns = (356, [39, 321]) if instrument == "AIRS-CH0" else (32, [0, 32])
    n_cols = columns[1] - columns[0]
    rng = np.random.default_rng(2)
    dark_map = rng.normal(100.0, 5.0, (32, width))
    dark_map[3, columns[0] + 7] = np.nan  # not corrected, so excluded (UNRELIABLE_DARK)
    cube = rng.uniform(1000.0, 2000.0, (32, n_cols, FRAMES)).astype(np.float32)
    formats.save_npy(tmp_path / "in.npy", cube)
    formats.save_npy(tmp_path / "in.dq.npy", np.zeros((32, n_cols), np.uint32))
    formats.write_calibration(tmp_path / "dark.parquet", dark_map)
    formats.write_axis_info(tmp_path / "axis_info.parquet", axis_columns(FRAMES), n_rows=FRAMES)
    out = run_stage(
        tmp_path,
        "dark",
        {
            "cube": tmp_path / "in.npy",
            "dq": tmp_path / "in.dq.npy",
            "dark": tmp_path / "dark.parquet",
            "axis_info": tmp_path / "axis_info.parquet",
        },
        {"columns": columns, "second_read_extra_s": extra_s},
        wildcards={**WILDCARDS, "instrument": instrument},
    )
    even, odd = HAND_DT[(instrument, extra_s)]
    meta = json.loads(out["meta"].read_text())
    assert meta["integration_time_s"] == {"even": pytest.approx(even, abs=1e-12), "odd": pytest.approx(odd, abs=1e-12)}
    dark = dark_map[:, columns[0] : columns[1], None] * np.tile([even, odd], FRAMES // 2)
    got = np.load(out["cube"])
    dq = np.load(out["dq"])
    assert dq[3, 7] == DQ.UNRELIABLE_DARK | DQ.DO_NOT_USE and np.count_nonzero(dq) == 1
    assert np.isnan(got[3, 7]).all()
    good = np.isfinite(dark[..., 0])
    expected = cube.astype(np.float64) - dark
    # One float32 rounding of each result (values >= 500, no cancellation): 2^-24 relative.
    np.testing.assert_allclose(got[good], expected[good], rtol=1.2e-7, atol=0)


@pytest.mark.parametrize("hot", ["nan", "flag"])
def test_hot_pixels_by_hand(tmp_path, hot):
    """The mask stage flags exactly astropy's 5-sigma clip of the dark (the notebook's rule):
    the graded pixel between the 5 and 6 sigma bounds included; ``flag`` keeps hot pixels usable."""
    rng = np.random.default_rng(3)
    dark = graded_dark(rng, (32, 32))
    dead = np.zeros((32, 32), bool)
    dead[DEAD_PIXEL] = True
    formats.write_calibration(tmp_path / "dark.parquet", dark)
    formats.write_calibration(tmp_path / "dead.parquet", dead)
    formats.save_npy(tmp_path / "in.dq.npy", np.zeros((32, 32), np.uint32))
    out = run_stage(
        tmp_path,
        "mask",
        {"dq": tmp_path / "in.dq.npy", "dead": tmp_path / "dead.parquet", "dark": tmp_path / "dark.parquet"},
        {"columns": [0, 32], "sigma": 5, "maxiters": 5, "hot": hot, "dead": "nan", "saturated": "nan"},
    )
    dq = np.load(out["dq"])
    expected_hot = sigma_clip(dark, sigma=5, maxiters=5).mask
    assert expected_hot.sum() == 2
    np.testing.assert_array_equal((dq & DQ.HOT) != 0, expected_hot)
    np.testing.assert_array_equal((dq & DQ.DEAD) != 0, dead)
    np.testing.assert_array_equal((dq & DQ.DO_NOT_USE) != 0, dead | (expected_hot if hot == "nan" else False))
    assert json.loads(out["meta"].read_text())["dq_counts"]["HOT"] == 2


@pytest.mark.parametrize(("action", "expected"), [("nan", DQ.SATURATED | DQ.DO_NOT_USE), ("flag", DQ.SATURATED)])
def test_mask_excludes_saturated_pixels(observation, action, expected):
    root, files, _, _ = observation
    adc_dq = np.zeros((32, 32), np.uint32)
    adc_dq[9, 9] = DQ.SATURATED
    (root / "stages").mkdir(exist_ok=True)
    np.save(root / "stages" / "adc.dq.npy", adc_dq)
    params = {"columns": [0, 32], "sigma": 5, "maxiters": 5, "hot": "nan", "dead": "nan", "saturated": action}
    mask = run_stage(
        root, "mask", {"dq": root / "stages" / "adc.dq.npy", "dead": files["dead"], "dark": files["dark"]}, params
    )
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


def test_a_stage_failing_after_its_cube_map_was_filled_leaves_no_file(observation):
    """Stages compute straight into a memory map of their output (Step.cube_out): a failure
    after it was filled (here the input DQ map, damaged) leaves neither the cube nor the
    temporary file behind it."""
    root, files, _, _ = observation
    columns = {"columns": [0, 32]}
    adc = run_stage(root, "adc", {"signal": files["signal"], "adc_info": files["adc_info"]}, columns)
    dq = adc["dq"].read_bytes()
    adc["dq"].write_bytes(dq[: len(dq) - 8])
    with pytest.raises(SystemExit) as err:
        run_stage(
            root, "linearity", {"cube": adc["cube"], "dq": adc["dq"], "linear_corr": files["linear_corr"]}, columns
        )
    assert str(adc["dq"]) in str(err.value)
    assert sorted(p.name for p in (root / "stages").iterdir()) == ["adc.dq.npy", "adc.json", "adc.npy"]
