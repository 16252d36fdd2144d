"""Science layer: pure functions from calibrated products to light curves, transit depths and
recovery statistics (arrays in, arrays out; no I/O, no Snakemake). See docs/science.md.

Layout conventions (as the products): cubes are ``(time, column, row)`` (FGS1 columns and rows
are both spatial), maps ``(column, row)``; light curves are ``(time, channel)``. AIRS channels are
product columns in detector order (wavelength *decreasing*); FGS1 has one channel.

Pipeline: :func:`product_variance` -> :func:`box_mask` / :func:`extract` ->
:func:`white_light_curve` -> :func:`detect_window` -> :func:`transit_depth` ->
:func:`recovery_statistics`; :func:`label_of_columns` maps channels to the labels ``wl_j``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

F64 = np.float64

#: AIRS detector columns that carry labels: column c <-> wl_{322 - c} (reference doc 1.8).
LABELLED_AIRS_COLUMNS = (39, 321)
#: The FGS1 channel is label wl_1.
FGS1_LABEL = 1


# --------------------------------------------------------------------------- variance


def signal_per_frame(calibrated: np.ndarray, frames_per_bin: int, divisor: np.ndarray | None = None) -> np.ndarray:
    """Robust charge per CDS frame (e-, before the flat) of each pixel, (column, row).

    The per-pixel median over time bins of the calibrated sums, times the flat that divided it,
    over the frames per bin, clipped at 0. A median of the data, not each bin's own noisy value,
    so the variance does not correlate with the noise (a low fluctuation must not get a low
    variance, hence a high weight). All-NaN pixels give NaN.
    """
    cube = np.asarray(calibrated)
    if cube.ndim != 3:
        raise ValueError(f"calibrated: expected (time, column, row), got shape {cube.shape}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels
        median = np.nanmedian(cube.astype(F64, copy=False), axis=0)
    if divisor is not None:
        median = median * np.asarray(divisor, dtype=F64)
    return np.maximum(median / float(frames_per_bin), 0.0, where=np.isfinite(median), out=np.full_like(median, np.nan))


def product_variance(
    calibrated: np.ndarray,
    read: np.ndarray,
    frames_per_bin: int,
    n_valid: np.ndarray | None = None,
    dark: np.ndarray | None = None,
    accumulation_s: float = 0.0,
    divisor: np.ndarray | None = None,
) -> np.ndarray:
    """Variance (e-^2) of every value of a calibrated product, float32 (time, column, row).

    Per CDS frame, before the flat: ``v = 2 read^2 + S + dark * accumulation_s`` with ``read`` the
    per-read noise sigma (column, row), S = :func:`signal_per_frame` and ``dark`` the dark
    current (e-/s) that was *subtracted* (pass None when the dark stage did not run: the dark
    charge is then inside S already; non-finite values count as 0). A bin is the mean of its
    ``n_valid`` valid frames times ``frames_per_bin`` = n, so its variance is ``v * n^2 /
    n_valid`` (= n v for a full bin). ``divisor`` is the flat each pixel was divided by (1 where
    it was not; None = no flat stage): the variance is divided by its square. ``n_valid`` None
    means every bin is full. NaN where the product is NaN or ``n_valid`` is 0.
    """
    cube = np.asarray(calibrated)
    shape = cube.shape[1:]
    n = float(frames_per_bin)
    if n < 1:
        raise ValueError(f"frames_per_bin must be >= 1, got {frames_per_bin}")
    read = _map(read, shape, "read")
    divisor_map = None if divisor is None else _map(divisor, shape, "divisor")
    per_frame = 2.0 * read**2 + signal_per_frame(cube, frames_per_bin, divisor_map)
    if dark is not None:
        dark_map = _map(dark, shape, "dark").copy()
        dark_map[~np.isfinite(dark_map)] = 0.0
        per_frame += np.maximum(dark_map, 0.0) * float(accumulation_s)
    if divisor_map is not None:
        per_frame /= divisor_map**2
    if n_valid is None:
        variance = np.broadcast_to(per_frame * n, cube.shape).astype(np.float32)
    else:
        counts = np.asarray(n_valid, dtype=F64)
        if counts.shape != cube.shape:
            raise ValueError(f"n_valid: expected shape {cube.shape}, got {counts.shape}")
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = np.where(counts > 0, per_frame * (n * n) / counts, np.nan).astype(np.float32)
    variance[~np.isfinite(cube)] = np.nan
    return variance


def _map(values, shape, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=F64)
    if values.shape != tuple(shape):
        raise ValueError(f"{name}: expected a (column, row) map of shape {tuple(shape)}, got {values.shape}")
    return values


# --------------------------------------------------------------------------- extraction


def box_mask(shape: tuple[int, int], rows, columns=None) -> np.ndarray:
    """Boolean (column, row) map of the pixels with row in ``rows`` = [start, stop) and column in
    ``columns`` = [start, stop) (every column when None)."""
    n_cols, n_rows = shape
    row = np.arange(n_rows)
    col = np.arange(n_cols)
    in_rows = (row >= rows[0]) & (row < rows[1])
    in_cols = np.ones(n_cols, bool) if columns is None else (col >= columns[0]) & (col < columns[1])
    return in_cols[:, None] & in_rows[None, :]


@dataclass(frozen=True)
class LightCurves:
    """Extracted light curves, (time, channel) float64 arrays."""

    flux: np.ndarray
    """Background-subtracted aperture sum (e- per bin), scaled to the full aperture."""
    variance: np.ndarray
    coverage: np.ndarray
    """Fraction of the aperture's pixels that were valid (the flux was divided by it)."""


