"""Every channel's depth at a visit's transit shape: limb darkening per wavelength from bands of
channels, then one linear fit per channel (all at once) with the common-mode templates, the
red-noise factor and the shape's error (docs/science.md)."""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np

from .lightcurve_model import (
    Geometry,
    ProjectedBaseline,
    fit_white,
    normalised,
    poly_design,
    red_noise_factor,
    solve,
    solve_batched,
)
from .limb_darkening import ld_norm

F64 = np.float64


@dataclass(frozen=True)
class ChannelDepths:
    depth: np.ndarray
    sigma: np.ndarray
    """White-noise sigma x noise_ratio x red_noise, with the geometry's error added in quadrature."""
    sigma_white: np.ndarray
    noise_ratio: np.ndarray
    red_noise: np.ndarray
    sigma_geometry: np.ndarray
    u1: np.ndarray
    u2: np.ndarray
    in_transit: np.ndarray
    """(time,) bool: bins where the model occults the star."""
    sigma_common: np.ndarray | None = None
    """The common-mode templates' error (the white fit's baseline uncertainty) propagated to
    each depth; in ``sigma`` in quadrature. None: not propagated."""


def limb_darkening_bands(curve_set, templates, degree: int, bands: int) -> list:
    """The summed light curves of ``bands`` contiguous groups of the channels finite at every time,
    each as (channel indices, :class:`ProjectedBaseline` of its polynomial and ``templates``):
    what :func:`band_limb_darkening` fits at any geometry, prepared once."""
    time, flux, variance, width = curve_set
    usable = np.all(np.isfinite(flux) & np.isfinite(variance), axis=0)
    idx = np.flatnonzero(usable)
    n_bands = min(int(bands), idx.size)
    out = []
    for group in np.array_split(idx, n_bands) if n_bands >= 1 else []:
        curve = normalised(time, flux[:, group].sum(axis=1), variance[:, group].sum(axis=1), width, templates)
        out.append((group, ProjectedBaseline.of(curve, degree, float(np.mean(time)), max(np.ptp(time), 1e-9))))
    return out


def band_limb_darkening(
    curve_set, geometry: Geometry, wavelengths, templates, degree: int, samples: int, bands: int, prepared=None
):
    """(u1, u2) per channel: free limb darkening fitted on the summed light curves of ``bands``
    contiguous groups of channels, then a weighted straight line in 1/wavelength per coefficient
    (a constant for fewer than 3 bands, the white light curve's for one channel). ``prepared``:
    :func:`limb_darkening_bands` of the same arguments (the bands do not change with the geometry)."""
    time, flux, variance, width = curve_set
    n_channels = flux.shape[1]
    prepared = limb_darkening_bands(curve_set, templates, degree, bands) if prepared is None else prepared
    if not prepared:
        return np.zeros(n_channels), np.zeros(n_channels)
    estimates = []
    basis = geometry.basis(np.asarray(time, F64), width, samples)  # the same bins for every band
    for group, projected in prepared:
        normal = []
        amp = projected.solve(basis, geometry.t0, normal)[0]
        if amp[0] <= 0:
            continue
        acov = np.linalg.pinv(normal[0])
        jac = np.array([[-amp[1] / amp[0] ** 2, 1 / amp[0], 0.0], [-amp[2] / amp[0] ** 2, 0.0, 1 / amp[0]]])
        ucov = jac @ acov @ jac.T
        lam = np.nanmean(np.asarray(wavelengths, F64)[group]) if wavelengths is not None else np.nan
        estimates.append((lam, amp[1] / amp[0], amp[2] / amp[0], ucov[0, 0], ucov[1, 1]))
    if not estimates:
        return np.zeros(n_channels), np.zeros(n_channels)
    lam, u1, u2, v1, v2 = (np.array(e, F64) for e in zip(*estimates, strict=True))
    inv_lam = 1.0 / np.asarray(wavelengths, F64) if wavelengths is not None else np.zeros(n_channels)
    out = []
    for u, var in ((u1, v1), (u2, v2)):
        w = 1.0 / np.where(np.isfinite(var) & (var > 0), var, np.inf)
        if len(u) >= 3 and np.all(np.isfinite(lam)) and w.sum() > 0:
            coef, _, _ = solve(np.stack([np.ones_like(lam), 1.0 / lam], axis=1), u, w)
            out.append(np.where(np.isfinite(inv_lam), coef[0] + coef[1] * inv_lam, coef[0]))
        else:
            mean = (w * u).sum() / w.sum() if w.sum() > 0 else float(np.mean(u))
            out.append(np.full(n_channels, mean))
    return out[0], out[1]


