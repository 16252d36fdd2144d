"""The quadratic limb-darkened transit: the exact occultation of Mandel & Agol (2002, ApJ 580,
L171; uniform source and quadratic law, their Table 1), with complete elliptic integrals from
Bulirsch's ``cel`` (no scipy).

A star of unit radius with intensity I(mu) = 1 - u1 (1 - mu) - u2 (1 - mu)^2 is occulted by a
dark disc of radius ``p`` (Rp/Rs) whose centre is ``z`` stellar radii from the star's centre. The
flux deficit is linear in (1, u1, u2) once (p, z) are fixed:

    deficit = (B0 + u1 B1 + u2 B2) / (1 - u1/3 - u2/6)

with B0 = lambda_e (the overlap area over pi: the uniform source), B1 = lambda_d'' - lambda_e and
B2 = 2 (lambda_d'' - lambda_e) + eta_d, lambda_d'' = lambda_d + 2/3 Theta(p - z) in the paper's
notation. :func:`occultation_basis` returns (B0, B1, B2), :func:`quadratic_deficit` the deficit.
"""

from __future__ import annotations

import numpy as np

F64 = np.float64
_CEL_TOLERANCE = 1e-8  # relative; the AGM error after stopping is ~ its square
_NUDGE = 1e-7  # z this close to p or 1 - p (the paper's removable special cases) is moved by it


def cel(kc, p, a, b) -> np.ndarray:
    """Bulirsch's general complete elliptic integral, vectorised:

    cel = int_0^{pi/2} (a cos^2 + b sin^2) / ((cos^2 + p sin^2) sqrt(cos^2 + kc^2 sin^2)) dphi.

    K(k) = cel(kc, 1, 1, 1), E(k) = cel(kc, 1, 1, kc^2), Pi(n, k) = cel(kc, 1 - n, 1, 1),
    kc = sqrt(1 - k^2). ``p`` may be negative (Cauchy principal value).
    """
    kc, p, a, b = (np.array(x, dtype=F64) for x in np.broadcast_arrays(kc, p, a, b))
    kc = np.abs(kc)
    e = kc.copy()
    m = np.ones_like(kc)
    pos = p > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(np.where(pos, p, 1.0))
        f = kc * kc
        g = 1.0 - p
        q = (1.0 - f) * (b - a * p)
        root_neg = np.sqrt(np.where(pos, 1.0, (f - p) / g))
        a_neg = (a - b) / g
        b_neg = -q / (g * g * root_neg) + a_neg * root_neg
    p = np.where(pos, root, root_neg)
    b = np.where(pos, b / root, b_neg)
    a = np.where(pos, a, a_neg)
    active = np.ones(kc.shape, bool)
    for _ in range(60):
        f = a
        a_next = a + b / p
        g = e / p
        b_next = 2.0 * (b + f * g)
        p_next = g + p
        m_old = m
        m_next = kc + m
        a, b, p, m = (np.where(active, new, old) for new, old in ((a_next, a), (b_next, b), (p_next, p), (m_next, m)))
        still = active & (np.abs(m_old - kc) > m_old * _CEL_TOLERANCE)
        kc = np.where(still, 2.0 * np.sqrt(e), kc)
        e = np.where(still, kc * m, e)
        active = still
        if not active.any():
            break
    return 0.5 * np.pi * (a * m + b) / (m * (m + p))


def _kep(k, n_param):
    """K(k), E(k), Pi(n, k) of modulus k (0 <= k <= 1) and cel parameter ``n_param`` = 1 - n, in
    one vectorised ``cel`` call (the three share kc)."""
    kc = np.sqrt(np.clip(1.0 - k * k, 0.0, None))
    n = kc.size
    one = np.ones(3 * n)
    values = cel(
        np.tile(kc, 3),
        np.concatenate([np.ones(n), np.ones(n), n_param]),
        one,
        np.concatenate([np.ones(n), kc * kc, np.ones(n)]),
    )
    return values[:n], values[n : 2 * n], values[2 * n :]