def extract(
    cube: np.ndarray,
    variance: np.ndarray,
    aperture: np.ndarray,
    background: np.ndarray | None = None,
    per_column: bool = True,
) -> LightCurves:
    """Aperture photometry with a local background, per time bin.

    ``cube`` and ``variance`` are (time, column, row); ``aperture`` and ``background`` boolean
    (column, row) maps. ``per_column``: one channel per column (AIRS: the aperture and background
    pixels of that column); otherwise one channel summing the whole aperture (FGS1).

    Per time and channel: the background level is the mean of the valid background pixels, and
    is subtracted from each valid aperture pixel. NaN pixels are left out, never spread: the sum
    over the valid aperture pixels is divided by their fraction ``coverage`` (the missing pixels
    are assumed to hold the mean of the valid ones). For DQ-excluded pixels (NaN in every bin)
    the coverage is constant in time, so the *relative* light curve is exact; only the absolute
    level changes. Variances add: ``(sum var_ap + n_ap^2 var(background mean)) / coverage^2``,
    with var(mean) = sum var_bg / n_bg^2 (pixels independent). A channel with no valid aperture
    pixel, or no valid background pixel when a background is asked for, is NaN.
    """
    cube = np.asarray(cube)
    variance = np.asarray(variance)
    if cube.ndim != 3 or variance.shape != cube.shape:
        raise ValueError(f"cube and variance: expected equal (time, column, row) shapes, got {cube.shape}, {variance.shape}")
    aperture = np.asarray(aperture, bool)
    if aperture.shape != cube.shape[1:]:
        raise ValueError(f"aperture: expected shape {cube.shape[1:]}, got {aperture.shape}")
    if background is not None:
        background = np.asarray(background, bool)
        if background.shape != aperture.shape:
            raise ValueError(f"background: expected shape {aperture.shape}, got {background.shape}")
    n_times = cube.shape[0]
    if per_column:
        data, var = cube, variance
        ap, bg = aperture, background
    else:
        data = cube.reshape(n_times, 1, -1)
        var = variance.reshape(n_times, 1, -1)
        ap = aperture.reshape(1, -1)
        bg = None if background is None else background.reshape(1, -1)
    data = np.asarray(data, dtype=F64)
    var = np.asarray(var, dtype=F64)
    valid = np.isfinite(data) & np.isfinite(var)
    n_aperture = ap.sum(axis=1).astype(F64)  # (channel,)
    in_ap = ap[None] & valid
    n_valid_ap = in_ap.sum(axis=2).astype(F64)  # (time, channel)
    total = np.where(in_ap, data, 0.0).sum(axis=2)
    total_var = np.where(in_ap, var, 0.0).sum(axis=2)
    ok = n_valid_ap > 0
    if bg is not None:
        in_bg = bg[None] & valid
        n_bg = in_bg.sum(axis=2).astype(F64)
        ok &= n_bg > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            level = np.where(in_bg, data, 0.0).sum(axis=2) / n_bg
            level_var = np.where(in_bg, var, 0.0).sum(axis=2) / n_bg**2
        total = total - n_valid_ap * level
        total_var = total_var + n_valid_ap**2 * level_var
    with np.errstate(divide="ignore", invalid="ignore"):
        coverage = n_valid_ap / n_aperture
        flux = np.where(ok, total / coverage, np.nan)
        flux_var = np.where(ok, total_var / coverage**2, np.nan)
    return LightCurves(flux, flux_var, np.where(np.isfinite(coverage), coverage, 0.0))


