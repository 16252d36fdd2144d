"""The transit window (a trapezoid fitted jointly to white light curves) and the depth of every channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .optimise import levenberg_marquardt

F64 = np.float64


@dataclass(frozen=True)
class Window:
    """A symmetric trapezoid transit fitted to one or more simultaneous white light curves
    (times in the input unit)."""

    t1: float
    t2: float
    t3: float
    t4: float
    depths: tuple[float, ...]
    """Fractional depth of the fitted trapezoid, per light curve."""
    snrs: tuple[float, ...]
    """Each depth over its least-squares sigma (with the given or unit variances)."""

    @property
    def contacts(self) -> tuple[float, float, float, float]:
        return (self.t1, self.t2, self.t3, self.t4)

    @property
    def depth(self) -> float:
        return self.depths[0]

    @property
    def snr(self) -> float:
        return self.snrs[0]


def trapezoid(t: np.ndarray, contacts) -> np.ndarray:
    """0 out of transit, 1 on the flat bottom, linear ingress and egress (t1 < t2 <= t3 < t4)."""
    t1, t2, t3, t4 = contacts
    t = np.asarray(t, dtype=F64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ingress = np.where(t2 > t1, (t - t1) / (t2 - t1), np.where(t >= t1, 1.0, 0.0))
        egress = np.where(t4 > t3, (t4 - t) / (t4 - t3), np.where(t <= t4, 1.0, 0.0))
    return np.clip(np.minimum(ingress, egress), 0.0, 1.0)


def _ramp_integral(u: np.ndarray, length) -> np.ndarray:
    """Integral from -inf to ``u`` of a unit ramp rising over [0, length] (a step for length 0)."""
    u = np.maximum(u, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(u < length, u * u / (2.0 * length), u - 0.5 * length)


def binned_trapezoid(t: np.ndarray, contacts, width: float) -> np.ndarray:
    """:func:`trapezoid` averaged over time bins of ``width`` centred on ``t``, exactly.

    The trapezoid is the ingress ramp (t1 -> t2) minus a ramp rising over the egress (t3 -> t4),
    so its integral is a difference of two :func:`_ramp_integral`; the bin average is that
    integral's difference across the bin over the width (``width`` 0: the trapezoid itself).
    """
    t1, t2, t3, t4 = contacts
    t = np.asarray(t, dtype=F64)
    if width <= 0:
        return trapezoid(t, contacts)

    def integral(x):
        return _ramp_integral(x - t1, t2 - t1) - _ramp_integral(x - t3, t4 - t3)

    return (integral(t + width / 2) - integral(t - width / 2)) / width


def _ramp_part(u: np.ndarray, length: np.ndarray, inv_2length: np.ndarray) -> np.ndarray:
    """:func:`_ramp_integral` + length / 2, in place in ``u``: with v = max(u, 0) it is
    v + max(length - v, 0)^2 / (2 length) (0 for length 0), and the constant cancels in
    the differences the models take."""
    np.maximum(u, 0.0, out=u)
    rest = np.subtract(length, u)
    np.maximum(rest, 0.0, out=rest)
    rest *= rest
    rest *= inv_2length
    u += rest
    return u


def _models(t, width, mid, half, half_flat):
    """:func:`binned_trapezoid` shapes (models, time) for arrays of mid-time, half total duration
    (t4 - t1)/2 and half flat-bottom duration (t3 - t2)/2 of symmetric transits, at once.

    The window search evaluates ~10^7 bins per visit at full size: the four ramp integrals run
    in place (:func:`_ramp_part`), without temporaries per operation."""
    ramp = (half - half_flat)[:, None]
    with np.errstate(divide="ignore"):
        inv_2ramp = np.where(ramp > 0, 0.5 / ramp, 0.0)
    t1, t3 = (mid - half)[:, None], (mid + half_flat)[:, None]
    lower, upper = t[None, :] - width / 2, t[None, :] + width / 2
    total = _ramp_part(upper - t1, ramp, inv_2ramp)
    total -= _ramp_part(upper - t3, ramp, inv_2ramp)
    total -= _ramp_part(lower - t1, ramp, inv_2ramp)
    total += _ramp_part(lower - t3, ramp, inv_2ramp)
    total /= width
    return total


class _Curve(NamedTuple):
    """One white light curve as the window search uses it: finite bins only, the flux over its
    median, weights 1/variance, and its baseline basis (a straight line, plus the curve's
    systematics regressors) as ``q`` (time, p), orthonormal under the weights (q' W q = I), with
    ``wq`` = W q and ``qy`` = q' W y."""

    t: np.ndarray
    y: np.ndarray
    w: np.ndarray
    width: float
    q: np.ndarray
    wq: np.ndarray
    qy: np.ndarray


def _dip_scores(qy, shape_wq, shape_wshape, shape_wy):
    """Weighted least squares of y = baseline - a * shape, from the sums over the bins of W q
    times the shape (``shape_wq``, (models, p)), of w shape^2 and of w shape y of every candidate
    shape, and the curve's ``qy``. The shape is projected off the baseline basis: a slow drift
    across the visit then tilts the baseline instead of pulling the window towards the lower
    end, and pointing jitter moves the baseline instead of the contacts.

    Returns the chi2 reduction over the baseline alone (0 unless a > 0: only dips count), a and
    var(a)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        # s'Ws and s'Wy with the baseline projected out
        ss = shape_wshape - np.einsum("...p,...p->...", shape_wq, shape_wq)
        sy = shape_wy - shape_wq @ qy
        a = -sy / ss
        gain = np.where((ss > 0) & (a > 0), sy * sy / ss, 0.0)
        var_a = 1.0 / ss
    return gain, a, var_a


def _fit_scores(curve: _Curve, shapes):
    """:func:`_dip_scores` of each model (row of ``shapes``) for one curve."""
    return _dip_scores(curve.qy, shapes @ curve.wq, (shapes * shapes) @ curve.w, shapes @ (curve.w * curve.y))


def _fit_one(curve: _Curve, shape):
    """(a, var(a), baseline (time,)) of y = baseline - a * shape for one shape."""
    _, a, var_a = (float(v[0]) for v in _fit_scores(curve, shape[None, :]))
    with np.errstate(invalid="ignore"):
        baseline = curve.q @ (curve.qy + a * (shape @ curve.wq))
    return a, var_a, baseline


def _depth(curve: _Curve, shape, mid: float):
    """(relative depth, its S/N) of one curve for one shape: a over the baseline at mid-transit."""
    a, var_a, baseline = _fit_one(curve, shape)
    return a / np.interp(mid, curve.t, baseline), (a / np.sqrt(var_a) if var_a > 0 else np.nan)


def detect_window(
    time: np.ndarray,
    flux: np.ndarray,
    variance: np.ndarray | None = None,
    width: float | None = None,
    **search,
) -> Window:
    """The transit window of one white light curve: :func:`detect_joint_window` of one curve."""
    return detect_joint_window([(time, flux, variance, width)], **search)


def _prepared(curve, with_regressors: bool = True) -> _Curve | None:
    time, flux, variance, width, *rest = curve
    if not with_regressors:
        rest = []
    t = np.asarray(time, dtype=F64)
    y = np.asarray(flux, dtype=F64)
    w = np.ones_like(y) if variance is None else 1.0 / np.asarray(variance, dtype=F64)
    regressors = np.zeros((t.size, 0)) if not rest or rest[0] is None else np.asarray(rest[0], dtype=F64)
    regressors = regressors.reshape(t.size, -1)
    keep = np.isfinite(t) & np.isfinite(y) & np.isfinite(w) & (w > 0) & np.isfinite(regressors).all(axis=1)
    t, y, w, regressors = t[keep], y[keep], w[keep], regressors[keep]
    if t.size < 5 + regressors.shape[1]:
        return None
    scale = np.median(y)
    if width is None:
        width = float(np.median(np.diff(t)))
    w = w * scale**2
    y = y / scale
    # the time about its weighted mean keeps the line's columns well conditioned
    tau = t - (w * t).sum() / w.sum()
    # An orthonormal basis of the baseline under the weights (singular directions dropped: a
    # regressor that repeats the line or another one adds nothing).
    root_w = np.sqrt(w)
    u, singular, _ = np.linalg.svd(
        root_w[:, None] * np.column_stack([np.ones_like(t), tau, regressors]), full_matrices=False
    )
    u = u[:, singular > singular[0] * 1e-10]
    wq = root_w[:, None] * u
    return _Curve(t, y, w, float(width), u / root_w[:, None], wq, wq.T @ y)


def _box_sums(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The sums of ``values`` over every box from edge i to edge j (bins index[i]:index[j])."""
    prefix = np.concatenate([[0.0], np.cumsum(values)])[index]
    return prefix[None, :] - prefix[:, None]


def _with_significant_regressors(full: _Curve, line: _Curve, mid: float, half: float, flat: float) -> _Curve:
    """``full`` (the line plus the curve's regressors) where the regressors lower the chi2 about
    the search's best trapezoid by more than BIC's m ln(n), else ``line``: regressors that do not
    describe the flux (no jitter) only lend the baseline freedom to soak up a shallow transit."""
    extra = full.q.shape[1] - line.q.shape[1]
    if extra <= 0:
        return line
    chi2 = []
    for c in (full, line):
        shape = _models(c.t, c.width, np.array([mid]), np.array([half]), np.array([flat]))
        gain = _fit_scores(c, shape)[0][0]
        chi2.append(float(c.w @ (c.y * c.y) - c.qy @ c.qy - gain))
    return full if chi2[1] - chi2[0] > extra * np.log(full.t.size) else line


def _box_search(used, first: float, last: float):
    """The best box-shaped dip (1 inside, 0 outside) below the baseline, of the joint curves over
    every pair of edges on a grid of the finest bin width: (mid, half duration, grid step). Per
    curve the box holds the bins whose centre lies between the edges; the baseline and the depth
    are solved exactly from prefix sums (all pairs at once), and only dips count."""
    step = min(c.width for c in used)
    edges = np.arange(first - step / 2, last + step, step)
    gains = np.zeros((edges.size, edges.size))
    for c in used:
        index = np.searchsorted(c.t, edges)
        box_wq = np.stack([_box_sums(column, index) for column in c.wq.T], axis=-1)
        # a box is 0 or 1: sum w s^2 = sum w s
        gains += _dip_scores(c.qy, box_wq, _box_sums(c.w, index), _box_sums(c.w * c.y, index))[0]
    gains[np.tril_indices(edges.size)] = 0.0
    i, j = np.unravel_index(int(np.argmax(gains)), gains.shape)
    return 0.5 * (edges[i] + edges[j]), 0.5 * (edges[j] - edges[i]), step


def _joint_gain(used, mid, half, flat):
    gains = np.zeros(mid.size)
    for start in range(0, mid.size, 2048):
        part = slice(start, start + 2048)
        for c in used:
            gains[part] += _fit_scores(c, _models(c.t, c.width, mid[part], half[part], flat[part]))[0]
    return gains


def _trapezoid_residuals(used, x):
    """Weighted residuals of every curve about its baseline minus depth * trapezoid, with the
    baseline and the depth solved exactly; x = (mid, half duration, flat / half)."""
    mid, half, ratio = (np.array([v]) for v in x)
    parts = []
    for c in used:
        shape = _models(c.t, c.width, mid, half, half * ratio)[0]
        a, _, baseline = _fit_one(c, shape)
        if not np.isfinite(a):  # a shape the baseline absorbs entirely: the baseline alone
            a, baseline = 0.0, c.q @ c.qy
        parts.append((c.y - baseline + a * shape) * np.sqrt(c.w))
    return np.concatenate(parts)


def detect_joint_window(curves, refine_grid: int = 8, levels: int = 2) -> Window:
    """The transit window shared by simultaneous white light curves, without any prior on the
    contact times.

    ``curves`` is a sequence of ``(time, flux, variance or None, bin width or None[,
    regressors])``; a None width is the median time spacing, ``regressors`` (time, m) are
    systematics series (e.g. pointing) the baseline also fits. Each curve is fitted as ``flux =
    b0 + b1 (t - tc) + regressors @ c - a * trapezoid`` with its own baseline and a (the depth is
    a over the baseline at mid-transit), and one symmetric trapezoid (equal ingress and egress),
    averaged over each time bin, for all curves: a slow drift across the visit tilts the
    baseline rather than dragging the window to the visit's lower end, and pointing jitter that
    the regressors measure moves the baseline rather than the contacts (under jitter the
    search's contacts were off by most of a bin, and the depths fitted on them by a few sigma,
    without its regressors); the fit minimises the summed weighted
    chi2 (weights 1/variance, or equal), so the curve with the best signal-to-noise ratio
    dominates. The shape parameters are the mid-time, the half total duration (t4 - t1)/2 and
    the half flat duration (t3 - t2)/2. Three steps: the best box over every pair of edges on a
    grid of the finest bin width (exact, from prefix sums: :func:`_box_search`); ``levels``
    ``refine_grid``-point grids of trapezoids around it (the first spanning an ingress from none
    to a V shape, each next one +-2 steps of the last); then Levenberg-Marquardt from the best
    grid point. The baseline and a are solved exactly at each point, and only dips count on the
    grids (depth > 0). Curves with fewer than 5 finite points (plus one per regressor) are left
    out (their depth is NaN);
    ValueError if none is left.
    """
    # The global search (boxes, grids) against a straight line alone; the refinement and the
    # depths also against the regressors of each curve they describe (BIC): in the global search
    # a baseline of slow pointing terms soaked up a shallow (grazing) transit, which then lost to
    # a spurious dip over most of the visit (2024 realistic simulation, planet 3714150505:
    # t1 = 0.01 h for 0.20 h).
    prepared = [_prepared(curve) for curve in curves]
    keep = [p is not None for p in prepared]
    used = [p for p in prepared if p is not None]
    line = [_prepared(curve, with_regressors=False) for curve, k in zip(curves, keep, strict=True) if k]
    if not used:
        raise ValueError("detect_window: no light curve with at least 5 finite points")
    first = min(c.t[0] for c in used)
    last = max(c.t[-1] for c in used)
    span = last - first
    width = max(c.width for c in used)
    lo = np.array([first, width, 0.0])
    hi = np.array([last, max(span / 2, width), span / 2])
    box_mid, box_half, step = _box_search(line, first, last)
    # The box's edges lie about mid-ingress and mid-egress: the trapezoid's half duration is
    # between the box's (no ingress) and twice it (a V), its flat half below the box's.
    ranges = [
        (box_mid - step, box_mid + step),
        (box_half - step, 2 * box_half + step),
        (0.0, box_half + step),
    ]
    best = (-np.inf, box_mid, box_half, box_half)
    for _ in range(levels):
        axes = [np.linspace(max(lo[i], a), min(hi[i], b), refine_grid) for i, (a, b) in enumerate(ranges)]
        mid, half, flat = (g.ravel() for g in np.meshgrid(*axes, indexing="ij"))
        valid = flat <= half
        mid, half, flat = mid[valid], half[valid], flat[valid]
        gains = _joint_gain(line, mid, half, flat)
        if gains.size:
            k = int(np.argmax(gains))
            if gains[k] >= best[0]:
                best = (gains[k], mid[k], half[k], flat[k])
        ranges = [(best[1 + i] - 2 * (ax[1] - ax[0]), best[1 + i] + 2 * (ax[1] - ax[0])) for i, ax in enumerate(axes)]
    _, m, a_half, b_half = best
    used = [
        _with_significant_regressors(full, plain, m, a_half, b_half) for full, plain in zip(used, line, strict=True)
    ]
    start = np.array([m, a_half, b_half / a_half if a_half > 0 else 1.0])
    lower, upper = np.array([first, width / 2, 0.0]), np.array([last, max(span / 2, width), 1.0])
    x, _, _ = levenberg_marquardt(
        lambda x: _trapezoid_residuals(used, x), start, np.array([1e-3 * width, 1e-3 * width, 1e-3]), lower, upper
    )
    at_grid = _joint_gain(used, *(np.array([v]) for v in (best[1], best[2], best[3])))[0]
    if _joint_gain(used, *(np.array([v]) for v in (x[0], x[1], x[1] * x[2])))[0] >= at_grid:
        m, a_half, b_half = x[0], x[1], x[1] * x[2]
    depths, snrs = [], []
    chosen = iter(used)
    for k in keep:
        if not k:
            depths.append(np.nan)
            snrs.append(np.nan)
            continue
        c = next(chosen)
        depth, snr = _depth(c, _models(c.t, c.width, np.array([m]), np.array([a_half]), np.array([b_half]))[0], m)
        depths.append(depth)
        snrs.append(snr)
    return Window(
        float(m - a_half), float(m - b_half), float(m + b_half), float(m + a_half), tuple(depths), tuple(snrs)
    )


# --------------------------------------------------------------------------- depths


@dataclass(frozen=True)
class Depths:
    """Per-channel transit depths and the bins they used."""

    depth: np.ndarray
    sigma: np.ndarray
    """Propagated from the variances (first order in the noise)."""
    noise_ratio: np.ndarray
    """sqrt(chi2 / dof) of the in-transit and out-of-transit bins about their models: ~1 when
    the variances describe the scatter (an internal check that needs no truth)."""
    in_transit: np.ndarray
    out_of_transit: np.ndarray


def window_bins(time: np.ndarray, width: float, contacts, margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(in, out) boolean masks of the time bins [t - width/2, t + width/2] lying wholly inside
    [t2 + margin, t3 - margin] (flat bottom) or wholly outside [t1 - margin, t4 + margin]."""
    t = np.asarray(time, dtype=F64)
    t1, t2, t3, t4 = contacts
    start, stop = t - width / 2, t + width / 2
    inside = (start >= t2 + margin) & (stop <= t3 - margin)
    outside = (stop <= t1 - margin) | (start >= t4 + margin)
    return inside, outside


def transit_depth(
    time: np.ndarray,
    flux: np.ndarray,
    variance: np.ndarray,
    in_transit: np.ndarray,
    out_of_transit: np.ndarray,
    baseline_degree: int = 0,
) -> Depths:
    """depth = 1 - F_in / B per channel; ``flux``/``variance`` are (time, channel).

    F_in is the inverse-variance weighted mean of the in-transit bins. B is the out-of-transit
    baseline at the same bins: for degree 0 the weighted mean of the out-of-transit bins, for
    degree d a weighted polynomial fit in time, averaged over the in-transit bins with the
    weights of F_in. Both are linear in the data, and the two sets of bins are disjoint, so
    var(depth) = (F_in/B)^2 (var F_in / F_in^2 + var B / B^2) to first order. Non-finite bins
    are skipped; a channel without in- or out-of-transit bins (or fewer out-of-transit bins
    than baseline coefficients) is NaN.
    """
    t = np.asarray(time, dtype=F64)
    y = np.atleast_2d(np.asarray(flux, dtype=F64).T).T
    v = np.atleast_2d(np.asarray(variance, dtype=F64).T).T
    if y.shape != v.shape or y.shape[0] != t.size:
        raise ValueError(f"flux and variance: expected (time={t.size}, channel), got {y.shape}, {v.shape}")
    in_transit = np.asarray(in_transit, bool)
    out_of_transit = np.asarray(out_of_transit, bool)
    if np.any(in_transit & out_of_transit):
        raise ValueError("in-transit and out-of-transit bins overlap")
    degree = int(baseline_degree)
    n_channels = y.shape[1]
    depth = np.full(n_channels, np.nan)
    sigma = np.full(n_channels, np.nan)
    ratio = np.full(n_channels, np.nan)
    # Normalised time keeps the polynomial fit well conditioned.
    centre = t[in_transit | out_of_transit].mean() if np.any(in_transit | out_of_transit) else 0.0
    spread = np.ptp(t) or 1.0
    x = (t - centre) / spread
    design = np.vander(x, degree + 1, increasing=True)
    for k in range(n_channels):
        good = np.isfinite(y[:, k]) & np.isfinite(v[:, k]) & (v[:, k] > 0)
        inside, outside = in_transit & good, out_of_transit & good
        if not inside.any() or outside.sum() < degree + 1:
            continue
        w_in = 1.0 / v[inside, k]
        f_in = (w_in * y[inside, k]).sum() / w_in.sum()
        var_in = 1.0 / w_in.sum()
        w_out = 1.0 / v[outside, k]
        a_out = design[outside]
        normal = a_out.T @ (w_out[:, None] * a_out)
        try:
            cov = np.linalg.inv(normal)
        except np.linalg.LinAlgError:
            continue
        coeffs = cov @ (a_out.T @ (w_out * y[outside, k]))
        g = (w_in[:, None] * design[inside]).sum(axis=0) / w_in.sum()
        base = float(g @ coeffs)
        var_base = float(g @ cov @ g)
        ratio_k = f_in / base
        depth[k] = 1.0 - ratio_k
        sigma[k] = abs(ratio_k) * np.sqrt(var_in / f_in**2 + var_base / base**2)
        chi2 = (w_in * (y[inside, k] - f_in) ** 2).sum() + (w_out * (y[outside, k] - a_out @ coeffs) ** 2).sum()
        dof = inside.sum() - 1 + outside.sum() - (degree + 1)
        if dof > 0:
            ratio[k] = np.sqrt(chi2 / dof)
    return Depths(depth, sigma, ratio, in_transit, out_of_transit)
