"""Science layer (arielcal.science): tiny arrays with exact answers."""

from __future__ import annotations

import numpy as np
import pytest

from arielcal import science

# --------------------------------------------------------------------------- variance


def test_variance_of_a_constant_signal():
    # 2 bins, 1 column, 2 rows; 10 frames per bin, 100 e- per frame -> 1000 e- per bin.
    calibrated = np.full((2, 1, 2), 1000.0, dtype=np.float32)
    read = np.array([[3.0, 4.0]])
    dark = np.array([[0.5, 0.0]])
    var = science.product_variance(calibrated, read, 10, dark=dark, accumulation_s=2.0)
    # per frame: 2 read^2 + 100 + dark * 2 s; a full bin: 10 frames.
    expected = 10 * (2 * read**2 + 100 + dark * 2.0)
    np.testing.assert_array_equal(var, np.broadcast_to(expected, (2, 1, 2)).astype(np.float32))
    assert var.dtype == np.float32


def test_variance_scales_partial_bins_and_flat_like_the_data():
    # A bin of n = 4 frames with 2 valid is 2 frames' mean x 4: variance v * 16 / 2.
    flat = np.array([[0.5]])
    calibrated = np.full((2, 1, 1), 40.0 / 0.5)  # 10 e- per frame before the flat
    n_valid = np.array([4, 2], dtype=np.uint16).reshape(2, 1, 1)
    read = np.array([[1.0]])
    var = science.product_variance(calibrated, read, 4, n_valid=n_valid, divisor=flat)
    per_frame = (2 * 1.0 + 10.0) / 0.25
    np.testing.assert_allclose(var.ravel(), [per_frame * 4, per_frame * 16 / 2])


def test_variance_shot_term_uses_the_median_and_clips_negative_signal():
    calibrated = np.array([[[10.0, -50.0]], [[30.0, -10.0]], [[20.0, -30.0]]])  # (3, 1, 2)
    signal = science.signal_per_frame(calibrated, 2)
    np.testing.assert_array_equal(signal, [[10.0, 0.0]])
    var = science.product_variance(calibrated, np.zeros((1, 2)), 2)
    np.testing.assert_array_equal(var[:, 0, 0], 20.0)  # same variance in every bin: the median's
    np.testing.assert_array_equal(var[:, 0, 1], 0.0)


def test_variance_is_nan_where_the_product_is_nan_or_no_frame_was_valid():
    calibrated = np.ones((2, 1, 2))
    calibrated[:, 0, 1] = np.nan
    n_valid = np.array([[[1, 1]], [[0, 1]]], dtype=np.uint16)
    var = science.product_variance(calibrated, np.ones((1, 2)), 1, n_valid=n_valid)
    assert np.isfinite(var[0, 0, 0]) and np.isnan(var[1, 0, 0]) and np.isnan(var[:, 0, 1]).all()


def test_variance_ignores_non_finite_dark_and_checks_shapes():
    calibrated = np.zeros((1, 1, 1))
    var = science.product_variance(calibrated, np.ones((1, 1)), 1, dark=np.array([[np.nan]]), accumulation_s=1.0)
    assert var[0, 0, 0] == 2.0
    with pytest.raises(ValueError, match="read"):
        science.product_variance(calibrated, np.ones((2, 1)), 1)


# --------------------------------------------------------------------------- extraction


def test_box_mask():
    mask = science.box_mask((3, 4), (1, 3), (0, 2))
    expected = np.zeros((3, 4), bool)
    expected[0:2, 1:3] = True
    np.testing.assert_array_equal(mask, expected)
    assert science.box_mask((2, 4), (1, 3)).sum() == 4


def test_background_subtraction_per_time_and_column():
    # 1 column, 4 rows: rows 1-2 aperture, rows 0 and 3 background.
    cube = np.array([[[1.0, 11.0, 21.0, 3.0]], [[2.0, 12.0, 22.0, 4.0]]])  # (2, 1, 4)
    var = np.ones_like(cube)
    aperture = science.box_mask((1, 4), (1, 3))
    lc = science.extract(cube, var, aperture, ~aperture)
    # background 2 then 3 per pixel; aperture 32 - 2*2 = 28, 34 - 2*3 = 28.
    np.testing.assert_array_equal(lc.flux[:, 0], [28.0, 28.0])
    # 2 aperture pixels + 2^2 * var(mean of 2) = 2 + 4 * 2/4 = 4.
    np.testing.assert_array_equal(lc.variance[:, 0], [4.0, 4.0])
    np.testing.assert_array_equal(lc.coverage, 1.0)


