"""Limb-darkened depth fits (arielcal.science.lightcurve_model, visit): synthetic light curves
made with the model itself, so the answers are exact or bounded by the noise."""

from __future__ import annotations

import numpy as np

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
