"""Levenberg-Marquardt with Broyden updates (arielcal.science.optimise) on problems with known minima."""

from __future__ import annotations

import numpy as np
import pytest

from arielcal.science.optimise import jacobian, levenberg_marquardt


def test_an_exponential_decay_is_fitted_exactly_and_the_jacobian_is_taken_at_the_solution():
    t = np.linspace(0.0, 4.0, 30)
    calls = []

    def residuals(x):
        calls.append(x.copy())
        return x[0] * np.exp(-x[1] * t) - 2.5 * np.exp(-0.7 * t)

    x, cost, jac = levenberg_marquardt(
        residuals, np.array([1.0, 2.0]), np.full(2, 1e-7), np.zeros(2), np.full(2, 10.0), tolerance=1e-20
    )
    np.testing.assert_allclose(x, [2.5, 0.7], rtol=1e-6)
    assert cost < 1e-12
    analytic = np.stack([np.exp(-x[1] * t), -x[0] * t * np.exp(-x[1] * t)], axis=1)
    np.testing.assert_allclose(jac, analytic, rtol=1e-5, atol=1e-6)
    assert len(calls) < 60  # secant updates: far fewer evaluations than (len(x) + 1) per iteration


def test_the_box_is_respected_and_a_minimum_on_its_edge_is_found():
    def residuals(x):
        return np.array([x[0] - 3.0, 10 * (x[1] - x[0] ** 2)])

    x, cost, _ = levenberg_marquardt(
        residuals, np.array([0.5, 0.5]), np.full(2, 1e-7), np.zeros(2), np.array([2.0, 5.0]), tolerance=1e-14
    )
    # Minimise (x0 - 3)^2 + 100 (x1 - x0^2)^2 with x0 <= 2, x1 <= 5: x0 = 2 at the bound, x1 = 4.
    np.testing.assert_allclose(x, [2.0, 4.0], atol=1e-5)
    assert cost == pytest.approx(1.0, abs=1e-8)


def test_forward_differences_step_back_at_the_upper_bound():
    def fun(x):
        return np.array([x[0] ** 2])

    jac = jacobian(fun, np.array([1.0]), fun(np.array([1.0])), np.array([1e-6]), np.array([1.0]))
    assert jac[0, 0] == pytest.approx(2.0, rel=1e-5)