def test_extraction_with_a_nan_pixel_scales_by_the_valid_fraction():
    # 2 columns, 4 aperture rows each; a NaN pixel in column 1; no background.
    cube = np.ones((3, 2, 4)) * np.array([1.0, 2.0])[None, :, None]
    cube[:, 1, 2] = np.nan
    var = np.full_like(cube, 0.5)
    aperture = np.ones((2, 4), bool)
    lc = science.extract(cube, var, aperture)
    np.testing.assert_array_equal(lc.flux, [[4.0, 8.0]] * 3)  # 3 valid x 2 / (3/4) = 8
    np.testing.assert_allclose(lc.variance, [[2.0, 1.5 / 0.75**2]] * 3)
    np.testing.assert_array_equal(lc.coverage, [[1.0, 0.75]] * 3)
    assert np.isfinite(lc.flux).all()  # the NaN did not spread


def test_single_channel_extraction_and_missing_background():
    cube = np.arange(2 * 3 * 3, dtype=float).reshape(2, 3, 3)
    var = np.ones_like(cube)
    aperture = science.box_mask((3, 3), (1, 2), (1, 2))  # the central pixel
    lc = science.extract(cube, var, aperture, ~aperture, per_column=False)
    assert lc.flux.shape == (2, 1)
    # The 8 outer pixels of a linear ramp average to the centre: flux 0.
    np.testing.assert_allclose(lc.flux[:, 0], 0.0, atol=1e-12)
    np.testing.assert_allclose(lc.variance[:, 0], 1.0 + 8 / 64)
    cube[:] = np.nan
    assert np.isnan(science.extract(cube, var, aperture, ~aperture, per_column=False).flux).all()


def test_white_light_curve_skips_channels_with_any_nan():
    flux = np.array([[1.0, 2.0, np.nan], [3.0, 4.0, 5.0]])
    var = np.ones_like(flux)
    white, white_var, used = science.white_light_curve(flux, var)
    np.testing.assert_array_equal(white, [3.0, 7.0])
    np.testing.assert_array_equal(white_var, [2.0, 2.0])
    np.testing.assert_array_equal(used, [True, True, False])


# --------------------------------------------------------------------------- window and depth


CONTACTS = (2.05, 2.43, 4.61, 4.99)


def synthetic(depth=0.01, width=0.04, n=187):
    time = 0.02 + width * np.arange(n)
    shape = science.binned_trapezoid(time, CONTACTS, width)
    return time, 1e6 * (1 - depth * shape), width


def test_window_detection_on_a_synthetic_trapezoid():
    time, flux, width = synthetic()
    window = science.detect_window(time, flux, np.full_like(flux, 1e6 * 1e-8), width=width)
    np.testing.assert_allclose(window.contacts, CONTACTS, atol=2e-3)
    assert window.depth == pytest.approx(0.01, rel=1e-3)
    assert window.snr > 100


def test_window_detection_with_noise_stays_within_a_bin():
    time, flux, width = synthetic()
    rng = np.random.default_rng(3)
    sigma = 1e6 * 3e-4
    window = science.detect_window(
        time, flux + rng.normal(0, sigma, flux.size), np.full(flux.size, sigma**2), width=width
    )
    assert np.max(np.abs(np.subtract(window.contacts, CONTACTS))) < width


def test_box_search_finds_a_box_dip_exactly_on_the_bin_edges():
    time = 0.5 + np.arange(40.0)  # unit bins [k, k + 1]
    flux = np.where((time > 12) & (time < 21), 0.99, 1.0)  # bins 12..20 dip
    used = [science.transit._prepared((time, flux, np.full(40, 1e-6), 1.0))]
    mid, half, step = science.transit._box_search(used, time[0], time[-1])
    assert (mid, half, step) == (16.5, 4.5, 1.0)


def test_window_detection_of_a_v_shaped_transit():
    contacts = (2.05, 3.52, 3.52, 4.99)  # no flat bottom
    time = 0.02 + 0.04 * np.arange(187)
    flux = 1e6 * (1 - 0.01 * science.binned_trapezoid(time, contacts, 0.04))
    window = science.detect_window(time, flux, np.full_like(flux, 1e-2), width=0.04)
    np.testing.assert_allclose(window.contacts, contacts, atol=2e-3)


