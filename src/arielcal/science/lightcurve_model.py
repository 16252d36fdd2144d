"""Limb-darkened transit fits: one chord geometry shared by a visit's white light curves, limb
darkening per wavelength, and every channel's depth (Rp/Rs)^2 with a common-mode systematics
model, a red-noise factor and the geometry's uncertainty (docs/science.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .limb_darkening import binned_basis, chord_from_contacts, contacts_of
from .optimise import levenberg_marquardt
from .transit import binned_trapezoid

F64 = np.float64
GEOMETRY = ("t0", "speed", "impact", "radius")
GROUP_SIZES = (2, 3, 4, 6, 8, 12, 16)


@dataclass(frozen=True)
class Curve:
    """A light curve normalised by its median: flux ~ 1, weight = 1/variance (0: missing)."""

    time: np.ndarray
    flux: np.ndarray
    weight: np.ndarray
    width: float
    scale: float
    regressors: np.ndarray | None = None
    """(time, m) systematics regressors fitted with the baseline (pointing), or None."""


def normalised(time, flux, variance, width: float, regressors=None) -> Curve:
    t = np.asarray(time, F64)
    y = np.asarray(flux, F64)
    v = np.asarray(variance, F64)
    ok = np.isfinite(y) & np.isfinite(v) & (v > 0) & np.isfinite(t)
    scale = float(np.median(y[ok])) if ok.any() else 1.0
    if not np.isfinite(scale) or scale == 0:
        scale = 1.0
    weight = np.where(ok, scale * scale / np.where(ok, v, 1.0), 0.0)
    return Curve(t, np.where(ok, y / scale, 0.0), weight, float(width), scale, regressors)


def poly_design(t: np.ndarray, degree: int, centre: float, spread: float) -> np.ndarray:
    """(time, degree + 1) powers of (t - centre) / spread."""
    return np.vander((np.asarray(t, F64) - centre) / (spread or 1.0), int(degree) + 1, increasing=True)


def solve(x: np.ndarray, y: np.ndarray, w: np.ndarray):
    """Weighted least squares (rank-safe): coefficients, covariance, chi2."""
    sw = np.sqrt(w)
    a = x * sw[:, None]
    coef, *_ = np.linalg.lstsq(a, y * sw, rcond=None)
    cov = np.linalg.pinv(a.T @ a)
    resid = (y - x @ coef) * sw
    return coef, cov, float(resid @ resid)


#: Weak Gaussian prior on the free limb darkening of the white and band fits: u1 ~ N(0.3, 0.3),
#: u2 ~ N(0.2, 0.3) (typical of 1-4 um; the data dominate it at high signal-to-noise), as two
#: linear pseudo-observations A_k - mu_k A0 = 0 with sigma 0.3 |A0|: without it a noisy white
#: light curve can trade the chord for unphysical limb darkening (u1 ~ 2.5, b -> 1).
LD_PRIOR = ((0.3, 0.3), (0.2, 0.3))


#: The chord's radius^2 is tied to the most precise white light curve's depth to this fraction
#: (a physical chord: the ingress lasts ~ 2 Rp / v); without it a noisy ingress leaves the radius,
#: hence t2 and t3, loose.
RADIUS_TIE = 0.1

#: Without star_info, the impact parameter b ~ N(0.4, 0.35): the chord's b, radius and limb
#: darkening are nearly degenerate in a noisy white light curve.
IMPACT_PRIOR = (0.4, 0.35)


def solve_ld(x: np.ndarray, y: np.ndarray, w: np.ndarray):
    """:func:`solve` of a design whose last three columns are the (B0, B1, B2) amplitudes, with
    :data:`LD_PRIOR`: coefficients, covariance, chi2 (prior included) and the prior's weighted
    residuals (to append to a residual vector)."""
    coef, cov, chi2 = solve(x, y, w)
    if not np.any(x[:, -2:]):  # a shape without limb darkening (a trapezoid): no prior
        return coef, cov, chi2, np.zeros(2)
    scale = max(abs(float(coef[-3])), 1e-6)
    rows = np.zeros((2, x.shape[1]))
    for k, (mu, sigma) in enumerate(LD_PRIOR):
        rows[k, -3], rows[k, -2 + k] = -mu, 1.0
        rows[k] /= sigma * scale
    sw = np.sqrt(w)
    a = np.vstack([x * sw[:, None], rows])
    b = np.concatenate([y * sw, np.zeros(2)])
    coef, *_ = np.linalg.lstsq(a, b, rcond=None)
    cov = np.linalg.pinv(a.T @ a)
    resid = b - a @ coef
    return coef, cov, float(resid @ resid), resid[-2:]


def solve_batched(x: np.ndarray, y: np.ndarray, w: np.ndarray):
    """:func:`solve` of K problems at once: x (K, T, P), y and w (K, T)."""
    xw = x * w[:, :, None]
    normal = np.matmul(xw.transpose(0, 2, 1), x)
    rhs = np.matmul(xw.transpose(0, 2, 1), y[:, :, None])[:, :, 0]
    try:
        cov = np.linalg.inv(normal)
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(normal)
    coef = np.matmul(cov, rhs[:, :, None])[:, :, 0]
    resid = y - np.matmul(x, coef[:, :, None])[:, :, 0]
    return coef, cov, (w * resid * resid).sum(axis=1), resid


@dataclass(frozen=True)
class Geometry:
    t0: float
    speed: float
    """Stellar radii per time unit."""
    impact: float
    radius: float
    """Rp/Rs of the shape (the ingress); each channel's depth is fitted separately."""
    cov: np.ndarray
    """(4, 4) covariance of GEOMETRY (the impact's row and column 0 when it was fixed)."""

    @property
    def params(self) -> np.ndarray:
        return np.array([self.t0, self.speed, self.impact, self.radius])

    @property
    def contacts(self) -> tuple[float, float, float, float]:
        return contacts_of(self.t0, self.speed, self.impact, self.radius)

    @property
    def contact_sigmas(self) -> np.ndarray:
        """Sigma of t1..t4 from the covariance (first order, by finite differences)."""
        base = np.array(self.contacts)
        jac = np.zeros((4, 4))
        for i in range(4):
            step = 1e-6 * max(abs(self.params[i]), 1e-3)
            jac[:, i] = (np.array(self.moved(i, step).contacts) - base) / step
        return np.sqrt(np.maximum(np.einsum("ci,ij,cj->c", jac, self.cov, jac), 0.0))

    def moved(self, index: int, step: float) -> Geometry:
        values = self.params
        values[index] += step
        return Geometry(*values, cov=self.cov)

    def basis(self, time: np.ndarray, width: float, samples: int) -> np.ndarray:
        """(3, time) bin-averaged occultation basis over radius^2 (limb_darkening.binned_basis)."""
        impact = min(self.impact, 1.0 + self.radius - 1e-6)
        return binned_basis(time, width, self.t0, self.speed, impact, self.radius, samples)


