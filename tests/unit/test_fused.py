"""The fused pipeline (compiled kernel) equals the staged chain of calib functions, for every stage switch."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from arielcal import calib, fused
from arielcal.dq import DQ


def _observation(rng, rows=5, cols=7, frames=24):
    raw = rng.integers(300, 30000, size=(rows, cols, frames), dtype=np.uint16)
    raw[0, 0, 3] = 65535
    dark = rng.uniform(0.005, 0.01, (rows, cols))
    dark[2, 3] = 40.0
    dark[0, 5] = np.nan
    dead = np.zeros((rows, cols), bool)
    dead[1, 1] = True
    flat = rng.uniform(0.9, 1.1, (rows, cols))
    flat[4, 6] = -0.02
    linear = np.zeros((6, rows, cols))
    linear[0], linear[1], linear[2] = 0.14, 0.9999, -5.7e-9
    linear[:, 3, 3] = np.nan
    maps = {"dead": dead, "dark": dark, "flat": flat, "linear_corr": linear, "read": rng.uniform(10, 16, (rows, cols))}
    dt = np.tile([0.1, 4.6], frames // 2)
    return raw, maps, dt


def staged(raw, gain, offset, dt, maps, settings):
    """The staged rules' sequence: each stage stores float32 and syncs NaN with DQ."""
    on = settings.stages
    cube, dq = calib.adc_invert(raw, gain, offset)
    if "mask" in on:
        dq |= calib.pixel_dq(maps["dead"], maps["dark"], sigma=settings.sigma, maxiters=settings.maxiters)
        dq |= calib.saturated_dq(dq, settings.saturated_action)
    if "linearity" in on:
        coeffs, lin_dq = calib.clean_linearity_coefficients(maps["linear_corr"])
        dq |= lin_dq
        cube = calib.exclude_flagged(calib.apply_linearity(cube, coeffs), dq)
    if "dark" in on:
        dq |= calib.dark_dq(maps["dark"])
        cube = calib.exclude_flagged(calib.subtract_dark(cube, maps["dark"], dt), dq)
    cube = calib.exclude_flagged(calib.cds(cube), dq)
    if "outliers" in on:
        cube, rejected = calib.reject_outliers(cube, maps["read"], settings.outlier_threshold, settings.outlier_window)
        dq |= calib.outlier_dq(rejected)
    n_valid = None
    if "bin" in on:
        cube, n_valid = calib.bin_frames(cube, settings.frames_per_bin)
    if "flat" in on:
        cube, dq = calib.flat_field(cube, maps["flat"], dq)
    return calib.exclude_flagged(cube, dq), dq, n_valid


SWITCHES = [frozenset(c) for n in (0, 2, 5) for c in itertools.combinations(fused.SWITCHABLE, n)]


@pytest.mark.parametrize("stages", SWITCHES, ids=lambda s: "+".join(sorted(s)) or "none")
def test_fused_equals_staged_bit_for_bit(stages):
    # Bins of fewer than 8 frames: numpy's pairwise sum is then sequential too, so every value
    # must agree to the bit.
    raw, maps, dt = _observation(np.random.default_rng(3))
    settings = fused.Settings(stages=stages, frames_per_bin=4)
    expected, expected_dq, expected_nv = staged(raw, 0.93, -800.0, dt, maps, settings)
    for threads in (1, 2, 3):
        cube, dq, n_valid = fused.calibrate(raw, 0.93, -800.0, dt, maps, settings, threads=threads)
        np.testing.assert_array_equal(cube, expected)
        np.testing.assert_array_equal(dq, expected_dq)
        if "bin" in stages:
            np.testing.assert_array_equal(n_valid, expected_nv)
        else:
            assert n_valid is None


