"""Limb-darkened depth fits (arielcal.science.lightcurve_model, visit): synthetic light curves
made with the model itself, so the answers are exact or bounded by the noise."""

from __future__ import annotations

import numpy as np
import pytest

from arielcal import science
from arielcal.science import channels
from arielcal.science import lightcurve_model as lm
from arielcal.science.limb_darkening import binned_basis, chord_distance, contacts_of, ld_norm, quadratic_deficit

T = np.linspace(0.0, 7.5, 187)
WIDTH = float(T[1] - T[0])
GEOMETRY = dict(t0=3.6, speed=0.55, impact=0.3, radius=0.06)


def _shape(u1, u2, **geometry):
    g = {**GEOMETRY, **geometry}
    basis = binned_basis(T, WIDTH, g["t0"], g["speed"], g["impact"], g["radius"])
    return (basis[0] + u1 * basis[1] + u2 * basis[2]) / ld_norm(u1, u2)


def _geometry(**overrides):
    g = {**GEOMETRY, **overrides}
    return lm.Geometry(g["t0"], g["speed"], g["impact"], g["radius"], cov=np.zeros((4, 4)))


def _channels(depths, u1, u2, drift=None, level=1e5):
    flux = np.stack([level * (1 - d * _shape(a, b)) for d, a, b in zip(depths, u1, u2, strict=True)], axis=1)
    if drift is not None:
        flux *= drift[:, None]
    return flux


def test_channel_depths_are_exact_on_noiseless_model_curves_with_a_common_drift():
    depths = np.array([2e-3, 3e-3, 5e-3])
    u1, u2 = np.array([0.1, 0.2, 0.3]), np.array([0.2, 0.15, 0.1])
    drift = 1 + 4e-4 * ((T - 3.75) / 3.75) + 3e-4 * ((T - 3.75) / 3.75) ** 2
    flux = _channels(depths, u1, u2, drift)
    variance = flux.copy()
    templates = (drift / drift.mean() - 1)[:, None]
    result = channels.channel_depths((T, flux, variance, WIDTH), _geometry(), templates, 0, lambda g: (u1, u2))
    # Linearised baseline x transit cross term: 1e-3 relative at most.
    np.testing.assert_allclose(result.depth, depths, rtol=2e-3)
    assert np.all(result.sigma_geometry == 0) and np.all(result.red_noise >= 1)


def test_depth_is_rp_over_rs_squared_under_limb_darkening_not_the_mean_deficit():
    # Channels made with the exact occultation at their own radius: the fitted depth is
    # (Rp/Rs)^2 to the model's linearisation in the radius (<0.5 %); the flat-bottom mean
    # deficit (the old estimator) is several per cent off.
    radii = np.array([0.045, 0.06, 0.075])
    u1, u2 = np.full(3, 0.3), np.full(3, 0.2)
    grid = T[:, None] + ((np.arange(7) + 0.5) / 7 - 0.5)[None, :] * WIDTH
    z = chord_distance(grid, GEOMETRY["t0"], GEOMETRY["speed"], GEOMETRY["impact"])
    flux = np.stack([1e6 * (1 - quadratic_deficit(r, z, 0.3, 0.2).mean(axis=1)) for r in radii], axis=1)
    result = channels.channel_depths(
        (T, flux, flux.copy(), WIDTH), _geometry(), np.zeros((T.size, 0)), 0, lambda g: (u1, u2)
    )
    np.testing.assert_allclose(result.depth, radii**2, rtol=5e-3)
    t1, t2, t3, t4 = contacts_of(*GEOMETRY.values())
    bottom = (t2 < T) & (t3 > T)
    mean_deficit = 1 - flux[bottom].mean(axis=0) / 1e6
    assert np.all(mean_deficit / radii**2 > 1.05)