@dataclass(frozen=True)
class TrapezoidShape:
    """The fallback shape when a trapezoid fits the white light curves better than any chord
    (e.g. a simulator's linear ingress): B0 = the bin-averaged trapezoid, no limb darkening, no
    geometry error propagated (``cov`` zero)."""

    t1: float
    t2: float
    t3: float
    t4: float
    cov: np.ndarray = field(default_factory=lambda: np.zeros((4, 4)))
    speed: float = 1.0
    radius: float = 1.0

    @property
    def t0(self) -> float:
        return 0.5 * (self.t1 + self.t4)

    @property
    def contacts(self) -> tuple[float, float, float, float]:
        return (self.t1, self.t2, self.t3, self.t4)

    @property
    def contact_sigmas(self) -> np.ndarray:
        return np.zeros(4)

    @property
    def params(self) -> np.ndarray:
        return np.array(self.contacts)

    def basis(self, time: np.ndarray, width, samples: int) -> np.ndarray:
        width = float(np.median(np.asarray(width, F64)))
        shape = binned_trapezoid(np.asarray(time, F64), self.contacts, width)
        return np.stack([shape, np.zeros_like(shape), np.zeros_like(shape)])


def _white_design(curve: Curve, basis: np.ndarray, degree: int, centre: float, spread: float) -> np.ndarray:
    extra = [] if curve.regressors is None else [curve.regressors]
    return np.hstack([poly_design(curve.time, degree, centre, spread), *extra, -basis.T])


def orthogonal_to_polynomial(time, weight, regressors: np.ndarray, degree: int) -> np.ndarray:
    """``regressors`` (time, m) minus their weighted least-squares polynomial of ``degree`` in time:
    a regressor with a mean or a trend (a drift template) then cannot share the level with the
    baseline's constant term, so the level, hence depth = amplitude / level, stays the polynomial's."""
    if regressors.shape[1] == 0:
        return regressors
    poly = poly_design(time, degree, float(np.mean(time)), max(np.ptp(time), 1e-9))
    w = np.asarray(weight, F64)[:, None]
    coef = np.linalg.lstsq(poly.T @ (w * poly), poly.T @ (w * regressors), rcond=None)[0]
    return regressors - poly @ coef