def test_window_detection_under_a_drift_larger_than_the_depth():
    """A linear drift of 0.24 % over the visit beneath a 0.2 % transit in its second half (a case
    of the realistic simulations): with a constant baseline the search took the whole lower
    first part for the transit; the straight-line baseline finds the true contacts."""
    contacts = (0.206, 0.222, 0.570, 0.587)
    width = 24 / 3600
    time = width * (0.5 + np.arange(120))
    rng = np.random.default_rng(11)
    sigma = 6e-5
    flux = (0.998 + 2.4e-3 * time / time[-1]) * (1 - 0.002 * science.binned_trapezoid(time, contacts, width))
    flux += rng.normal(0, sigma, time.size)
    window = science.detect_window(time, flux, np.full(time.size, sigma**2), width=width)
    assert np.max(np.abs(np.subtract(window.contacts, contacts))) < width
    assert window.depth == pytest.approx(0.002, rel=0.05)


def test_window_detection_fits_the_pointing_regressors_in_its_baseline():
    """A slow pointing wobble (two sinusoids, 1.5x the depth) under a 0.2 % transit: without its
    measured offsets in the baseline the search moves the contacts by a bin or more; with them
    the contacts are within a fiftieth of a bin (the wobble multiplies the transit; the
    baseline adds it)."""
    contacts = (0.206, 0.252, 0.480, 0.526)
    width = 24 / 3600
    time = width * (0.5 + np.arange(120))
    offsets = np.column_stack([np.sin(2 * np.pi * time / 0.31 + 1.0), np.sin(2 * np.pi * time / 0.17)])
    flux = (1 + 3e-3 * offsets @ [0.8, -0.6]) * (1 - 0.002 * science.binned_trapezoid(time, contacts, width))
    variance = np.full(time.size, 1e-10)
    blind = science.detect_joint_window([(time, flux, variance, width)])
    assert np.max(np.abs(np.subtract(blind.contacts, contacts))) > width
    window = science.detect_joint_window([(time, flux, variance, width, offsets)])
    np.testing.assert_allclose(window.contacts, contacts, atol=0.02 * width)
    assert window.depth == pytest.approx(0.002, rel=1e-3)


def test_window_detection_leaves_out_regressors_that_do_not_describe_the_flux():
    """Slow pointing series unrelated to a shallow V-shaped (grazing) transit: the search gives
    the same window as without them (a baseline free to follow them soaked up such transits)."""
    width = 24 / 3600
    time = width * (0.5 + np.arange(120))
    contacts = (0.20, 0.37, 0.37, 0.54)
    rng = np.random.default_rng(4)
    sigma = 2e-4
    flux = 1 - 1.5e-3 * science.binned_trapezoid(time, contacts, width) + rng.normal(0, sigma, time.size)
    offsets = np.column_stack([np.sin(2 * np.pi * time / period + phase) for period, phase in ((0.7, 1.0), (1.1, 4.0))])
    variance = np.full(time.size, sigma**2)
    plain = science.detect_joint_window([(time, flux, variance, width)])
    window = science.detect_joint_window([(time, flux, variance, width, offsets)])
    assert window.contacts == plain.contacts
    assert np.max(np.abs(np.subtract(window.contacts, contacts))) < 2 * width


def test_window_bins_keep_whole_bins_on_the_right_side():
    time = np.arange(10.0) + 0.5  # bins [k, k+1]
    inside, outside = science.window_bins(time, 1.0, (2.0, 3.0, 7.0, 8.0), margin=0.5)
    np.testing.assert_array_equal(np.flatnonzero(inside), [4, 5])
    np.testing.assert_array_equal(np.flatnonzero(outside), [0, 9])


def test_depth_estimator_is_exact_on_noiseless_data():
    time, _, width = synthetic()
    depths = np.array([0.003, 0.0071])
    shape = science.binned_trapezoid(time, CONTACTS, width)
    flux = np.array([5e5, 2e4]) * (1 - depths[None, :] * shape[:, None])
    variance = flux.copy()
    inside, outside = science.window_bins(time, width, CONTACTS, margin=width)
    for degree in (0, 1, 2):
        result = science.transit_depth(time, flux, variance, inside, outside, baseline_degree=degree)
        np.testing.assert_allclose(result.depth, depths, rtol=1e-10, atol=0)
        assert np.all(result.noise_ratio < 1e-6)


def test_depth_sigma_is_the_first_order_propagation():
    time = np.arange(6.0)
    flux = np.array([[100.0], [100.0], [90.0], [90.0], [100.0], [100.0]])
    variance = np.full_like(flux, 4.0)
    inside = np.array([0, 0, 1, 1, 0, 0], bool)
    result = science.transit_depth(time, flux, variance, inside, ~inside)
    assert result.depth[0] == pytest.approx(0.1)
    # F_in = 90 +- sqrt(2), B = 100 +- 1: sigma = 0.9 sqrt(2/8100 + 1/10000).
    assert result.sigma[0] == pytest.approx(0.9 * np.sqrt(2 / 8100 + 1 / 10000))
    assert result.noise_ratio[0] == 0.0


