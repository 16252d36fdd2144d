"""Unit tests of arielcal.calib: tiny arrays with exact answers, astropy as the sigma-clip oracle,
hypothesis properties, and parity with the notebook reimplementation on a small realistic cube."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.stats import sigma_clip
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from arielcal import calib
from arielcal.dq import DQ

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from notebook_reference import notebook_calibrate

F32 = np.float32
U = np.uint32
HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cube345(dtype=F32, start=0.0):
    return (np.arange(60, dtype=np.float64).reshape(3, 4, 5) + start).astype(dtype)


def readonly(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


# --------------------------------------------------------------------------- ADC


def test_adc_exact_values_and_sentinels():
    raw = np.array([[[0, 10, 65535, 20]], [[1, 2, 3, 4]]], dtype=np.uint16)  # (2, 1, 4)
    cube, dq = calib.adc_invert(readonly(raw), 0.5, -10.0)
    assert cube.dtype == F32 and cube.shape == raw.shape and dq.dtype == U and dq.shape == (2, 1)
    assert np.isnan(cube[0, 0, 0]) and np.isnan(cube[0, 0, 2])
    np.testing.assert_array_equal(cube[0, 0, [1, 3]], [10.0, 30.0])
    np.testing.assert_array_equal(cube[1, 0], [-8.0, -6.0, -4.0, -2.0])
    assert dq[0, 0] == DQ.SATURATED | DQ.AD_FLOOR  # descriptive only: no DO_NOT_USE
    assert dq[1, 0] == 0


def test_adc_only_saturated():
    raw = np.full((1, 2, 3), 500, dtype=np.uint16)
    raw[0, 1, 2] = 65535
    cube, dq = calib.adc_invert(raw, 1.0, 0.0)
    assert dq.tolist() == [[0, int(DQ.SATURATED)]]
    assert np.isnan(cube).sum() == 1


def test_adc_is_float64_arithmetic_rounded_once():
    rng = np.random.default_rng(0)
    raw = rng.integers(1, 65535, (3, 4, 50)).astype(np.uint16)
    gain, offset = 0.9247461003693224, -778.9165332747325
    expected = (raw.astype(np.float64) / gain + offset).astype(F32)
    cube, _ = calib.adc_invert(raw, gain, offset)
    np.testing.assert_array_equal(cube, expected)
    # polars-style (1, 1) ADC constants broadcast as scalars
    cube2, _ = calib.adc_invert(raw, np.array([[gain]]), np.array([[offset]]))
    np.testing.assert_array_equal(cube2, expected)
    out64 = np.empty(raw.shape)
    calib.adc_invert(raw, gain, offset, out=out64)
    np.testing.assert_array_equal(out64, raw / gain + offset)


def test_adc_rejects_non_uint16_and_bad_constants():
    with pytest.raises(ValueError, match="uint16"):
        calib.adc_invert(np.zeros((1, 1, 2), dtype=np.int32), 1.0, 0.0)
    with pytest.raises(ValueError):
        calib.adc_invert(np.zeros((1, 1, 2), dtype=np.uint16), 0.0, 0.0)
    with pytest.raises(ValueError):
        calib.adc_invert(np.zeros((1, 2), dtype=np.uint16), 1.0, 0.0)


# --------------------------------------------------------------------------- sigma clip


def astropy_mask(values, sigma=5.0, maxiters=5):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.ma.getmaskarray(sigma_clip(values, sigma=sigma, maxiters=maxiters))


@pytest.mark.parametrize("n", [24, 25, 100, 101, 1024, 11392])
@pytest.mark.parametrize("seed", [0, 1])
def test_sigma_clip_random_matches_astropy(n, seed):
    rng = np.random.default_rng(seed)
    values = rng.lognormal(-5, 0.4, n)
    values[rng.choice(n, max(1, n // 100), replace=False)] *= rng.uniform(5, 500)
    np.testing.assert_array_equal(calib.sigma_clip_mask(values), astropy_mask(values))
    np.testing.assert_array_equal(calib.sigma_clip_mask(values, sigma=3), astropy_mask(values, sigma=3))
    np.testing.assert_array_equal(
        calib.sigma_clip_mask(values, sigma=2, maxiters=1), astropy_mask(values, sigma=2, maxiters=1)
    )


def test_sigma_clip_2d_constant_and_all_nan():
    dark = np.full((32, 282), 0.0065)
    assert not calib.sigma_clip_mask(dark).any()
    np.testing.assert_array_equal(calib.sigma_clip_mask(dark), astropy_mask(dark))
    nan = np.full((3, 4), np.nan)
    assert calib.sigma_clip_mask(nan).all()
    np.testing.assert_array_equal(calib.sigma_clip_mask(nan), astropy_mask(nan))
    assert calib.sigma_clip_mask(dark).shape == (32, 282)


@pytest.mark.parametrize("n, clipped", [(20, False), (23, False), (24, True), (30, True)])
def test_sigma_clip_single_outlier_needs_24_values(n, clipped):
    values = np.zeros(n)
    values[3] = 1.0
    mask = calib.sigma_clip_mask(values)
    assert bool(mask[3]) is clipped and mask.sum() == int(clipped)
    np.testing.assert_array_equal(mask, astropy_mask(values))


def test_sigma_clip_non_finite_always_masked_and_low_tail():
    values = np.r_[np.linspace(-0.01, 0.01, 200), 1.0, -1.0, np.nan, np.inf, -np.inf]
    mask = calib.sigma_clip_mask(values)
    np.testing.assert_array_equal(mask, astropy_mask(values))
    assert mask[200:].all() and not mask[:200].any()  # the low outlier is clipped too


def test_sigma_clip_even_and_odd_median():
    # even count: the centre is the mean of the two middle values
    for n in (60, 61):
        values = np.arange(n, dtype=float)
        values[-1] = 1e4
        np.testing.assert_array_equal(calib.sigma_clip_mask(values), astropy_mask(values))
        np.testing.assert_array_equal(calib.sigma_clip_mask(values, sigma=1.5), astropy_mask(values, sigma=1.5))


def test_sigma_clip_maxiters_none_iterates_to_convergence():
    values = np.r_[np.zeros(200), np.geomspace(1, 1e6, 12)]
    np.testing.assert_array_equal(
        calib.sigma_clip_mask(values, sigma=3, maxiters=None), astropy_mask(values, sigma=3, maxiters=None)
    )


finite_or_not = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False, width=64),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1.0]),
)


@HYPOTHESIS
@given(
    values=hnp.arrays(np.float64, st.integers(1, 80), elements=finite_or_not),
    sigma=st.sampled_from([1.0, 2.0, 3.0, 5.0]),
    maxiters=st.sampled_from([1, 2, 5, None]),
)
def test_sigma_clip_property_matches_astropy(values, sigma, maxiters):
    np.testing.assert_array_equal(calib.sigma_clip_mask(values, sigma, maxiters), astropy_mask(values, sigma, maxiters))


# --------------------------------------------------------------------------- pixel DQ


def dark_with_hot():
    dark = np.full((5, 6), 0.0065)
    dark[4, 5] = 12.0
    dead = np.zeros((5, 6), dtype=bool)
    dead[0, 0] = dead[4, 5] = True
    return dead, dark


def test_pixel_dq_actions():
    dead, dark = dark_with_hot()
    dq = calib.pixel_dq(dead, dark)
    assert dq.dtype == U
    assert dq[0, 0] == DQ.DEAD | DQ.DO_NOT_USE
    assert dq[4, 5] == DQ.DEAD | DQ.HOT | DQ.DO_NOT_USE
    assert np.count_nonzero(dq) == 2
    dq = calib.pixel_dq(dead, dark, hot_action="flag", dead_action="flag")
    assert dq[0, 0] == DQ.DEAD and dq[4, 5] == DQ.DEAD | DQ.HOT
    dq = calib.pixel_dq(np.zeros((5, 6), bool), dark, hot_action="flag")
    assert dq[4, 5] == DQ.HOT
    dq = calib.pixel_dq(np.zeros((5, 6), bool), dark, hot_action="nan", dead_action="flag")
    assert dq[4, 5] == DQ.HOT | DQ.DO_NOT_USE


def test_pixel_dq_validation():
    dead, dark = dark_with_hot()
    with pytest.raises(ValueError, match="hot_action"):
        calib.pixel_dq(dead, dark, hot_action="mask")
    with pytest.raises(ValueError, match="dead"):
        calib.pixel_dq(dead[:, :3], dark)


def test_pixel_dq_nan_dark_is_hot():
    dead = np.zeros((2, 3), bool)
    dark = np.full((2, 3), 0.01)
    dark[1, 1] = np.nan
    assert calib.pixel_dq(dead, dark)[1, 1] == DQ.HOT | DQ.DO_NOT_USE


# --------------------------------------------------------------------------- linearity


def test_clean_linearity_coefficients():
    coeffs = np.zeros((6, 2, 3))
    coeffs[0] = 0.5
    coeffs[1] = 2.0
    coeffs[3, 0, 1] = np.nan
    coeffs[1, 1, 2] = 0.0
    coeffs[5, 1, 0] = np.inf
    before = coeffs.copy()
    clean, dq = calib.clean_linearity_coefficients(coeffs)
    np.testing.assert_array_equal(coeffs, before)  # input untouched
    assert clean.dtype == np.float64 and dq.dtype == U
    bad = [(0, 1), (1, 2), (1, 0)]
    for r, c in bad:
        assert clean[:, r, c].tolist() == [0, 1, 0, 0, 0, 0]
        assert dq[r, c] == DQ.NO_LIN_CORR
    assert clean[:, 0, 0].tolist() == [0.5, 2.0, 0, 0, 0, 0]
    assert np.count_nonzero(dq) == 3


def test_apply_linearity_exact():
    cube = np.array([[[0.0, 1.0, 2.0, np.nan, -3.0]]], dtype=F32)  # (1, 1, 5)
    coeffs = np.zeros((6, 1, 1))
    coeffs[:, 0, 0] = [1.0, 2.0, 0.5, 0.25, 0.0, 0.125]
    out = calib.apply_linearity(readonly(cube), coeffs)
    p = lambda x: 1 + 2 * x + 0.5 * x**2 + 0.25 * x**3 + 0.125 * x**5  # noqa: E731
    assert out.dtype == F32
    np.testing.assert_array_equal(out[0, 0, [0, 1, 2, 4]], [p(0.0), p(1.0), p(2.0), p(-3.0)])
    assert np.isnan(out[0, 0, 3])


def test_apply_linearity_identity_and_polyval_bits():
    rng = np.random.default_rng(3)
    cube = rng.uniform(-500, 6e4, (3, 4, 17))
    identity = np.zeros((6, 3, 4))
    identity[1] = 1.0
    np.testing.assert_array_equal(calib.apply_linearity(cube, identity, out=np.empty(cube.shape)), cube)
    med = np.array([0.14, 0.9999, -5.7e-9, 1.2e-11, -6.0e-17, 1.3e-22])
    coeffs = med[:, None, None] * (1 + 0.01 * rng.standard_normal((6, 3, 4)))
    out = calib.apply_linearity(cube, coeffs, out=np.empty(cube.shape), block_pixels=5)
    for r in range(3):
        for c in range(4):
            np.testing.assert_array_equal(out[r, c], np.poly1d(coeffs[::-1, r, c])(cube[r, c]))


def test_apply_linearity_degree_one_and_zero():
    cube = cube345()
    lin = np.stack([np.full((3, 4), 2.0), np.full((3, 4), 3.0)])
    np.testing.assert_array_equal(calib.apply_linearity(cube, lin), 3 * cube + 2)
    const = np.full((1, 3, 4), 7.0)
    np.testing.assert_array_equal(calib.apply_linearity(cube, const), np.full(cube.shape, 7.0, F32))


# --------------------------------------------------------------------------- integration times and dark


def test_integration_times():
    dt = calib.integration_times(6, 0.1, 4.5, 0.1)
    assert dt.dtype == np.float64
    np.testing.assert_array_equal(dt[0::2], [0.1] * 3)
    np.testing.assert_array_equal(dt[1::2], [4.5 + 0.1] * 3)
    np.testing.assert_array_equal(calib.integration_times(4, 0.1, 0.1, 0.1), [0.1, 0.2, 0.1, 0.2])
    np.testing.assert_array_equal(calib.integration_times(3, 0.1, 4.5), [0.1, 4.5, 0.1])


def test_integration_times_from_axis_read_only_and_padding():
    import polars as pl

    column = pl.Series("AIRS-CH0-integration_time", [0.1, 4.5, 0.1, 4.5, None, None])
    arr = column.drop_nulls().to_numpy()
    assert not arr.flags.writeable  # notebook quirk 5
    np.testing.assert_array_equal(calib.integration_times_from_axis(arr, 0.1), [0.1, 4.6, 0.1, 4.6])
    assert arr.tolist() == [0.1, 4.5, 0.1, 4.5]
    padded = np.array([0.1, 4.5, 0.1, 4.5, np.nan, np.nan])
    np.testing.assert_array_equal(calib.integration_times_from_axis(padded, 0.0), [0.1, 4.5, 0.1, 4.5])
    np.testing.assert_array_equal(calib.integration_times_from_axis(column, 0.1)[:2], [0.1, 4.5 + 0.1])
    with pytest.raises(ValueError):
        calib.integration_times_from_axis(np.array([0.1, np.nan, 0.1, 4.5]), 0.1)


def test_subtract_dark_exact():
    cube = cube345()
    dark = np.arange(12, dtype=np.float64).reshape(3, 4)
    dark[2, 3] = np.nan
    dt = np.array([0.5, 4.0, 0.5, 4.0, 2.0])
    out = calib.subtract_dark(readonly(cube), dark, dt)
    expected = cube - np.nan_to_num(dark)[:, :, None] * dt
    np.testing.assert_array_equal(out, expected.astype(F32))
    np.testing.assert_array_equal(out[2, 3], cube[2, 3])  # NaN dark: no correction
    with pytest.raises(ValueError, match="dt"):
        calib.subtract_dark(cube, dark, dt[:4])


# --------------------------------------------------------------------------- CDS, binning


def test_cds_exact_and_odd_frames():
    cube = np.array([[[1.0, 4.0, 10.0, 9.0]]], dtype=F32)
    np.testing.assert_array_equal(calib.cds(cube), [[[3.0, -1.0]]])
    with pytest.raises(ValueError, match="even"):
        calib.cds(cube345())
    big = np.arange(3 * 4 * 10, dtype=F32).reshape(3, 4, 10) ** 2
    np.testing.assert_array_equal(calib.cds(big, block_pixels=1), big[..., 1::2] - big[..., ::2])


def test_cds_of_uint16_style_values_does_not_wrap():
    raw = np.array([[[100, 90]]], dtype=np.uint16)
    cube, _ = calib.adc_invert(raw, 1.0, 0.0)
    assert calib.cds(cube)[0, 0, 0] == -10.0


def test_bin_frames_sums_and_drops_tail():
    cube = cube345()
    binned, n_valid = calib.bin_frames(cube, 2)
    assert binned.shape == (3, 4, 2) and binned.dtype == F32 and n_valid.dtype == np.uint16
    np.testing.assert_array_equal(binned, cube[..., 0:4].reshape(3, 4, 2, 2).sum(-1))
    assert (n_valid == 2).all()
    whole, _ = calib.bin_frames(cube, 5)
    np.testing.assert_array_equal(whole[..., 0], cube.sum(-1))


def test_bin_frames_nan_is_mean_of_valid_times_n():
    cube = np.array([[[1.0, 2.0, np.nan, 4.0, np.nan, np.nan, np.nan, np.nan, 5.0, 5.0, 5.0, 5.0]]], dtype=F32)
    binned, n_valid = calib.bin_frames(cube, 4, out=np.empty((1, 1, 3)))
    assert binned[0, 0, 0] == pytest.approx(7.0 / 3.0 * 4, rel=1e-15)  # not 7, not NaN
    assert np.isnan(binned[0, 0, 1])
    assert binned[0, 0, 2] == 20.0
    assert n_valid.tolist() == [[[3, 0, 4]]]
    inf = np.array([[[1.0, np.inf, 3.0, 3.0]]], dtype=F32)
    assert calib.bin_frames(inf, 4)[0][0, 0, 0] == pytest.approx(28.0 / 3.0)


def test_bin_frames_accumulates_in_float64():
    frames = np.ones(360, dtype=F32)
    frames[0] = 2.0**24  # float32 accumulation would drop every +1
    cube = frames.reshape(1, 1, 360)
    binned, _ = calib.bin_frames(cube, 360, out=np.empty((1, 1, 1)))
    assert binned[0, 0, 0] == 2.0**24 + 359


def test_bin_frames_errors():
    with pytest.raises(ValueError, match="larger"):
        calib.bin_frames(cube345(), 6)
    with pytest.raises(ValueError):
        calib.bin_frames(cube345(), 0)


def test_bin_times():
    # AIRS stamps (s): pair k at 0.1 + 4.8k and 0.2 + 4.8k; bin b of 30 CDS frames -> 69.8 + 144 b
    k = np.arange(5625)
    stamps = np.empty(11250)
    stamps[0::2] = 0.1 + 4.8 * k
    stamps[1::2] = 0.2 + 4.8 * k
    centres = calib.bin_times(stamps, 30)
    assert centres.shape == (187,)
    np.testing.assert_allclose(centres, 69.8 + 144 * np.arange(187), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(calib.bin_times([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 2), [2.0])
    with pytest.raises(ValueError):
        calib.bin_times([0.0, 1.0], 2)


# --------------------------------------------------------------------------- flat, exclusion


def test_flat_field_policy():
    cube = np.full((2, 3, 2), 6.0, dtype=F32)
    flat = np.array([[2.0, 0.0, -0.01], [np.nan, np.inf, 0.5]])
    dq = np.zeros((2, 3), dtype=U)
    dq[1, 2] = DQ.DEAD | DQ.DO_NOT_USE
    dq_before = dq.copy()
    out, dq_out = calib.flat_field(readonly(cube), flat, dq)
    np.testing.assert_array_equal(dq, dq_before)
    np.testing.assert_array_equal(out[0, 0], [3.0, 3.0])  # divided, flat never normalised
    for r, c in [(0, 1), (0, 2), (1, 0), (1, 1)]:
        np.testing.assert_array_equal(out[r, c], [6.0, 6.0])
        assert dq_out[r, c] == DQ.NO_FLAT_FIELD | DQ.DO_NOT_USE
    np.testing.assert_array_equal(out[1, 2], [6.0, 6.0])  # dead, good flat: not divided
    assert dq_out[1, 2] == DQ.DEAD | DQ.DO_NOT_USE | DQ.NO_FLAT_FIELD
    assert dq_out[0, 0] == 0


def test_flat_field_dead_flag_only_keeps_value():
    cube = np.full((1, 2, 1), 6.0, dtype=F32)
    out, dq_out = calib.flat_field(cube, np.array([[2.0, -0.02]]), np.array([[DQ.DEAD, DQ.DEAD]], dtype=U))
    np.testing.assert_array_equal(out[0, :, 0], [6.0, 6.0])
    assert dq_out.tolist() == [[DQ.DEAD | DQ.NO_FLAT_FIELD, DQ.DEAD | DQ.NO_FLAT_FIELD | DQ.DO_NOT_USE]]


def test_exclude_flagged():
    cube = cube345()
    dq = np.zeros((3, 4), dtype=U)
    dq[1, 2] = DQ.DO_NOT_USE | DQ.DEAD
    dq[0, 0] = DQ.HOT  # descriptive only
    result = calib.exclude_flagged(cube, dq)
    assert result is cube
    assert np.isnan(cube[1, 2]).all() and np.isnan(cube).sum() == 5
    with pytest.raises(ValueError):
        calib.exclude_flagged(readonly(cube345()), dq)


# --------------------------------------------------------------------------- memory maps, blocks


def test_memmap_in_and_out(tmp_path):
    rng = np.random.default_rng(5)
    raw = rng.integers(1, 60000, (3, 4, 40)).astype(np.uint16)
    np.save(tmp_path / "raw.npy", raw)
    raw_mm = np.load(tmp_path / "raw.npy", mmap_mode="r")
    out = np.lib.format.open_memmap(tmp_path / "adc.npy", mode="w+", dtype=F32, shape=raw.shape)
    cube, _ = calib.adc_invert(raw_mm, 0.93, -800.0, out=out, block_pixels=3)
    assert cube is out
    out.flush()
    cube_mm = np.load(tmp_path / "adc.npy", mmap_mode="r")
    np.testing.assert_array_equal(cube_mm, calib.adc_invert(raw, 0.93, -800.0)[0])
    dark = rng.uniform(0, 0.01, (3, 4))
    dt = calib.integration_times(40, 0.1, 4.5, 0.1)
    dark_out = np.lib.format.open_memmap(tmp_path / "dark.npy", mode="w+", dtype=F32, shape=raw.shape)
    calib.subtract_dark(cube_mm, dark, dt, out=dark_out)
    np.testing.assert_array_equal(dark_out, calib.subtract_dark(np.asarray(cube_mm), dark, dt))
    with pytest.raises(ValueError, match="shape"):
        calib.cds(cube_mm, out=np.empty((3, 4, 40), F32))


@pytest.mark.parametrize("block", [1, 2, 3, 4, 5, 11, 12, 1000])
def test_block_size_does_not_change_results(block):
    rng = np.random.default_rng(6)
    raw = rng.integers(0, 65536, (3, 4, 24)).astype(np.uint16)
    raw[1, 2, 5] = 65535
    ref_cube, ref_dq = calib.adc_invert(raw, 0.4369, -1000.0)
    cube, dq = calib.adc_invert(raw, 0.4369, -1000.0, block_pixels=block)
    np.testing.assert_array_equal(cube, ref_cube)
    np.testing.assert_array_equal(dq, ref_dq)
    coeffs = np.zeros((6, 3, 4))
    coeffs[1] = 1.0
    coeffs[2] = rng.uniform(-1e-8, 1e-8, (3, 4))
    dark = rng.uniform(0, 0.01, (3, 4))
    flat = rng.uniform(0.9, 1.1, (3, 4))
    dt = calib.integration_times(24, 0.1, 4.5, 0.1)
    for kwargs in ({}, {"block_pixels": block}):
        lin = calib.apply_linearity(cube, coeffs, **kwargs)
        drk = calib.subtract_dark(lin, dark, dt, **kwargs)
        c = calib.cds(drk, **kwargs)
        b, nv = calib.bin_frames(c, 4, **kwargs)
        f, _ = calib.flat_field(b, flat, dq, **kwargs)
        if not kwargs:
            expected = (lin, drk, c, b, nv, f)
        else:
            for got, want in zip((lin, drk, c, b, nv, f), expected, strict=True):
                np.testing.assert_array_equal(got, want)


def test_non_contiguous_input():
    raw = np.random.default_rng(0).integers(0, 65536, (3, 4, 10)).astype(np.uint16)
    out = np.asfortranarray(np.zeros(raw.shape, F32))
    got, _ = calib.adc_invert(np.asfortranarray(raw), 0.93, -800.0, out=out, block_pixels=2)
    assert got is out
    np.testing.assert_array_equal(out, calib.adc_invert(raw, 0.93, -800.0)[0])
    cube = np.asfortranarray(cube345())
    np.testing.assert_array_equal(calib.cds(cube[..., :4]), cube345()[..., 1:4:2] - cube345()[..., 0:4:2])
    np.testing.assert_array_equal(calib.bin_frames(cube, 2)[0], calib.bin_frames(cube345(), 2)[0])


# --------------------------------------------------------------------------- hypothesis properties

shapes = st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 8).map(lambda k: 2 * k))
values = st.floats(-1e5, 1e5, allow_nan=False, width=32)


@st.composite
def cube_and_maps(draw):
    shape = draw(shapes)
    cube = draw(hnp.arrays(F32, shape, elements=values))
    dark = draw(hnp.arrays(np.float64, shape[:2], elements=st.floats(0, 20)))
    flat = draw(hnp.arrays(np.float64, shape[:2], elements=st.floats(0.5, 1.5)))
    dt = calib.integration_times(shape[2], 0.1, draw(st.sampled_from([0.1, 4.5])), 0.1)
    n = draw(st.integers(1, shape[2] // 2))
    return cube, dark, flat, dt, n


@HYPOTHESIS
@given(cube_and_maps())
def test_property_shapes_dtypes(args):
    cube, dark, flat, dt, n = args
    rows, cols, frames = cube.shape
    raw = np.clip(np.abs(cube), 0, 65535).astype(np.uint16)
    adc, dq = calib.adc_invert(raw, 0.93, -800.0)
    assert adc.shape == cube.shape and adc.dtype == F32 and dq.shape == (rows, cols) and dq.dtype == U
    coeffs = np.zeros((6, rows, cols))
    coeffs[1] = 1
    assert calib.apply_linearity(cube, coeffs).shape == cube.shape
    assert calib.subtract_dark(cube, dark, dt).shape == cube.shape
    c = calib.cds(cube)
    assert c.shape == (rows, cols, frames // 2) and c.dtype == F32
    b, nv = calib.bin_frames(c, n)
    assert b.shape == nv.shape == (rows, cols, (frames // 2) // n) and b.dtype == F32
    f, fdq = calib.flat_field(b, flat, dq)
    assert f.shape == b.shape and fdq.shape == (rows, cols) and fdq.dtype == U


@HYPOTHESIS
@given(cube_and_maps(), st.data())
def test_property_nan_confined_to_pixel(args, data):
    cube, dark, flat, dt, n = args
    rows, cols, frames = cube.shape
    r = data.draw(st.integers(0, rows - 1))
    c = data.draw(st.integers(0, cols - 1))
    t = data.draw(st.integers(0, frames - 1))
    cube = cube.copy()
    cube[r, c, t] = np.nan
    coeffs = np.zeros((6, rows, cols))
    coeffs[0], coeffs[1], coeffs[2] = 0.1, 1.0, 1e-9
    stages = calib.apply_linearity(cube, coeffs)
    assert np.isnan(stages).sum() == 1 and np.isnan(stages[r, c, t])
    stages = calib.subtract_dark(stages, dark, dt)
    assert np.isnan(stages).sum() == 1 and np.isnan(stages[r, c, t])
    stages = calib.cds(stages)
    assert np.isnan(stages).sum() == 1 and np.isnan(stages[r, c, t // 2])
    binned, nv = calib.bin_frames(stages, n)
    k = (t // 2) // n
    others = np.ones(binned.shape, bool)
    if k < binned.shape[2]:
        others[r, c, k] = False
        assert nv[r, c, k] == n - 1
        assert np.isfinite(binned[r, c, k]) == (n > 1)
    assert np.isfinite(binned[others]).all() and (nv[others] == n).all()
    flat_out, _ = calib.flat_field(binned, flat, np.zeros((rows, cols), U))
    np.testing.assert_array_equal(np.isnan(flat_out), np.isnan(binned))


@HYPOTHESIS
@given(cube_and_maps())
def test_property_dark_cds_bin_flat_commute(args):
    cube, dark, flat, dt, n = args
    rows, cols, _ = cube.shape
    dq = np.zeros((rows, cols), U)
    f64 = lambda shape: np.empty(shape)  # noqa: E731  (float64 outputs isolate the algebra)
    scale = float(np.abs(cube).max()) + float((dark * dt.max()).max()) * n * 2 + 1.0
    tol = dict(rtol=0, atol=scale * 1e-6)

    # reference order: dark -> cds -> bin -> flat
    d = calib.subtract_dark(cube, dark, dt, out=f64(cube.shape))
    c = calib.cds(d, out=f64((rows, cols, cube.shape[2] // 2)))
    b, _ = calib.bin_frames(c, n, out=f64((rows, cols, c.shape[2] // n)))
    ref, _ = calib.flat_field(b, flat, dq, out=f64(b.shape))

    # flat first: (x - d dt) / f == x / f - (d / f) dt
    f_first, _ = calib.flat_field(cube, flat, dq, out=f64(cube.shape))
    d2 = calib.subtract_dark(f_first, dark / flat, dt, out=f64(cube.shape))
    c2 = calib.cds(d2, out=f64(c.shape))
    b2, _ = calib.bin_frames(c2, n, out=f64(b.shape))
    np.testing.assert_allclose(b2, ref, **tol)

    # dark after CDS: dark * (dt_odd - dt_even) per CDS frame
    c3 = calib.cds(cube, out=f64(c.shape))
    dt_cds = dt[1::2] - dt[0::2]
    d3 = calib.subtract_dark(c3, dark, dt_cds, out=f64(c.shape))
    b3, _ = calib.bin_frames(d3, n, out=f64(b.shape))
    r3, _ = calib.flat_field(b3, flat, dq, out=f64(b.shape))
    np.testing.assert_allclose(r3, ref, **tol)

    # dark once per bin: n * dark * (dt_odd - dt_even), after binning
    b4, _ = calib.bin_frames(c3, n, out=f64(b.shape))
    per_bin = np.array([dt_cds[i * n : (i + 1) * n].sum() for i in range(b.shape[2])])
    d4 = calib.subtract_dark(b4, dark, per_bin, out=f64(b.shape))
    r4, _ = calib.flat_field(d4, flat, dq, out=f64(b.shape))
    np.testing.assert_allclose(r4, ref, **tol)


# --------------------------------------------------------------------------- notebook parity


def realistic_planet(seed=0, frames=240, rows=4, width=8):
    """A small 2024-like AIRS observation, time-major as the notebook reads it."""
    rng = np.random.default_rng(seed)
    raw = rng.integers(300, 30000, (frames, rows, width)).astype(np.uint16)
    dark = rng.normal(0.0065, 0.0005, (rows, width))
    dark[2, 3] = 5.0  # hot (24 cropped pixels: one outlier is clippable)
    dead = np.zeros((rows, width), dtype=bool)
    dead[1, 4] = True
    flat = rng.uniform(0.9, 1.1, (rows, width))
    flat[1, 4] = -0.01
    med = np.array([0.14, 0.9999, -5.7e-9, 1.2e-11, -6.0e-17, 1.3e-22])
    lin = med[:, None, None] * (1 + 0.01 * rng.standard_normal((6, rows, width)))
    return raw, dark, dead, flat, lin


@pytest.mark.parametrize("do_nl", [False, True])
@pytest.mark.parametrize("block_pixels", [None, 1])
def test_chain_matches_notebook(do_nl, block_pixels):
    raw, dark, dead, flat, lin = realistic_planet()
    # A dark 1000x the real one (6.5 e-/s, ~900 e- per bin): its sign, factor and convention
    # move every value far beyond the per-value bound below. (Sigma clipping is scale-free.)
    dark = dark * 1000.0
    gain, offset, crop, n = 0.93, -800.0, (1, 7), 30
    frames = raw.shape[0]
    # By hand (doc 1.6, 29 Aug 2024 convention): AIRS reads 0.1 s and 4.5 s, +0.1 s on the long one.
    dt = np.tile([0.1, 4.6], frames // 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = notebook_calibrate(raw, gain, offset, dark, dead, flat, lin, dt, crop=crop, do_nl=do_nl, binning=n)

    cut = slice(*crop)
    kw = {"block_pixels": block_pixels}
    raw_pm = np.ascontiguousarray(raw.transpose(1, 2, 0)[:, cut])  # pixel-major, as read_signal
    cube, dq = calib.adc_invert(raw_pm, gain, offset, **kw)
    dq |= calib.pixel_dq(dead[:, cut], dark[:, cut], hot_action="flag", dead_action="nan")
    if do_nl:
        coeffs, lin_dq = calib.clean_linearity_coefficients(lin[:, :, cut])
        dq |= lin_dq
        cube = calib.apply_linearity(cube, coeffs, **kw)
    cube = calib.subtract_dark(cube, dark[:, cut], dt, **kw)
    cube = calib.cds(cube, **kw)
    cube, n_valid = calib.bin_frames(cube, n, **kw)
    cube, dq = calib.flat_field(cube, flat[:, cut], dq, **kw)
    calib.exclude_flagged(cube, dq)

    ours = cube.transpose(2, 1, 0)  # the notebook's (time, column, row)
    assert ours.shape == ref.shape == (4, 6, 4)
    assert (n_valid == n).all()
    assert dq[2, 2] & DQ.HOT and not dq[2, 2] & DQ.DO_NOT_USE  # flagged, kept
    assert dq[1, 3] & DQ.DEAD and np.isnan(cube[1, 3]).all()  # excluded
    good = ((dq & (DQ.DO_NOT_USE | DQ.DEAD)) == 0).T  # pixels the notebook calibrates, hot included
    assert good.sum() == 23
    # Per value: float32 storage rounds each stage by <= 6e-8 of the reads entering a value.
    reads = np.abs(raw[:, :, cut] / gain + offset) + np.abs(lin[0, :, cut]) + dark[:, cut] * dt[:, None, None]
    magnitude = reads[: 8 * n].reshape(4, 2 * n, 4, 6).sum(axis=1).transpose(0, 2, 1) / flat[:, cut].T
    error = np.abs(ours.astype(np.float64) - ref)
    assert np.all(error[:, good] <= 1e-6 * magnitude[:, good]), np.max(error[:, good] / magnitude[:, good])