def test_geometry_fit_recovers_the_chord_from_rough_contacts_and_gives_finite_grazing_depths():
    rng = np.random.default_rng(1)
    for impact, radius in ((0.3, 0.06), (1.0, 0.1)):
        g = dict(GEOMETRY, impact=impact, radius=radius)
        white = 1e8 * (1 - radius**2 * _shape(0.3, 0.2, **g))
        white = white + rng.normal(0, np.sqrt(white))
        curve = lm.normalised(T, white, white.copy(), WIDTH)
        c = contacts_of(g["t0"], g["speed"], impact, radius)
        rough = (c[0] + 0.05, c[1] - 0.05, c[2] + 0.05, c[3] - 0.05) if impact < 0.9 else (c[0], g["t0"], g["t0"], c[3])
        for known in (None, impact):
            fit = lm.fit_geometry([curve], rough, [1], impact=known)
            sigma = np.sqrt(np.diag(fit.cov))
            assert abs(fit.t0 - g["t0"]) < 3 * sigma[0] < 0.02, (known, fit.params, sigma)
            assert np.all(sigma[[0, 1, 3]] > 0)
        flux = np.stack([1e6 * (1 - d * _shape(0.3, 0.2, **g)) for d in (radius**2, 1.1 * radius**2)], axis=1)
        result = channels.channel_depths(
            (T, flux, flux.copy(), WIDTH), fit, np.zeros((T.size, 0)), 0, lambda _: (np.full(2, 0.3), np.full(2, 0.2))
        )
        assert np.all(np.isfinite(result.depth)) and np.all(np.isfinite(result.sigma))


def test_red_noise_factor_is_one_for_white_noise_and_grows_with_correlated_noise():
    rng = np.random.default_rng(3)
    white = rng.normal(size=(187, 400))
    valid = np.ones_like(white, bool)
    beta = lm.red_noise_factor(white, valid)
    assert np.all(beta >= 1.0) and np.median(beta) < 1.1
    red = white + np.cumsum(rng.normal(0, 0.3, size=(187, 400)), axis=0) * 0.5
    red -= red.mean(axis=0)
    assert np.median(lm.red_noise_factor(red, valid)) > 1.5


def test_visit_depths_with_limb_darkening_noise_and_drift():
    """End to end on model curves: trapezoid start, chord fit, band limb darkening, common mode."""
    rng = np.random.default_rng(7)
    n_channels = 40
    lam = np.linspace(3.9, 1.95, n_channels)
    blue = 0.7 / lam
    u1, u2 = 0.12 + 0.33 * blue, 0.22 - 0.05 * blue
    depths = 3e-3 * (1 + 0.05 * np.sin(lam * 3))
    drift = 1 + 6e-4 * ((T - 3.75) / 3.75) - 4e-4 * ((T - 3.75) / 3.75) ** 2
    flux = _channels(depths, u1, u2, drift, level=2e6)
    flux = flux + rng.normal(0, np.sqrt(flux))
    white = flux.sum(axis=1)
    curves = {
        "AIRS-CH0": science.InstrumentCurves(
            time=T, width=WIDTH, spectral=np.stack([flux, flux.copy()]), white=np.stack([white, white.copy()]),
            channels={"detector_column": list(range(n_channels)), "label": list(range(n_channels)), "wavelength_um": lam.tolist()},
        )
    }  # fmt: skip
    fit = science.visit_depths(curves, science.Settings(), impact=GEOMETRY["impact"])
    z = (np.array(fit.rows["depth"]) - depths) / np.array(fit.rows["sigma"])
    assert np.all(np.isfinite(z))
    assert abs(np.mean(z)) < 0.5 and 0.4 < np.sqrt(np.mean(z * z)) < 1.5, z
    assert fit.summary["AIRS-CH0"]["white_baseline_degree"] >= 1
    t1, _, _, t4 = fit.window
    c = contacts_of(*GEOMETRY.values())
    assert abs(t1 - c[0]) < WIDTH and abs(t4 - c[3]) < WIDTH