def test_depth_without_in_transit_bins_is_nan():
    result = science.transit_depth(
        np.arange(4.0), np.ones((4, 2)), np.ones((4, 2)), np.zeros(4, bool), np.ones(4, bool)
    )
    assert np.isnan(result.depth).all() and np.isnan(result.sigma).all()
    with pytest.raises(ValueError, match="overlap"):
        science.transit_depth(np.arange(4.0), np.ones(4), np.ones(4), np.ones(4, bool), np.ones(4, bool))


def test_detect_window_needs_points():
    with pytest.raises(ValueError, match="finite points"):
        science.detect_window(np.arange(3.0), np.ones(3))


# --------------------------------------------------------------------------- labels and recovery


def test_labels_follow_the_reversed_wavelength_order():
    np.testing.assert_array_equal(science.label_of_columns([39, 40, 320, 321, 0]), [283, 282, 2, 0, 0])


def test_recovery_statistics_on_known_residuals():
    truth = np.array([1.0, 1.0, 1.0, 1.0, np.nan])
    estimate = np.array([1.2, 0.7, 1.0, 1.1, 5.0])
    sigma = np.array([0.1, 0.1, 0.5, 0.1, 1.0])
    stats = science.recovery_statistics(estimate, sigma, truth)
    # z = 2, -3, 0, 1 (the NaN truth is skipped).
    assert stats["n"] == 4
    assert stats["median_abs_z"] == pytest.approx(1.5)
    assert stats["chi2_dof"] == pytest.approx((4 + 9 + 0 + 1) / 4)
    assert stats["mean_z"] == pytest.approx(0.0)
    assert stats["median_abs_residual"] == pytest.approx(0.15)
    assert science.recovery_statistics([1.0], [1.0], [np.nan])["n"] == 0


def test_joint_window_is_led_by_the_precise_curve():
    time, flux, width = synthetic(depth=0.004)
    rng = np.random.default_rng(5)
    precise, noisy = 1e6 * 5e-5, 1e6 * 1e-3
    curves = [
        (time, flux + rng.normal(0, noisy, flux.size), np.full(flux.size, noisy**2), width),
        (time, flux + rng.normal(0, precise, flux.size), np.full(flux.size, precise**2), width),
        (time[:3], flux[:3], None, width),  # too short: left out, NaN depth
    ]
    window = science.detect_joint_window(curves)
    assert np.max(np.abs(np.subtract(window.contacts, CONTACTS))) < width / 4
    assert window.depths[1] == pytest.approx(0.004, rel=0.02) and window.snrs[1] > window.snrs[0] > 0
    assert np.isnan(window.depths[2])
    with pytest.raises(ValueError, match="no light curve"):
        science.detect_joint_window([curves[2]])


def test_binned_trapezoid_is_the_exact_bin_average():
    """The closed form equals a fine midpoint rule (and the window models the same shapes), box
    transits (flat == half), bins straddling a contact and bins wider than the ingress included."""

    def midpoint(t, contacts, width, samples=20_000):
        x = t[:, None] + width * ((np.arange(samples) + 0.5) / samples - 0.5)[None, :]
        return science.trapezoid(x, contacts).mean(axis=-1)

    rng = np.random.default_rng(1)
    for _ in range(20):
        t = np.sort(rng.uniform(0, 8, int(rng.integers(5, 60))))
        width = float(rng.choice([0.01, 0.04, 0.5]))
        mid, half = rng.uniform(2, 6), rng.uniform(0.05, 2)
        flat = half * rng.choice([0.0, 0.3, 1.0])
        contacts = (mid - half, mid - flat, mid + flat, mid + half)
        exact = science.binned_trapezoid(t, contacts, width)
        np.testing.assert_allclose(exact, midpoint(t, contacts, width), atol=2e-4)
        models = science.transit._models(t, width, np.array([mid]), np.array([half]), np.array([flat]))
        np.testing.assert_allclose(models[0], exact, rtol=0, atol=1e-12)
    # By hand, unit bins: half the ingress ramp, the flat bottom, half the egress, the first half of the ingress.
    hand = science.binned_trapezoid(np.array([1.0, 2.0, 3.0, 0.5]), (0.5, 1.5, 2.5, 3.5), 1.0)
    np.testing.assert_allclose(hand, [0.5, 1.0, 0.5, 0.125], rtol=0, atol=1e-15)
    assert np.array_equal(
        science.binned_trapezoid(np.array([0.0, 2.0]), CONTACTS, 0.0), science.trapezoid(np.array([0.0, 2.0]), CONTACTS)
    )