@dataclass(frozen=True)
class WhiteFit:
    """One white light curve's fit at the shared geometry."""

    degree: int
    coef: np.ndarray
    """Polynomial baseline (degree + 1), then the amplitudes of (B0, B1, B2)."""
    cov: np.ndarray
    chi2: float
    dof: int
    u1: float
    u2: float
    depth: float
    sigma: float
    systematics: np.ndarray
    """The baseline's relative variation in time (its mean removed): f(t) of 1 + f(t) g(lambda)."""
    residual: np.ndarray
    """Data minus model, relative: the common-mode template of short-time systematics (jitter)."""
    model: np.ndarray
    template_errors: np.ndarray | None = None
    """(direction, time, 2): one-sigma changes of (systematics, residual) along the eigenvectors
    of the baseline polynomial's covariance (scaled by max(1, chi2/dof)). The templates carry
    the white fit's baseline error into every channel alike; :func:`channel_depths` propagates it."""


def _common_mode(curve: Curve, x: np.ndarray, coef: np.ndarray, n_poly: int):
    """(systematics, residual) of a white fit with design ``x`` and coefficients ``coef``."""
    level = float(coef[0]) or 1.0
    good = curve.weight > 0
    systematics = x[:, :n_poly] @ coef[:n_poly] / level - 1.0
    systematics -= systematics[good].mean() if good.any() else 0.0
    return systematics, np.where(good, (curve.flux - x @ coef) / level, 0.0)


def _depth_of(amplitudes: np.ndarray, level: float, cov: np.ndarray | None = None):
    """(depth, sigma, u1, u2) from the amplitudes of (B0, B1, B2): depth = A0 - A1/3 - A2/6."""
    grad = np.array([1.0, -1.0 / 3.0, -1.0 / 6.0]) / level
    depth = float(grad @ amplitudes)
    sigma = float(np.sqrt(max(grad @ cov @ grad, 0.0))) if cov is not None else np.nan
    a0 = amplitudes[0]
    return depth, sigma, float(amplitudes[1] / a0) if a0 else 0.0, float(amplitudes[2] / a0) if a0 else 0.0


def fit_white(curve: Curve, geometry: Geometry, degree: int, samples: int, basis: np.ndarray | None = None) -> WhiteFit:
    """The curve's baseline and limb-darkened amplitudes at ``geometry`` (``basis``: its
    (3, time) basis on the curve's bins, when already computed)."""
    centre, spread = geometry.t0, max(np.ptp(curve.time), 1e-9)
    if basis is None:
        basis = geometry.basis(curve.time, curve.width, samples)
    x = _white_design(curve, basis, degree, centre, spread)
    coef, cov, chi2, _ = solve_ld(x, curve.flux, curve.weight)
    n_poly = degree + 1
    level = float(coef[0]) or 1.0
    depth, sigma, u1, u2 = _depth_of(coef[-3:], level, cov[-3:, -3:])
    model = x @ coef
    good = curve.weight > 0
    systematics, residual = _common_mode(curve, x, coef, n_poly)
    dof = int(good.sum()) - x.shape[1]
    values, vectors = np.linalg.eigh(cov[:n_poly, :n_poly] * max(1.0, chi2 / dof if dof > 0 else 1.0))
    errors = []
    for value, vector in zip(values, vectors.T, strict=True):
        if value > 0:
            moved = coef.copy()
            moved[:n_poly] += np.sqrt(value) * vector
            errors.append(
                np.stack(_common_mode(curve, x, moved, n_poly), axis=1) - np.stack([systematics, residual], axis=1)
            )
    errors = np.stack(errors) if errors else np.zeros((0, curve.time.size, 2))
    return WhiteFit(degree, coef, cov, chi2, dof, u1, u2, depth, sigma, systematics, residual, model, errors)


def choose_degree(curve: Curve, geometry: Geometry, degrees, samples: int) -> int:
    """The baseline degree of smallest BIC = chi2 + k ln n (the polynomial and the three LD amplitudes)."""
    n = max(int((curve.weight > 0).sum()), 1)
    basis = geometry.basis(curve.time, curve.width, samples)
    scores = [(fit_white(curve, geometry, d, samples, basis).chi2 + (d + 4) * np.log(n), d) for d in degrees]
    return min(scores)[1]