def white_light_curve(flux: np.ndarray, variance: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum of the channels that are finite at every time: (flux (time,), variance (time,), used (channel,)).

    Channels with a NaN anywhere are left out entirely, so the white light curve sums the same
    channels at every time.
    """
    flux = np.asarray(flux, dtype=F64)
    variance = np.asarray(variance, dtype=F64)
    used = np.all(np.isfinite(flux) & np.isfinite(variance), axis=0)
    return flux[:, used].sum(axis=1), variance[:, used].sum(axis=1), used


# --------------------------------------------------------------------------- transit window


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


def binned_trapezoid(t: np.ndarray, contacts, width: float, samples: int = 8) -> np.ndarray:
    """:func:`trapezoid` averaged over time bins of ``width`` centred on ``t`` (midpoint rule)."""
    offsets = width * ((np.arange(samples) + 0.5) / samples - 0.5)
    return trapezoid(np.asarray(t, dtype=F64)[..., None] + offsets, contacts).mean(axis=-1)


def _models(t, width, mid, half, half_flat, samples):
    """Binned trapezoid shapes (models, time) for arrays of mid-time, half total duration
    (t4 - t1)/2 and half flat-bottom duration (t3 - t2)/2.

    The window search evaluates ~10^8 samples per visit at full size, so the arithmetic runs in
    place in one (models, time, samples) buffer: the same operations, in the same order, as
    ``clip(where(a > b, (a - d) / (a - b), d <= a), 0, 1).mean(-1)``, without the temporaries.
    """
    a = half[:, None, None]
    b = half_flat[:, None, None]
    x = t[:, None] + width * ((np.arange(samples) + 0.5) / samples - 0.5)[None, :]
    shape = np.subtract(x[None, :, :], mid[:, None, None])
    d = np.abs(shape, out=shape)
    boxes = (a <= b)[:, 0, 0]  # no ingress: 1 inside, 0 outside
    box = d[boxes] <= a[boxes]
    np.subtract(a, d, out=shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(shape, a - b, out=shape)
    shape[boxes] = box
    np.clip(shape, 0.0, 1.0, out=shape)
    return shape.mean(axis=-1)


def _fit_scores(y, w, shapes):
    """Weighted least squares of y = b - a * shape for each model (row of ``shapes``).

    Returns the chi2 reduction over a constant (0 unless a > 0: only dips count), a and var(a).
    """
    sw, swy = w.sum(), (w * y).sum()
    swl = shapes @ w
    swll = (shapes * shapes) @ w
    swly = shapes @ (w * y)
    det = sw * swll - swl * swl
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (swl * swy - sw * swly) / det
        gain = np.where((det > 0) & (a > 0), a * a * det / sw, 0.0)
        var_a = sw / det
    return gain, a, var_a


def detect_window(
    time: np.ndarray,
    flux: np.ndarray,
    variance: np.ndarray | None = None,
    width: float | None = None,
    **search,
) -> Window:
    """The transit window of one white light curve: :func:`detect_joint_window` of one curve."""
    return detect_joint_window([(time, flux, variance, width)], **search)


def _prepared(curve):
    time, flux, variance, width = curve
    t = np.asarray(time, dtype=F64)
    y = np.asarray(flux, dtype=F64)
    w = np.ones_like(y) if variance is None else 1.0 / np.asarray(variance, dtype=F64)
    keep = np.isfinite(t) & np.isfinite(y) & np.isfinite(w) & (w > 0)
    t, y, w = t[keep], y[keep], w[keep]
    if t.size < 5:
        return None
    scale = np.median(y)
    if width is None:
        width = float(np.median(np.diff(t)))
    return t, y / scale, w * scale**2, float(width)


def detect_joint_window(curves, grid: int = 24, levels: int = 6, samples: int = 8) -> Window:
    """The transit window shared by simultaneous white light curves, without any prior on the
    contact times.

    ``curves`` is a sequence of ``(time, flux, variance or None, bin width or None)``; a None
    width is the median time spacing. Each curve is fitted as ``flux = b (1 - depth *
    trapezoid)`` with its own b and depth, and one symmetric trapezoid (equal ingress and
    egress), averaged over each time bin, for all curves; the fit minimises the summed weighted
    chi2 (weights 1/variance, or equal), so the curve with the best signal-to-noise ratio
    dominates. The shape parameters are the mid-time, the half total duration (t4 - t1)/2 and
    the half flat duration (t3 - t2)/2, so that each pair of contact times moves with one
    parameter. They are searched on a grid over the whole time span, then ``levels`` times on
    finer grids of +-2 steps around the best point; b and depth are solved exactly at each
    point. Only dips count (depth > 0). Curves with fewer than 5 finite points are left out
    (their depth is NaN); ValueError if none is left.
    """
    prepared = [_prepared(curve) for curve in curves]
    used = [p for p in prepared if p is not None]
    if not used:
        raise ValueError("detect_window: no light curve with at least 5 finite points")
    first = min(p[0][0] for p in used)
    last = max(p[0][-1] for p in used)
    span = last - first
    width = max(p[3] for p in used)
    lo = np.array([first, width, 0.0])
    hi = np.array([last, max(span / 2, width), span / 2])
    centre, half_range = (lo + hi) / 2, (hi - lo) / 2
    best = (-np.inf, *centre)
    for _ in range(levels):
        axes = [np.linspace(max(lo[i], centre[i] - half_range[i]), min(hi[i], centre[i] + half_range[i]), grid) for i in range(3)]
        mid, half, flat = (g.ravel() for g in np.meshgrid(*axes, indexing="ij"))
        valid = flat <= half
        mid, half, flat = mid[valid], half[valid], flat[valid]
        gains = np.zeros(mid.size)
        for start in range(0, mid.size, 2048):
            part = slice(start, start + 2048)
            for t, y, w, bin_width in used:
                gains[part] += _fit_scores(y, w, _models(t, bin_width, mid[part], half[part], flat[part], samples))[0]
        if gains.size:
            k = int(np.argmax(gains))
            if gains[k] >= best[0]:
                best = (gains[k], mid[k], half[k], flat[k])
        centre = np.array(best[1:])
        half_range = np.array([2 * (ax[1] - ax[0]) for ax in axes])
    _, m, a_half, b_half = best
    depths, snrs = [], []
    for p in prepared:
        if p is None:
            depths.append(np.nan)
            snrs.append(np.nan)
            continue
        t, y, w, bin_width = p
        shape = _models(t, bin_width, np.array([m]), np.array([a_half]), np.array([b_half]), samples)
        _, a, var_a = _fit_scores(y, w, shape)
        a, var_a = float(a[0]), float(var_a[0])
        b = (w * (y + a * shape[0])).sum() / w.sum()
        depths.append(a / b)
        snrs.append(a / np.sqrt(var_a) if var_a > 0 else np.nan)
    return Window(float(m - a_half), float(m - b_half), float(m + b_half), float(m + a_half), tuple(depths), tuple(snrs))


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


# --------------------------------------------------------------------------- labels and recovery


def label_of_columns(detector_columns) -> np.ndarray:
    """Label index j (wl_j, 1-based) of AIRS detector columns: j = 322 - c for c in 39..320,
    0 for columns without a label (outside the competition's crop)."""
    c = np.asarray(detector_columns, dtype=np.int64)
    start, stop = LABELLED_AIRS_COLUMNS
    return np.where((c >= start) & (c < stop), stop + 1 - c, 0)


def recovery_statistics(estimate, sigma, truth) -> dict[str, float]:
    """Residuals over sigma, z = (estimate - truth) / sigma, over the finite entries.

    Returns n, median |z| (0.674 for Gaussian z), chi2/dof = sum z^2 / n (the truth is given,
    no parameter is fitted: dof = n), mean z (bias in sigma units) and the median |residual|.
    """
    estimate, sigma, truth = (np.asarray(a, dtype=F64).ravel() for a in (estimate, sigma, truth))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (estimate - truth) / sigma
    ok = np.isfinite(z) & (sigma > 0)
    z = z[ok]
    n = int(z.size)
    if n == 0:
        return {"n": 0, "median_abs_z": np.nan, "chi2_dof": np.nan, "mean_z": np.nan, "median_abs_residual": np.nan}
    return {
        "n": n,
        "median_abs_z": float(np.median(np.abs(z))),
        "chi2_dof": float(np.sum(z * z) / n),
        "mean_z": float(np.mean(z)),
        "median_abs_residual": float(np.median(np.abs(estimate[ok] - truth[ok]))),
    }