def _channel_fit(curve_set, geometry, u1, u2, templates, degree: int, samples: int):
    """Linear fit of every channel: polynomial + templates - depth * shape; returns depth,
    white-noise sigma, chi2, dof, normalised residuals and validity."""
    time, flux, variance, width = curve_set
    y = np.asarray(flux, F64).T  # (K, T)
    v = np.asarray(variance, F64).T
    valid = np.isfinite(y) & np.isfinite(v) & (v > 0)
    if valid.all():
        scale = np.median(y, axis=1)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a channel without a valid bin: scale 1 below
            scale = np.nanmedian(np.where(valid, y, np.nan), axis=1)
    scale = np.where(np.isfinite(scale) & (scale != 0), scale, 1.0)
    yn = np.where(valid, y / scale[:, None], 0.0)
    w = np.where(valid, scale[:, None] ** 2 / np.where(valid, v, 1.0), 0.0)
    basis = geometry.basis(time, width, samples)  # (3, T)
    shape = (basis[0][None] + u1[:, None] * basis[1][None] + u2[:, None] * basis[2][None]) / ld_norm(u1, u2)[:, None]
    common = np.hstack([poly_design(time, degree, geometry.t0, max(np.ptp(time), 1e-9)), templates])  # (T, P-1)
    x = np.concatenate([np.broadcast_to(common, (y.shape[0], *common.shape)), -shape[:, :, None]], axis=2)
    coef, cov, chi2, resid = solve_batched(x, yn, w)
    level = coef[:, 0]
    depth = coef[:, -1] / level
    var = (
        cov[:, -1, -1] / level**2
        + (coef[:, -1] / level**2) ** 2 * cov[:, 0, 0]
        - 2 * coef[:, -1] / level**3 * cov[:, 0, -1]
    )
    dof = valid.sum(axis=1) - x.shape[2]
    return depth, np.sqrt(np.maximum(var, 0.0)), chi2, dof, (resid * np.sqrt(w)).T, valid.T, shape


def channel_depths(
    curve_set, geometry: Geometry, templates, degree: int, ld, samples: int = 7, bands: int = 8, template_errors=None
) -> ChannelDepths:
    """Every channel's depth (Rp/Rs)^2: flux = poly(t) + sum_m c_m template_m(t) - depth * S(t),
    S the limb-darkened shape of ``geometry`` with the channel's (u1, u2) (``ld``: a function of
    the geometry giving them, refitted for the geometry's error). ``curve_set`` = (time, flux
    (time, channel), variance, width); ``templates`` (time, m) common-mode regressors;
    ``template_errors`` (direction, time, m): independent one-sigma errors of the templates (the
    white fit's baseline uncertainty, :class:`WhiteFit`), each refitted and summed in quadrature
    as ``sigma_common``: they are common to every channel, so the noise ratio cannot show them."""
    u1, u2 = ld(geometry)
    depth, sigma, chi2, dof, resid, valid, shape = _channel_fit(curve_set, geometry, u1, u2, templates, degree, samples)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(dof > 0, np.sqrt(chi2 / np.maximum(dof, 1)), np.nan)
        red = red_noise_factor(resid / np.where(np.isfinite(ratio), ratio, 1.0)[None, :], valid)
    # The geometry's error, propagated by finite differences (limb darkening refitted).
    grads = []
    # Steps of one sigma, at most a small fraction of each parameter's scale (linear regime).
    limits = (1e-2 / max(geometry.speed, 1e-9), 1e-2 * geometry.speed, 1e-2, 1e-2 * geometry.radius)
    for i in range(4):
        step = min(np.sqrt(geometry.cov[i, i]), limits[i]) if geometry.cov[i, i] > 0 else 0.0
        if step == 0:
            grads.append(np.zeros_like(depth))
            continue
        moved = geometry.moved(i, step)
        mu1, mu2 = ld(moved)
        grads.append((_channel_fit(curve_set, moved, mu1, mu2, templates, degree, samples)[0] - depth) / step)
    g = np.stack(grads, axis=1)
    sigma_geometry = np.sqrt(np.maximum(np.einsum("ki,ij,kj->k", g, geometry.cov, g), 0.0))
    sigma_common = np.zeros_like(depth)
    for error in np.zeros((0, *np.shape(templates))) if template_errors is None else template_errors:
        moved = _channel_fit(curve_set, geometry, u1, u2, templates + error, degree, samples)[0]
        sigma_common = np.hypot(sigma_common, moved - depth)
    sigma_white = sigma * np.where(np.isfinite(ratio), ratio, 1.0) * red
    total = np.sqrt(sigma_white**2 + sigma_geometry**2 + sigma_common**2)
    bad = (dof <= 0) | ~np.isfinite(depth)
    nan = np.where(bad, np.nan, 1.0)
    return ChannelDepths(
        depth * nan, total * nan, sigma, ratio * nan, red, sigma_geometry, u1, u2, shape.max(axis=0) > 0, sigma_common
    )