def test_fused_flags_and_shapes():
    raw, maps, dt = _observation(np.random.default_rng(4))
    flag = fused.Settings(frames_per_bin=4, saturated_action="flag")
    cube, dq, n_valid = fused.calibrate(raw, 0.93, -800.0, dt, maps, flag)
    assert cube.shape == (5, 7, 3) and cube.dtype == np.float32
    assert dq[1, 1] & DQ.DEAD and dq[2, 3] & DQ.HOT and dq[3, 3] & DQ.NO_LIN_CORR
    assert dq[0, 0] & DQ.SATURATED and n_valid[0, 0].tolist() == [3, 4, 4]
    assert dq[4, 6] & DQ.NO_FLAT_FIELD and np.isnan(cube[4, 6]).all()
    assert dq[0, 5] & DQ.UNRELIABLE_DARK and np.isnan(cube[0, 5]).all()
    assert np.isfinite(cube[0, 0]).all()  # one saturated frame costs one CDS frame, not the pixel
    # bad_pixels.saturated: nan (the default) excludes the pixel: no valid frame, NaN, flagged.
    cube, dq, n_valid = fused.calibrate(raw, 0.93, -800.0, dt, maps, fused.Settings(frames_per_bin=4))
    assert dq[0, 0] == DQ.SATURATED | DQ.DO_NOT_USE and np.isnan(cube[0, 0]).all()
    assert n_valid[0, 0].tolist() == [0, 0, 0] and n_valid[0, 1].tolist() == [4, 4, 4]


@pytest.mark.parametrize("frames_per_bin", [30, 360])
def test_fused_equals_staged_with_competition_bin_sizes(frames_per_bin):
    """numpy sums bins of >= 8 frames pairwise, the kernel sequentially: equal to 1e-6 relative."""
    raw, maps, dt = _observation(np.random.default_rng(5), rows=5, cols=7, frames=2 * frames_per_bin * 3)
    raw[1, 2, 7] = 0  # a NaN frame inside a bin: mean of the valid frames times the bin size
    settings = fused.Settings(frames_per_bin=frames_per_bin)
    expected, expected_dq, expected_nv = staged(raw, 0.93, -800.0, dt, maps, settings)
    cube, dq, n_valid = fused.calibrate(raw, 0.93, -800.0, dt, maps, settings, threads=2)
    np.testing.assert_allclose(cube, expected, rtol=1e-6, atol=0)
    np.testing.assert_array_equal(dq, expected_dq)
    np.testing.assert_array_equal(n_valid, expected_nv)
    assert dq[1, 2] & DQ.AD_FLOOR and n_valid[1, 2].tolist() == [frames_per_bin - 1] + [frames_per_bin] * 2


@pytest.mark.parametrize("degree", [1, 2, 5])
def test_lower_degree_polynomials_are_padded_exactly(degree):
    raw, maps, dt = _observation(np.random.default_rng(6))
    rng = np.random.default_rng(degree)
    linear = rng.normal(0, 1e-3, (degree + 1, 5, 7))
    linear[1] += 1.0
    maps["linear_corr"] = linear
    settings = fused.Settings(stages=frozenset({"linearity"}), frames_per_bin=4)
    expected, _, _ = staged(raw, 0.93, -800.0, dt, maps, settings)
    cube, _, _ = fused.calibrate(raw, 0.93, -800.0, dt, maps, settings)
    np.testing.assert_array_equal(cube, expected)


def test_polynomials_above_degree_five_are_refused():
    raw, maps, dt = _observation(np.random.default_rng(7))
    maps["linear_corr"] = np.zeros((7, 5, 7))
    with pytest.raises(ValueError, match="up to degree 5, got degree 6"):
        fused.calibrate(raw, 0.93, -800.0, dt, maps, fused.Settings(frames_per_bin=4))


def test_bad_shapes_are_refused():
    raw, maps, dt = _observation(np.random.default_rng(8))
    with pytest.raises(ValueError, match="positive even number of frames"):
        fused.calibrate(raw[..., :-1], 0.93, -800.0, dt[:-1], maps, fused.Settings(frames_per_bin=4))
    with pytest.raises(ValueError, match="positive even number of frames"):
        fused.calibrate(raw[..., :0], 0.93, -800.0, dt[:0], maps, fused.Settings(frames_per_bin=4))
    with pytest.raises(ValueError, match="one integration time per frame"):
        fused.calibrate(raw, 0.93, -800.0, dt[:-2], maps, fused.Settings(frames_per_bin=4))
    with pytest.raises(ValueError, match="uint16"):
        fused.calibrate(raw.astype(np.int32), 0.93, -800.0, dt, maps, fused.Settings(frames_per_bin=4))