@dataclass(frozen=True)
class ProjectedBaseline:
    """A white light curve's baseline columns (polynomial and regressors), whitened and
    orthonormalised once, so that each step of the chord fit solves only the three occultation
    amplitudes, the baseline eliminated exactly (variable projection): the same coefficients and
    chi2 as :func:`solve_ld` of the whole design."""

    sw: np.ndarray
    """sqrt(weight)."""
    u: np.ndarray
    """(time, rank) orthonormal basis of the whitened baseline columns."""
    y_perp: np.ndarray
    """Whitened flux minus its projection on ``u``."""
    uy: np.ndarray
    poly: np.ndarray
    """(degree + 1, rank): the polynomial coefficients from projections on ``u``."""
    centre: float
    spread: float

    @classmethod
    def of(cls, curve: Curve, degree: int, centre: float, spread: float) -> ProjectedBaseline:
        sw = np.sqrt(curve.weight)
        fixed = _white_design(curve, np.zeros((0, curve.time.size)), degree, centre, spread) * sw[:, None]
        u, sv, vt = np.linalg.svd(fixed, full_matrices=False)
        keep = sv > sv[0] * max(fixed.shape) * np.finfo(F64).eps if sv.size else np.zeros(0, bool)
        u, sv, vt = u[:, keep], sv[keep], vt[keep]
        yw = curve.flux * sw
        uy = u.T @ yw
        return cls(sw, u, yw - u @ uy, uy, (vt.T / sv)[: degree + 1], float(centre), float(spread))

    def solve(self, basis: np.ndarray, at: float, normal_out: list | None = None):
        """(amplitudes of (B0, B1, B2), level = the baseline at time ``at``, whitened residuals,
        the limb-darkening prior's residuals) for a (3, time) basis; ``normal_out``: a list that
        receives the amplitudes' normal matrix (prior included; its inverse is their covariance)."""
        bw = basis.T * -self.sw[:, None]
        ub = self.u.T @ bw
        bp = bw - self.u @ ub
        normal, rhs = bp.T @ bp, bp.T @ self.y_perp
        amplitudes = np.linalg.lstsq(normal, rhs, rcond=None)[0]
        prior = np.zeros(2)
        if np.any(basis[1:]):  # limb darkening: LD_PRIOR as two pseudo-observations (solve_ld)
            scale = max(abs(float(amplitudes[0])), 1e-6)
            rows = np.zeros((2, 3))
            for k, (mu, sigma) in enumerate(LD_PRIOR):
                rows[k, 0], rows[k, 1 + k] = -mu / (sigma * scale), 1.0 / (sigma * scale)
            normal = normal + rows.T @ rows
            amplitudes = np.linalg.lstsq(normal, rhs, rcond=None)[0]
            prior = -(rows @ amplitudes)
        if normal_out is not None:
            normal_out.append(normal)
        poly = self.poly @ (self.uy - ub @ amplitudes)
        level = float(np.polynomial.polynomial.polyval((at - self.centre) / (self.spread or 1.0), poly))
        return amplitudes, level, self.y_perp - bp @ amplitudes, prior


