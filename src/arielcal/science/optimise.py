"""Levenberg-Marquardt in a box, with forward-difference Jacobians kept current by Broyden's
rank-one updates (the transit fits' residuals cost a model evaluation each; docs/science.md)."""

from __future__ import annotations

import numpy as np

F64 = np.float64


def jacobian(fun, x: np.ndarray, r: np.ndarray, steps: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Forward differences of ``fun`` at ``x`` (``r`` = fun(x)); a step that would leave the box
    at ``upper`` is taken backwards."""
    jac = np.empty((r.size, x.size))
    for j in range(x.size):
        xp = x.copy()
        xp[j] = xp[j] + steps[j] if xp[j] + steps[j] <= upper[j] else xp[j] - steps[j]
        jac[:, j] = (fun(xp) - r) / (xp[j] - x[j])
    return jac


def _step(normal, grad, diag, damping, free):
    dx = np.zeros(grad.size)
    system = normal[np.ix_(free, free)] + damping * np.diag(diag[free])
    try:
        dx[free] = -np.linalg.solve(system, grad[free])
    except np.linalg.LinAlgError:
        dx[free] = -np.linalg.pinv(system) @ grad[free]
    return dx


def levenberg_marquardt(
    fun,
    x0: np.ndarray,
    steps: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    iterations: int = 40,
    tolerance: float = 1e-3,
):
    """Minimise |fun(x)|^2 for ``lower`` <= x <= ``upper`` (each trial point clipped to the box;
    a parameter on a bound that the gradient pushes outwards takes no part in the step).

    The Jacobian is computed by forward differences (``steps``) at the start and then updated
    by Broyden's rank-one formula after every accepted step (one evaluation per iteration
    instead of len(x) + 1). It is computed afresh when a secant step fails or gains less than
    ``tolerance``; on a fresh Jacobian the fit stops when the Gauss-Newton step would gain less
    than ``tolerance`` (absolute: with residuals in units of their sigma, 1e-3 is a change of
    the parameters of ~0.03 sigma), when no step lowers the cost, or after ``iterations``.
    Returns (x, cost, Jacobian at x by forward differences).
    """
    x = np.clip(np.asarray(x0, F64), lower, upper)
    r = fun(x)
    cost, damping = float(r @ r), 1e-3
    jac, fresh = jacobian(fun, x, r, steps, upper), True
    for _ in range(iterations):
        normal, grad = jac.T @ jac, jac.T @ r
        diag = np.diag(normal).copy()
        diag[diag <= 0] = 1.0
        free = ~(((x <= lower) & (grad > 0)) | ((x >= upper) & (grad < 0)))
        if fresh and -(grad @ _step(normal, grad, diag, 0.0, free)) < tolerance:
            break  # the Gauss-Newton step would gain less than the tolerance
        accepted = False
        for _ in range(12 if fresh else 1):  # a failing secant step: a fresh Jacobian, not more damping
            xn = np.clip(x + _step(normal, grad, diag, damping, free), lower, upper)
            rn = fun(xn)
            cn = float(rn @ rn)
            if cn < cost:
                accepted = True
                break
            damping *= 4.0
        if not accepted:
            if fresh:
                break
            jac, fresh = jacobian(fun, x, r, steps, upper), True
            continue
        small = cost - cn < tolerance
        step = xn - x
        jac = jac + np.outer(rn - r - jac @ step, step) / (step @ step)  # Broyden: J step = rn - r
        x, r, cost, damping, fresh = xn, rn, cn, max(damping / 3.0, 1e-9), False
        if small:
            jac, fresh = jacobian(fun, x, r, steps, upper), True
    if not fresh:
        jac = jacobian(fun, x, r, steps, upper)
    return x, cost, jac