def test_time_median_equals_nanmedian_bit_for_bit_and_is_nan_for_empty_pixels():
    rng = np.random.default_rng(3)
    cube = rng.normal(100.0, 5.0, size=(7, 4, 5))
    cube[2, 0, 0] = np.nan  # partly valid
    cube[:, 1, 1] = np.nan  # never valid
    cube[[0, 3], 2, 3] = np.nan
    expected = np.full((4, 5), np.nan)
    for c in range(4):
        for r in range(5):
            values = cube[:, c, r][np.isfinite(cube[:, c, r])]
            if values.size:
                expected[c, r] = np.median(values)
    np.testing.assert_array_equal(science.time_median(cube), expected)
    even = cube[:6]  # an even count: the mean of the two middle values
    np.testing.assert_array_equal(science.time_median(even)[3], np.median(even[:, 3], axis=0))


def test_a_bright_pixel_missing_in_some_bins_makes_no_dip():
    """One column, 4 aperture rows with a fixed profile (the peak pixel holds 40 % of the flux)
    and a flat star: the peak pixel NaN in bins 3-5 must not change those bins' flux; a pixel NaN
    in every bin counts as an average pixel (a constant factor), as before."""
    profile = np.array([0.1, 0.4, 0.3, 0.2])
    n_times = 10
    cube = np.zeros((n_times, 1, 6))
    cube[:, 0, 1:5] = 1000.0 * profile
    cube[3:6, 0, 2] = np.nan  # the peak pixel, three bins only
    variance = np.ones_like(cube)
    aperture = science.box_mask((1, 6), (1, 5))
    lc = science.extract(cube, variance, aperture)
    np.testing.assert_allclose(lc.flux[:, 0], 1000.0, rtol=1e-12)
    np.testing.assert_allclose(lc.coverage[3:6, 0], 0.6)
    assert np.all(lc.coverage[[0, 1, 2, 6, 7, 8, 9], 0] == 1.0)
    np.testing.assert_allclose(lc.variance[3:6, 0], 3 / 0.6**2)  # three valid pixels, scaled

    cube[:, 0, 4] = np.nan  # excluded everywhere: the others count 4/3 each, as before
    lc = science.extract(cube, variance, aperture)
    np.testing.assert_allclose(lc.flux[[0, 9], 0], 800.0 * 4 / 3)
    np.testing.assert_allclose(lc.flux[3:6, 0], 800.0 * 4 / 3, rtol=1e-12)


def test_variance_per_pixel_class_matches_the_scatter():
    """The modelled variance against the scatter of bins simulated here read by read (numpy
    noise, not the package's), per pixel class: a shot-noise, read-noise or dark-noise term that
    is wrong by its own size moves its class's median ratio far outside 0.9 .. 1.1."""
    rng = np.random.default_rng(5)
    n_bins = 400
    # class -> (signal e- per CDS frame, read sigma per read, dark e-/s, frames per bin, accumulation s)
    classes = {
        "faint AIRS": (0.0, 13.0, 0.006, 30, 4.5),
        "bright AIRS": (5000.0, 13.0, 0.006, 30, 4.5),
        "hot AIRS": (20.0, 13.0, 60.0, 30, 4.5),
        "bright FGS1": (2000.0, 13.0, 0.007, 360, 0.1),
    }
    for name, (signal, read, dark, n, accumulation) in classes.items():
        n_pixels = 40
        charge = signal + dark * accumulation  # mean charge accumulated between the two reads
        first = rng.normal(0.0, read, (n_bins, n, n_pixels))
        second = rng.poisson(charge, (n_bins, n, n_pixels)) + rng.normal(0.0, read, (n_bins, n, n_pixels))
        flat = rng.uniform(0.9, 1.1, n_pixels)
        # CDS, dark subtracted (its mean, not its noise), summed per bin, divided by the flat.
        binned = ((second - first - dark * accumulation).sum(axis=1) / flat).reshape(n_bins, 1, n_pixels)
        variance = science.product_variance(
            binned,
            np.full((1, n_pixels), read),
            n,
            dark=np.full((1, n_pixels), dark),
            accumulation_s=accumulation,
            divisor=flat.reshape(1, n_pixels),
        )
        ratio = binned.var(axis=0, ddof=1) / variance.mean(axis=0)
        # 400 bins: each ratio scatters by ~7 %, the median of 40 by ~1.5 %.
        assert 0.95 < np.median(ratio) < 1.05, (name, np.median(ratio))