def single_channel_depths(
    curve, geometry: Geometry, degree: int, samples: int = 7, regressor_errors=None
) -> ChannelDepths:
    """The depth of a single-channel instrument (FGS1) from its own light curve ``curve`` (a
    normalised :class:`Curve` whose ``regressors`` carry its systematics basis): the white fit's
    free limb darkening (LD_PRIOR) marginalised in the sigma, not fixed at its best value, so
    the degeneracy of the depth with the limb darkening of a single band is in it. Sigma =
    sigma_lsq x noise_ratio x red-noise factor, with the geometry's error (refitted at each
    moved geometry) and ``regressor_errors`` (direction, time, m: one-sigma errors of the
    regressors, refitted) in quadrature."""
    fit = fit_white(curve, geometry, degree, samples)
    good = curve.weight > 0
    ratio = np.sqrt(fit.chi2 / fit.dof) if fit.dof > 0 else np.nan
    resid = ((curve.flux - fit.model) * np.sqrt(curve.weight))[:, None] / (ratio if np.isfinite(ratio) else 1.0)
    red = red_noise_factor(resid, good[:, None])
    grads = np.zeros(4)
    limits = (1e-2 / max(geometry.speed, 1e-9), 1e-2 * geometry.speed, 1e-2, 1e-2 * geometry.radius)
    for i in range(4):
        step = min(np.sqrt(geometry.cov[i, i]), limits[i]) if geometry.cov[i, i] > 0 else 0.0
        if step > 0:
            grads[i] = (fit_white(curve, geometry.moved(i, step), degree, samples).depth - fit.depth) / step
    sigma_geometry = np.sqrt(max(grads @ geometry.cov @ grads, 0.0))
    sigma_common = 0.0
    for error in () if regressor_errors is None else regressor_errors:
        moved = dataclasses.replace(curve, regressors=curve.regressors + error)
        sigma_common = np.hypot(sigma_common, fit_white(moved, geometry, degree, samples).depth - fit.depth)
    sigma_white = fit.sigma * (ratio if np.isfinite(ratio) else 1.0) * red
    total = np.sqrt(sigma_white**2 + sigma_geometry**2 + sigma_common**2)
    bad = fit.dof <= 0 or not np.isfinite(fit.depth)
    nan = np.nan if bad else 1.0
    shape = geometry.basis(curve.time, curve.width, samples)[0]
    return ChannelDepths(
        np.array([fit.depth * nan]), total * nan, np.array([fit.sigma]), np.array([ratio * nan]), red,
        np.array([sigma_geometry]), np.array([fit.u1]), np.array([fit.u2]), shape > 0, np.array([sigma_common]),
    )  # fmt: skip
