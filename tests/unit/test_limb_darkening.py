"""The exact quadratic limb-darkened occultation (Mandel & Agol 2002) against brute-force
integration of the stellar disc, and the elliptic integrals against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from arielcal.science import limb_darkening as ld


def brute_deficit(p, z, u1, u2, n=800):
    """The occulted flux by midpoint integration over the planet disc in polar coordinates."""
    rho = (np.arange(n) + 0.5) / n * p
    phi = (np.arange(2 * n) + 0.5) / (2 * n) * 2 * np.pi
    r, a = np.meshgrid(rho, phi, indexing="ij")
    x, y = z + r * np.cos(a), r * np.sin(a)
    r2 = x * x + y * y
    inside = r2 < 1.0
    mu = np.sqrt(np.clip(1.0 - r2, 0.0, None))
    intensity = 1.0 - u1 * (1.0 - mu) - u2 * (1.0 - mu) ** 2
    area = r * (p / n) * (2 * np.pi / (2 * n))
    return float((intensity * area * inside).sum() / (np.pi * (1.0 - u1 / 3.0 - u2 / 6.0)))


def test_elliptic_integrals_match_known_values():
    # K(0) = E(0) = pi/2; K(1/sqrt2) = 1.8540746773013719, E(1/sqrt2) = 1.3506438810476755;
    # Pi(n, 0) = pi / (2 sqrt(1 - n)).
    kc = math.sqrt(0.5)
    np.testing.assert_allclose(ld.cel(1.0, 1.0, 1.0, 1.0), math.pi / 2, rtol=1e-14)
    np.testing.assert_allclose(ld.cel(kc, 1.0, 1.0, 1.0), 1.8540746773013719, rtol=1e-13)
    np.testing.assert_allclose(ld.cel(kc, 1.0, 1.0, kc * kc), 1.3506438810476755, rtol=1e-13)
    for n in (0.3, -2.0, -1e6):
        np.testing.assert_allclose(ld.cel(1.0, 1.0 - n, 1.0, 1.0), math.pi / (2 * math.sqrt(1 - n)), rtol=1e-12)


CASES = [(0.1, z) for z in (0.0, 0.05, 0.1, 0.3, 0.7, 0.9, 0.93, 1.0, 1.05, 1.099)] + [
    (0.6, z) for z in (0.0, 0.2, 0.4, 0.5, 0.6, 0.9, 1.2, 1.5)
] + [(0.05, z) for z in (0.0, 0.5, 0.949, 0.95, 0.951, 1.0, 1.04)]  # fmt: skip


@pytest.mark.parametrize(("p", "z"), CASES)
def test_quadratic_occultation_equals_brute_force_integration(p, z):
    for u1, u2 in ((0.0, 0.0), (0.4, 0.2), (0.2, 0.25), (0.8, -0.1)):
        exact = float(ld.quadratic_deficit(p, np.array([z]), u1, u2)[0])
        numeric = brute_deficit(p, z, u1, u2)
        assert abs(exact - numeric) < 2e-3 * p * p, (p, z, u1, u2, exact, numeric)


def test_no_overlap_and_uniform_full_overlap_are_exact():
    basis = ld.occultation_basis(0.1, np.array([1.1, 2.0, 0.5]))
    np.testing.assert_array_equal([b[:2] for b in basis], np.zeros((3, 2)))
    assert basis[0][2] == pytest.approx(0.01, abs=1e-15)  # lambda_e = p^2 inside the disc


def test_small_planet_limit_is_the_local_intensity_over_the_disc_mean():
    # The simulator's approximation (simulate.limb_darkened): deficit = p^2 I(mu) / (1 - u1/3 - u2/6).
    p, u1, u2 = 0.005, 0.3, 0.2
    for z in (0.0, 0.4, 0.8):
        mu = math.sqrt(1 - z * z)
        expected = p * p * (1 - u1 * (1 - mu) - u2 * (1 - mu) ** 2) / (1 - u1 / 3 - u2 / 6)
        assert float(ld.quadratic_deficit(p, np.array([z]), u1, u2)[0]) == pytest.approx(expected, rel=2e-4)


def test_binned_basis_is_the_bin_average_and_contacts_follow_the_chord():
    t0, speed, impact, p = 2.0, 2.0, 0.3, 0.1
    t1, t2, t3, t4 = ld.contacts_of(t0, speed, impact, p)
    assert ld.chord_distance(np.array([t1, t2]), t0, speed, impact) == pytest.approx([1 + p, 1 - p])
    fine = ld.binned_basis(np.array([t1 + 0.01]), 0.02, t0, speed, impact, p, samples=2000)
    points = ld.binned_basis(t1 + np.linspace(0, 0.02, 4001), 0.0, t0, speed, impact, p)
    np.testing.assert_allclose(fine[:, 0], points.mean(axis=1), rtol=2e-4)
    back = ld.chord_from_contacts((t1, t2, t3, t4), impact)
    assert back == pytest.approx((t0, speed, p), rel=1e-9)


def test_radius_out_of_range_is_an_error():
    with pytest.raises(ValueError, match=r"p must be in \(0, 1\), got 1.5"):
        ld.occultation_basis(1.5, np.array([0.0]))