def fit_geometry(
    curves,
    contacts,
    degrees,
    impact: float | None = None,
    samples: int = 7,
    start_at: Geometry | None = None,
    tie_radius: bool = True,
    depths=None,
) -> Geometry:
    """The chord (t0, speed, impact, radius) shared by white light curves, from trapezoid
    contact times; each curve has its own baseline polynomial (degree per curve) and free
    quadratic limb darkening, solved exactly at every step (variable projection). ``impact``
    given (star_info): held fixed. ``start_at``: start there instead. ``tie_radius``: radius^2
    held to the most precise curve's depth within RADIUS_TIE (a physical chord). ``depths``: the
    trapezoid's depth per curve; the radius starts at the square root of the most precise one's
    (the tie's target; the contact times alone give a poor radius on few bins) and the speed at
    the chord through t1 and t4. Covariance: (J^T J)^-1 times max(1, chi2/dof) times the largest
    red-noise factor^2."""
    guess_impact = 0.3 if impact is None else float(impact)
    t0, speed, radius = chord_from_contacts(contacts, guess_impact)
    best = int(np.argmax([c.weight.sum() for c in curves]))  # the most precise curve ties the radius
    if depths is not None and np.isfinite(depths[best]) and 4e-6 < depths[best] < 0.25:
        radius = float(np.sqrt(depths[best]))
        speed = 2.0 * np.sqrt(max((1.0 + radius) ** 2 - guess_impact**2, 1e-12)) / max(contacts[3] - contacts[0], 1e-12)
    span = max(max(np.ptp(c.time) for c in curves), 1e-9)
    free = [0, 1, 3] if impact is not None else [0, 1, 2, 3]
    start = np.array([t0, speed, guess_impact, radius]) if start_at is None else start_at.params
    lower = np.array([min(c.time.min() for c in curves), 1e-3 / span, 0.0, 2e-3])
    upper = np.array([max(c.time.max() for c in curves), 1e3 / span, 1.4, 0.5])

    def full(x):
        values = start.copy()
        values[free] = x
        return values

    # One model evaluation for every curve: the bins of all curves at once (split below).
    times = np.concatenate([c.time for c in curves])
    widths = np.concatenate([np.full(c.time.size, c.width) for c in curves])
    edges = np.cumsum([c.time.size for c in curves])[:-1]

    baselines = [
        ProjectedBaseline.of(c, d, 0.5 * (c.time.min() + c.time.max()), span)
        for c, d in zip(curves, degrees, strict=True)
    ]

    def residuals(x):
        tie = 0.0
        g = Geometry(*full(x), cov=np.zeros((4, 4)))
        bases = np.split(g.basis(times, widths, samples), edges, axis=1)
        parts = []
        for k, (baseline, basis) in enumerate(zip(baselines, bases, strict=True)):
            amplitudes, level, resid, prior = baseline.solve(basis, g.t0)
            parts.append(np.concatenate([resid, prior]))
            if k == best and tie_radius:
                depth = _depth_of(amplitudes, level or 1.0)[0]
                tie = (g.radius**2 - depth) / (RADIUS_TIE * max(abs(depth), 1e-6))
        if tie_radius:
            parts.append(np.array([tie]))
        if impact is None:  # a weak prior on a free impact parameter (IMPACT_PRIOR)
            parts.append(np.array([(g.impact - IMPACT_PRIOR[0]) / IMPACT_PRIOR[1]]))
        return np.concatenate(parts)

    steps = np.array([1e-4 * span, 1e-4 * speed, 1e-4, 1e-4 * radius])[free]
    # A chi2 gain below 0.01 moves the chord by < 0.1 sigma (and a depth by far less than its sigma).
    x, cost, jac = levenberg_marquardt(residuals, start[free], steps, lower[free], upper[free], tolerance=1e-2)
    n = sum(int((c.weight > 0).sum()) for c in curves)
    dof = max(n - len(free) - sum(d + 4 for d in degrees), 1)
    # Correlated residuals (jitter left over, stellar noise) make the contacts less certain
    # than white noise says: the covariance also takes the largest red-noise factor^2 of the curves.
    split = np.cumsum([c.time.size + 2 for c in curves])
    parts = [r[:-2] for r in np.split(residuals(x)[: split[-1]], split[:-1])]  # without the priors
    beta2 = max(
        float(
            red_noise_factor((r / np.sqrt(max(r @ r / max(r.size, 1), 1e-300)))[:, None], (c.weight > 0)[:, None])[0]
            ** 2
        )
        for r, c in zip(parts, curves, strict=True)
    )
    cov = np.zeros((4, 4))
    if jac is not None:
        cov[np.ix_(free, free)] = np.linalg.pinv(jac.T @ jac) * max(1.0, cost / dof) * beta2
    return Geometry(*full(x), cov=cov)


def red_noise_factor(residual: np.ndarray, valid: np.ndarray, sizes=GROUP_SIZES) -> np.ndarray:
    """Time-averaging beta per channel (Pont et al. 2006; Winn et al. 2008): residual/sigma
    (time, channel) averaged over groups of M bins should scatter as 1/sqrt(M). beta^2 is the
    mean over the group sizes of M times the mean square group average, weighted by the number
    of groups (each estimate's inverse variance under white noise), floored at 1."""
    n_times = residual.shape[0]
    total = np.zeros(residual.shape[1])
    weight = np.zeros(residual.shape[1])
    e = np.where(valid, residual, 0.0)
    for m in sizes:
        groups = n_times // m
        if groups < 4:
            continue
        counts = valid[: groups * m].reshape(groups, m, -1).sum(axis=1)
        sums = e[: groups * m].reshape(groups, m, -1).sum(axis=1)
        full = counts == m
        n_full = full.sum(axis=0)
        total += np.where(full, (sums / m) ** 2, 0.0).sum(axis=0) * m
        weight += n_full
    with np.errstate(invalid="ignore", divide="ignore"):
        beta2 = total / weight
    return np.sqrt(np.maximum(np.where(np.isfinite(beta2), beta2, 1.0), 1.0))
