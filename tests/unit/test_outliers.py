"""Temporal-outlier rejection on CDS frames (issue 13): exact answers on tiny series, the fused
kernel bit-equal to the staged function, and the targets on simulated cosmic rays: >= 99 % of the
hits above 10 sigma rejected, at most 1e-5 of the frames of data without hits."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from arielcal import calib, fused, simulate
from arielcal.dq import DQ
from arielcal.instruments import AIRS


def _one(series, read=1.0, **kwargs):
    cube = np.asarray(series, dtype=np.float32)[None, None, :]
    out, rejected = calib.reject_outliers(cube, np.full((1, 1), read), **kwargs)
    return out[0, 0], int(rejected[0, 0])


def test_a_spike_is_rejected_by_hand():
    # sorted 9 10 10 10 11 500: median 10, |x - 10| sorted 0 0 0 1 1 490: MAD 0.5 -> 0.7413;
    # floor sqrt(2 * 1 + 10) = 3.464 wins; limit 6 x 3.464 = 20.8: only 500 goes.
    out, n = _one([10, 11, 9, 10, 500, 10], window=6)
    assert n == 1 and np.isnan(out[4]) and out[[0, 1, 2, 3, 5]].tolist() == [10, 11, 9, 10, 10]


def test_out_receives_the_cleaned_cube_and_the_input_is_untouched():
    cube = np.array([[[10, 11, 9, 10, 500, 10]]], dtype=np.float32)
    out = np.full(cube.shape, -1.0, dtype=np.float32)
    got, rejected = calib.reject_outliers(cube, np.full((1, 1), 1.0), window=6, out=out)
    assert got is out and int(rejected[0, 0]) == 1 and np.isnan(out[0, 0, 4]) and cube[0, 0, 4] == 500
    with pytest.raises(ValueError, match="C-contiguous"):
        calib.reject_outliers(cube, np.full((1, 1), 1.0), out=np.empty((1, 1, 12), np.float32)[..., ::2])


def test_the_noise_floor_and_the_robust_spread():
    floor = math.sqrt(2 * 4.0**2 + 100.0)  # read 4 e-, median 100 e-
    out, n = _one([100.0] * 9 + [100.0 + 5.9 * floor], read=4.0, window=10)
    assert n == 0  # MAD 0: the floor decides, 5.9 < 6
    out, n = _one([100.0] * 9 + [100.0 + 6.1 * floor], read=4.0, window=10)
    assert n == 1 and np.isnan(out[-1])
    # A wide block: the robust spread (1.4826 MAD) sets sigma, the same jump stays.
    wide = [100.0 + 40.0 * (-1) ** i for i in range(9)] + [100.0 + 6.1 * floor]
    out, n = _one(wide, read=4.0, window=10)
    assert n == 0 and np.isfinite(out).all()
    # A pixel of unknown read noise is left alone.
    out, n = _one([10.0, 10.0, 10.0, 10.0, 11.0, 9.0, 10.0, 3000.0], read=np.nan, window=8)
    assert n == 0 and out[-1] == 3000


def test_blocks_nan_frames_and_short_blocks():
    assert calib.outlier_blocks(7, 3).tolist() == [0, 3, 7]  # the remainder joins the last block
    assert calib.outlier_blocks(2, 3).tolist() == [0, 2]
    with pytest.raises(ValueError, match="outliers: window must be >= 3 frames, got 2"):
        calib.outlier_blocks(10, 2)
    # NaN frames are not counted; a block with fewer than 3 finite frames is left alone.
    out, n = _one([np.nan, 10.0, np.nan, 900.0], window=4)
    assert n == 0 and out[1] == 10 and out[3] == 900
    out, n = _one([np.nan, 10.0, 10.0, 900.0, 10.0, 10.0, 10.0], window=3)  # blocks [0,3) [3,7)
    assert n == 1 and np.isnan(out[3]) and np.isnan(out[0])
    with pytest.raises(ValueError, match=r"read: expected a \(rows, cols\) map of shape \(1, 1\), got \(2,\)"):
        calib.reject_outliers(np.zeros((1, 1, 5), np.float32), np.zeros(2))
    assert calib.outlier_dq(np.array([[0, 3]])).tolist() == [[0, int(DQ.JUMP_DET)]]


def _noisy(rng, rows, cols, frames, level=2000.0, read=13.0):
    cube = level + rng.normal(0, math.sqrt(2 * read**2 + level), (rows, cols, frames))
    return cube.astype(np.float32), np.full((rows, cols), read)


@pytest.mark.parametrize(("frames", "window"), [(90, 30), (97, 30), (20, 30), (64, 7)])
def test_fused_kernel_rejects_the_same_frames_bit_for_bit(frames, window):
    rng = np.random.default_rng(frames)
    rows, cols = 4, 5
    raw = rng.normal(3000, 60, (rows, cols, 2 * frames))
    raw[..., 0::2] = rng.normal(1000, 14, (rows, cols, frames))
    spikes = rng.integers(0, frames, 12)
    raw[rng.integers(0, rows, 12), rng.integers(0, cols, 12), 2 * spikes + 1] += rng.uniform(300, 3000, 12)
    raw = np.clip(np.rint(raw), 0, 65535).astype(np.uint16)
    raw[0, 0, 5] = 65535  # a NaN frame inside a block
    maps = {
        "dead": np.zeros((rows, cols), bool),
        "dark": np.full((rows, cols), 0.01),
        "flat": np.full((rows, cols), 1.0),
        "linear_corr": np.zeros((6, rows, cols)),
        "read": np.full((rows, cols), 13.0),
    }
    maps["dead"][3, 4] = True
    maps["read"][1, 1] = np.nan
    dt = np.tile([0.1, 4.6], frames)
    for stages in ({"outliers", "bin", "mask"}, {"outliers"}, {"outliers", "dark", "bin", "flat"}):
        settings = fused.Settings(
            stages=frozenset(stages), frames_per_bin=5, outlier_window=window, saturated_action="flag"
        )
        cube, dq = calib.adc_invert(raw, 0.5, -100.0)
        if "mask" in stages:
            dq |= calib.pixel_dq(maps["dead"], maps["dark"])
            cube = calib.exclude_flagged(cube, dq)
        if "dark" in stages:
            dq |= calib.dark_dq(maps["dark"])
            cube = calib.exclude_flagged(calib.subtract_dark(cube, maps["dark"], dt), dq)
        cube = calib.exclude_flagged(calib.cds(cube), dq)
        cube, rejected = calib.reject_outliers(cube, maps["read"], window=window)
        dq |= calib.outlier_dq(rejected)
        n_valid = None
        if "bin" in stages:
            cube, n_valid = calib.bin_frames(cube, 5)
        if "flat" in stages:
            cube, dq = calib.flat_field(cube, maps["flat"], dq)
        cube = calib.exclude_flagged(cube, dq)
        stats = {}
        got, got_dq, got_nv = fused.calibrate(raw, 0.5, -100.0, dt, maps, settings, threads=2, stats=stats)
        np.testing.assert_array_equal(got, cube)
        np.testing.assert_array_equal(got_dq, dq)
        if n_valid is not None:
            np.testing.assert_array_equal(got_nv, n_valid)
        assert stats == {"outliers": {"rejected_frames": int(rejected.sum())}} and rejected.sum() > 0


def test_fused_without_outliers_is_unchanged_and_needs_no_read_map():
    rng = np.random.default_rng(5)
    raw = rng.integers(1000, 1100, (3, 4, 40), dtype=np.uint16)
    maps = {
        "dead": np.zeros((3, 4), bool),
        "dark": np.full((3, 4), 0.01),
        "flat": np.ones((3, 4)),
        "linear_corr": np.zeros((6, 3, 4)),
    }
    dt = np.tile([0.1, 4.6], 20)
    settings = fused.Settings(stages=frozenset({"bin"}), frames_per_bin=5)
    cube, dq, _ = fused.calibrate(raw, 1.0, 0.0, dt, maps, settings)
    assert not (dq & DQ.JUMP_DET).any()
    with pytest.raises(ValueError, match="the outliers stage needs the read-noise map"):
        fused.calibrate(raw, 1.0, 0.0, dt, maps, fused.Settings(frames_per_bin=5))


def _simulated_cds(cfg):
    """The CDS frames (e-) of a simulated AIRS observation through the staged calib functions,
    with the model that made it."""
    ((_, pid, _),) = simulate.planets(cfg)
    model = simulate.observation_model(cfg, simulate.planet(cfg, pid), 0, AIRS)
    raw, _ = simulate.simulate_frames(model, simulate._rng(cfg, "noise", pid, 0, AIRS.name))
    maps = model.maps
    cube, dq = calib.adc_invert(raw, model.gain, model.offset)
    dq |= calib.pixel_dq(maps["dead"], maps["dark"])
    coeffs, lin_dq = calib.clean_linearity_coefficients(maps["linear_corr"])
    cube = calib.exclude_flagged(calib.apply_linearity(cube, coeffs), dq | lin_dq)
    dt = np.tile([AIRS.short_read_s, AIRS.long_read_s], raw.shape[-1] // 2)
    cube = calib.cds(calib.subtract_dark(cube, maps["dark"], dt))
    return model, calib.exclude_flagged(cube, dq), maps["read"]


def test_targets_on_simulated_cosmic_rays():
    cfg = simulate.SimulationConfig(
        airs_frames=600, train_planets=1, test_planets=0, cosmic_rays=True, cosmic_ray_rate=2e-4
    )
    model, cds, read = _simulated_cds(cfg)
    out, rejected = calib.reject_outliers(cds, read)
    hits = model.hits
    in_cds = hits.reads(AIRS) == 1
    row, col, pair = hits.pixel[in_cds] // AIRS.cols, hits.pixel[in_cds] % AIRS.cols, hits.pair[in_cds]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # dead pixels: all NaN
        signal = np.nanmedian(cds, axis=-1)[row, col]
    sigma = np.sqrt(2 * read[row, col] ** 2 + np.maximum(signal, 0))
    strong = (hits.charge_e[in_cds] > 10 * sigma) & np.isfinite(cds[row, col, pair])
    caught = np.isnan(out[row, col, pair])
    assert strong.sum() > 1500 and caught[strong].mean() >= 0.99
    hit_frames = np.zeros(cds.shape, bool)
    hit_frames[row, col, pair] = True
    false = np.isnan(out) & np.isfinite(cds) & ~hit_frames
    assert false.sum() <= 1e-5 * np.isfinite(cds).sum()


def test_no_hits_few_rejections_with_every_other_systematic():
    cfg = simulate.SimulationConfig(airs_frames=600, train_planets=1, test_planets=0, realistic=True, cosmic_rays=False)
    _, cds, read = _simulated_cds(cfg)
    out, rejected = calib.reject_outliers(cds, read)
    assert rejected.sum() <= 1e-5 * np.isfinite(cds).sum()


def test_inpainting_fills_along_the_columns():
    product = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3) * 2.0  # (time, column, row)
    product[:, 2, 1] = np.nan  # an excluded pixel: between columns 1 and 3 of its row
    product[:, 0, 0] = np.nan  # at an edge: the nearest column
    product[1, :, 2] = np.nan  # a whole line: stays NaN
    filled = calib.inpaint_columns(product)
    assert filled.dtype == np.float32 and np.isnan(product[:, 2, 1]).all()  # the input is untouched
    assert filled[:, 2, 1].tolist() == [
        (product[0, 1, 1] + product[0, 3, 1]) / 2,
        (product[1, 1, 1] + product[1, 3, 1]) / 2,
    ]
    assert filled[:, 0, 0].tolist() == product[:, 1, 0].tolist()
    assert np.isnan(filled[1, :, 2]).all() and np.isfinite(np.delete(filled, 2, axis=2)).all()
    finite = np.isfinite(product)
    np.testing.assert_array_equal(filled[finite], product[finite])
    with pytest.raises(ValueError, match=r"expected a \(time, column, row\) product, got shape \(5, 3\)"):
        calib.inpaint_columns(product[0])