def test_projected_baseline_solves_like_the_whole_design_with_the_limb_darkening_prior():
    rng = np.random.default_rng(4)
    t = np.linspace(0.0, 7.5, 60)
    regressors = rng.normal(size=(60, 2))
    flux = 1 + 1e-4 * regressors[:, 0] - 3e-3 * _shape(0.3, 0.2)[:: 187 // 60][:60] + rng.normal(0, 2e-4, 60)
    weight = np.full(60, 1 / 4e-8)
    weight[7] = 0.0  # a missing bin
    curve = lm.Curve(t, flux, weight, float(t[1] - t[0]), 1.0, regressors)
    g = _geometry()
    for basis in (g.basis(t, curve.width, 7), lm.TrapezoidShape(2.0, 2.5, 4.5, 5.0).basis(t, curve.width, 7)):
        design = lm._white_design(curve, basis, 2, 3.6, 7.5)
        coef, _, chi2, prior = lm.solve_ld(design, flux, weight)
        projected = lm.ProjectedBaseline.of(curve, 2, 1.0, 7.5)  # any centre: the same column space
        amplitudes, level, resid, prior_resid = projected.solve(basis, 3.6)
        np.testing.assert_allclose(amplitudes, coef[-3:], rtol=1e-8, atol=1e-12)
        assert level == pytest.approx(coef[0], rel=1e-10)
        assert resid @ resid + prior_resid @ prior_resid == pytest.approx(chi2, rel=1e-8)
        np.testing.assert_allclose(np.abs(prior_resid), np.abs(prior), rtol=1e-8, atol=1e-12)
        assert resid[7] == 0.0


def test_jitter_basis_of_known_centroids():
    from arielcal.science.visit import jitter_basis

    centroid = np.array([[1.0, 7.0], [2.0, 7.0], [3.0, 7.0], [np.nan, 7.0], [5.0, 7.0]])  # the row does not move
    basis = jitter_basis(centroid)
    x = (np.array([1.0, 2, 3, 4, 5]) - 2.75) / np.std([1.0, 2, 3, 5])  # the gap interpolated to 4
    np.testing.assert_allclose(basis, np.stack([x, x * x - (x * x).mean()], axis=1), rtol=1e-12)
    both = jitter_basis(np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]]))
    assert both.shape == (4, 5)
    np.testing.assert_allclose(both.mean(axis=0), 0.0, atol=1e-12)
    assert jitter_basis(np.full((6, 2), 3.0)).shape == (6, 0)


def test_single_channel_depth_is_exact_under_limb_darkening_and_jitter_and_its_sigma_has_the_limb_darkening():
    rng = np.random.default_rng(2)
    offset = np.cumsum(rng.normal(0, 0.1, (T.size, 2)), axis=0)
    basis = np.hstack([offset, offset**2 - (offset**2).mean(axis=0)])
    depth = 4e-3
    flux = 1e6 * (1 - depth * _shape(0.4, 0.25)) * (1 + basis @ np.array([2e-4, -1e-4, 5e-5, 3e-5]))
    curve = lm.normalised(T, flux, flux * 1e-6, WIDTH, basis)  # tiny variances: noiseless in effect
    result = channels.single_channel_depths(curve, _geometry(), 1)
    assert result.depth[0] == pytest.approx(depth, rel=1e-3)
    assert result.u1[0] == pytest.approx(0.4, abs=0.02) and result.sigma_geometry[0] == 0.0
    # The same curve with its limb darkening fixed has a smaller sigma: the free one is marginalised.
    fixed = channels.channel_depths(
        (T, flux[:, None], (flux * 1e-6)[:, None], WIDTH), _geometry(), basis, 1, lambda g: (result.u1, result.u2)
    )
    assert fixed.sigma_white[0] < result.sigma_white[0]


def test_a_transit_shaped_template_error_moves_every_depth_by_its_coefficient_times_the_error():
    # y = 1 + 0.5 T - d S exactly: a template error a S changes the fitted depth by 0.5 a.
    depths, u1, u2 = np.array([2e-3, 4e-3]), np.array([0.25, 0.25]), np.array([0.15, 0.15])
    drift = 1e-3 * ((T - 3.75) / 3.75) ** 2
    shapes = np.stack([_shape(a, b) for a, b in zip(u1, u2, strict=True)], axis=1)
    flux = 1e6 * (1 + 0.5 * drift[:, None] - depths * shapes)
    error = (1e-4 * _shape(0.25, 0.15))[None, :, None]
    result = channels.channel_depths(
        (T, flux, flux.copy(), WIDTH), _geometry(), drift[:, None], 0, lambda g: (u1, u2), template_errors=error
    )
    np.testing.assert_allclose(result.depth, depths, rtol=1e-9)
    np.testing.assert_allclose(result.sigma_common, 0.5e-4, rtol=1e-6)
    assert np.all(result.sigma >= result.sigma_common)
    none = channels.channel_depths((T, flux, flux.copy(), WIDTH), _geometry(), drift[:, None], 0, lambda g: (u1, u2))
    assert np.all(none.sigma_common == 0)