def occultation_basis(p: float, z) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B0, B1, B2) of the module docstring for a planet of radius ``p`` (0 < p < 1) at centre
    distances ``z`` >= 0 (any shape): deficit = (B0 + u1 B1 + u2 B2) / (1 - u1/3 - u2/6)."""
    p = float(p)
    if not 0.0 < p < 1.0:
        raise ValueError(f"occultation_basis: planet radius p must be in (0, 1), got {p}")
    z = np.abs(np.asarray(z, dtype=F64))
    shape = z.shape
    z = z.ravel().copy()
    for special in (p, 1.0 - p):
        close = np.abs(z - special) < _NUDGE
        z[close] = special + _NUDGE
    lam_e = np.zeros_like(z)
    lam_d = np.zeros_like(z)
    eta_d = np.zeros_like(z)
    a = (z - p) ** 2
    b = (z + p) ** 2
    q = p * p - z * z
    eta2 = 0.5 * p * p * (p * p + 2.0 * z * z)

    edge = (z > 1.0 - p) & (z < 1.0 + p)
    inside = z <= 1.0 - p
    # The elliptic integrals of both regions in one vectorised call.
    ze, ae, be, qe = z[edge], a[edge], b[edge], q[edge]
    zi, ai, bi, qi = z[inside], a[inside], b[inside], q[inside]
    k_edge = np.sqrt(np.clip((1.0 - ae) / (4.0 * ze * p), 0.0, 1.0))
    k_inside = np.sqrt(np.clip(4.0 * zi * p / (1.0 - ai), 0.0, 1.0))
    # Pi((a - 1)/a, k) on the limb, Pi((a - b)/a, 1/k) inside
    kep = _kep(np.concatenate([k_edge, k_inside]), np.concatenate([1.0 / ae, bi / ai]))
    (big_k, big_e, big_pi), (big_k_in, big_e_in, big_pi_in) = zip(*(np.split(v, [ze.size]) for v in kep), strict=True)
    if edge.any():
        kappa0 = np.arccos(np.clip((p * p + ze * ze - 1.0) / (2.0 * p * ze), -1.0, 1.0))
        kappa1 = np.arccos(np.clip((1.0 - p * p + ze * ze) / (2.0 * ze), -1.0, 1.0))
        lam_e[edge] = (
            p * p * kappa0 + kappa1 - 0.5 * np.sqrt(np.clip(4.0 * ze * ze - (1.0 + ze * ze - p * p) ** 2, 0.0, None))
        ) / np.pi
        lam_d[edge] = (
            ((1.0 - be) * (2.0 * be + ae - 3.0) - 3.0 * qe * (be - 2.0)) * big_k
            + 4.0 * p * ze * (ze * ze + 7.0 * p * p - 4.0) * big_e
            - 3.0 * qe / ae * big_pi
        ) / (9.0 * np.pi * np.sqrt(p * ze))
        eta_d[edge] = (
            kappa1
            + 2.0 * eta2[edge] * kappa0
            - 0.25 * (1.0 + 5.0 * p * p + ze * ze) * np.sqrt(np.clip((1.0 - ae) * (be - 1.0), 0.0, None))
        ) / (2.0 * np.pi)
    if inside.any():
        lam_e[inside] = p * p
        lam_d[inside] = (
            2.0
            / (9.0 * np.pi * np.sqrt(1.0 - ai))
            * (
                (1.0 - 5.0 * zi * zi + p * p + qi * qi) * big_k_in
                + (1.0 - ai) * (zi * zi + 7.0 * p * p - 4.0) * big_e_in
                - 3.0 * qi / ai * big_pi_in
            )
        )
        eta_d[inside] = eta2[inside]
    lam_d = np.where(z < p, lam_d + 2.0 / 3.0, lam_d)
    b1 = lam_d - lam_e
    return lam_e.reshape(shape), b1.reshape(shape), (2.0 * b1 + eta_d).reshape(shape)


def ld_norm(u1, u2):
    """1 - u1/3 - u2/6: the disc-integrated intensity over pi (I(mu=1) = 1)."""
    return 1.0 - np.asarray(u1, F64) / 3.0 - np.asarray(u2, F64) / 6.0


def quadratic_deficit(p: float, z, u1: float, u2: float) -> np.ndarray:
    """1 - F/F_0 for the quadratic law (exact, Mandel & Agol 2002)."""
    b0, b1, b2 = occultation_basis(p, z)
    return (b0 + u1 * b1 + u2 * b2) / ld_norm(u1, u2)


def chord_distance(t, t0: float, speed: float, impact: float) -> np.ndarray:
    """Centre distance (stellar radii) on a straight chord: sqrt(b^2 + (speed (t - t0))^2)."""
    dt = np.asarray(t, dtype=F64) - t0
    return np.sqrt(impact * impact + (speed * dt) ** 2)


def binned_basis(time, width, t0: float, speed: float, impact: float, p: float, samples: int = 7) -> np.ndarray:
    """(3, time) basis (B0, B1, B2) / p^2 averaged over bins of ``width`` centred on ``time``
    (``samples`` midpoints per bin; 1 or width 0: point values). Divided by p^2 so that
    deficit = depth * (B0 + u1 B1 + u2 B2) / norm, with depth = (Rp/Rs)^2 in the small-planet limit."""
    t = np.asarray(time, dtype=F64)
    width = np.broadcast_to(np.asarray(width, dtype=F64), t.shape)
    n = max(int(samples), 1) if np.any(width > 0) else 1
    offsets = (np.arange(n) + 0.5) / n - 0.5
    grid = t[:, None] + offsets[None, :] * width[:, None]
    basis = np.stack(occultation_basis(p, chord_distance(grid, t0, speed, impact)))
    return basis.mean(axis=2) / (p * p)


def contacts_of(t0: float, speed: float, impact: float, p: float) -> tuple[float, float, float, float]:
    """t1..t4 of a chord (t2 = t3 = t0 when the transit is grazing: no full overlap)."""
    outer = max((1.0 + p) ** 2 - impact**2, 0.0) ** 0.5 / speed
    inner = max((1.0 - p) ** 2 - impact**2, 0.0) ** 0.5 / speed
    return (t0 - outer, t0 - inner, t0 + inner, t0 + outer)


def chord_from_contacts(contacts, impact: float) -> tuple[float, float, float]:
    """(t0, speed, p) of a straight chord of impact parameter ``impact`` through trapezoid contact
    times t1..t4: T14 and T23 give (1 +- p)^2 - b^2 = (speed T/2)^2; grazing (T23 = 0) gives
    p = 1 - b. Starting values for the fit."""
    t1, t2, t3, t4 = (float(c) for c in contacts)
    t14, t23 = max(t4 - t1, 1e-12), max(t3 - t2, 0.0)
    r = 2.0 * t14**2 / max(t14**2 - t23**2, 1e-24)
    b2 = min(impact * impact, 0.999)
    p = (r - 1.0) - np.sqrt(max((r - 1.0) ** 2 - (1.0 - b2), 0.0))
    if t23 <= 0.0:  # grazing: any p > 1 - b fits the contacts; start clear of that bound
        p = max(p, 1.0 - np.sqrt(b2) + 0.05)
    p = float(np.clip(p, 1e-3, 0.5))
    speed = 2.0 * np.sqrt(max((1.0 + p) ** 2 - b2, 1e-12)) / t14
    return (0.5 * (t1 + t4), float(speed), p)