def test_regressors_lose_exactly_their_polynomial_part():
    t = np.linspace(0.0, 2.0, 21)
    wiggle = np.cos(7 * t)
    wiggle -= np.polyval(np.polyfit(t, wiggle, 1), t)  # no constant, no slope
    regressors = np.stack([3.0 + 0.5 * t + wiggle, np.full_like(t, 2.0)], axis=1)
    out = lm.orthogonal_to_polynomial(t, np.ones_like(t), regressors, 1)
    np.testing.assert_allclose(out[:, 0], wiggle, atol=1e-12)
    np.testing.assert_allclose(out[:, 1], 0.0, atol=1e-12)


def test_visit_gives_the_single_channel_instrument_its_own_fit_with_the_other_instruments_common_mode():
    rng = np.random.default_rng(9)
    lam = np.linspace(3.9, 1.95, 20)
    depths = np.full(20, 3e-3)
    drift = 1 + 5e-4 * ((T - 3.75) / 3.75) ** 2
    airs = _channels(depths, np.full(20, 0.2), np.full(20, 0.2), drift, level=5e6)
    airs = airs + rng.normal(0, np.sqrt(airs))
    fgs1 = 2e7 * (1 - 2.5e-3 * _shape(0.4, 0.2)) * drift
    fgs1 = (fgs1 + rng.normal(0, np.sqrt(fgs1)))[:, None]
    centroid = np.stack([16 + 0.01 * rng.normal(size=T.size), 15 + 0.01 * rng.normal(size=T.size)], axis=1)
    curves = {
        "AIRS-CH0": science.InstrumentCurves(T, WIDTH, np.stack([airs, airs.copy()]), np.stack([airs.sum(1), airs.sum(1)]),
            {"detector_column": list(range(20)), "label": list(range(2, 22)), "wavelength_um": lam.tolist()}),
        "FGS1": science.InstrumentCurves(T, WIDTH, np.stack([fgs1, fgs1.copy()]), np.stack([fgs1[:, 0], fgs1[:, 0]]),
            {"detector_column": [0], "label": [1], "wavelength_um": [None]}, centroid),
    }  # fmt: skip
    fit = science.visit_depths(curves, science.Settings(), impact=GEOMETRY["impact"])
    rows = {k: np.asarray(v) for k, v in fit.rows.items()}
    f = rows["instrument"] == "FGS1"
    z = (rows["depth"][f][0] - 2.5e-3) / rows["sigma"][f][0]
    assert abs(z) < 3 and rows["sigma_common"][f][0] > 0, (z, rows["sigma_common"][f])
    assert rows["u1"][f][0] == pytest.approx(0.4, abs=0.2)
    # As a spectral channel instead (limb darkening fixed): a smaller sigma than the own fit's.
    fixed = science.visit_depths(curves, science.Settings(single_channel_fit=False), impact=GEOMETRY["impact"])
    assert np.asarray(fixed.rows["sigma_white"])[f][0] < rows["sigma_white"][f][0]
    assert list(rows) == list(science.DEPTH_COLUMNS) and rows["sigma_common"].size == 21


def test_a_chord_restarted_at_another_impact_keeps_its_first_and_last_contact():
    from arielcal.science.visit import _restart

    g = _geometry()
    moved = _restart(g, 0.7)
    assert moved.impact == 0.7 and moved.radius == g.radius and moved.t0 == g.t0
    np.testing.assert_allclose(np.array(moved.contacts)[[0, 3]], np.array(g.contacts)[[0, 3]], rtol=1e-12)
