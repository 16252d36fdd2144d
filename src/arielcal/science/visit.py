"""One planet visit: the transit window and geometry fitted jointly to the white light curves of
every instrument, then every channel's depth (docs/science.md)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .channels import band_limb_darkening, channel_depths, limb_darkening_bands, single_channel_depths
from .lightcurve_model import (
    TrapezoidShape,
    choose_degree,
    fit_geometry,
    fit_white,
    normalised,
    orthogonal_to_polynomial,
)
from .transit import detect_joint_window, window_bins

F64 = np.float64


@dataclass(frozen=True)
class InstrumentCurves:
    """One instrument's light curves of a visit, as rule extract wrote them."""

    time: np.ndarray
    width: float
    """Bin width (the time unit); 0 when unknown."""
    spectral: np.ndarray
    """(2, time, channel): flux, variance."""
    white: np.ndarray
    """(2, time): flux, variance."""
    channels: dict
    """detector_column, label, wavelength_um (None for FGS1) per channel."""
    centroid: np.ndarray | None = None
    """(time, 2) aperture centroid (column, row) per bin (rule extract), for pointing decorrelation."""


DEPTH_COLUMNS = (
    "instrument", "channel", "detector_column", "label", "wavelength_um", "depth", "sigma", "noise_ratio",
    "red_noise", "sigma_white", "sigma_geometry", "u1", "u2", "sigma_common",
)  # fmt: skip
# The fitted values of a channel: NaN where its instrument has no fit.
FIT_COLUMNS = DEPTH_COLUMNS[DEPTH_COLUMNS.index("depth") :]


#: The impact parameter a free chord restarts from before a close call lets a trapezoid replace
#: it: the other side of b = 0.5 from the first fit's.
IMPACT_RESTARTS = (0.1, 0.7)


def _restart(geometry, impact: float):
    """``geometry`` with another impact parameter and the speed that keeps its t1..t4 span."""
    t1, _, _, t4 = geometry.contacts
    p = geometry.radius
    speed = 2.0 * np.sqrt(max((1.0 + p) ** 2 - impact**2, 1e-12)) / max(t4 - t1, 1e-12)
    return dataclasses.replace(geometry, speed=float(speed), impact=float(impact))


#: A single-channel fit of its own needs this many bins more than parameters; else the channel is
#: fitted as a spectral one (limb darkening fixed at the white fit's).
MIN_SINGLE_CHANNEL_DOF = 10

#: The trapezoid replaces the chord only when its AIC is lower by this much: at low signal-to-noise
#: both fit alike and the physical model stays.
TRAPEZOID_AIC_MARGIN = 10.0


@dataclass(frozen=True)
class Settings:
    """science.depth: see config.yaml."""

    margin_bins: float = 2
    baseline_degree: int = 0
    """Per-channel polynomial degree on top of the common-mode model."""
    white_degrees: tuple[int, ...] = (1, 2, 3)
    """Candidate baseline degrees of the white light curves (chosen by BIC)."""
    common_mode: bool = True
    ld_bands: int = 8
    samples: int = 7
    pointing: bool = True
    """Decorrelate against the centroids: FGS1 (column, row) and AIRS rows (its column centroid
    follows the spectrum's colour, so the transit, and is not used)."""
    tie_radius: bool = True
    """The chord's radius^2 held to the white depth (lightcurve_model.RADIUS_TIE)."""
    star_info: bool = True
    """Take the impact parameter from star_info where it exists (the caller reads it)."""
    common_mode_error: bool = True
    """Propagate the white fit's baseline uncertainty through the common-mode templates into
    every channel's sigma (``sigma_common``)."""
    single_channel_fit: bool = True
    """A single-channel instrument (FGS1): its depth from its own limb-darkened fit, the free
    limb darkening marginalised, with a jitter basis of its own centroids (:func:`jitter_basis`)
    and the reference instrument's common mode; False: as a spectral channel (limb darkening
    fixed at the white fit's)."""


@dataclass(frozen=True)
class VisitDepths:
    window: tuple | None
    """Contact times t1..t4 of the fitted chord (t2 = t3 for a grazing transit)."""
    rows: dict
    """DEPTH_COLUMNS -> one value per channel of every instrument."""
    summary: dict
    """Per instrument: bins in and out of transit, the white light curve's fit, noise ratios."""
    geometry: dict | None
    notes: list


def _finite(value):
    return float(value) if value is not None and np.isfinite(value) else None


def _nan_rows(rows, instrument, c):
    n = c.spectral.shape[2]
    for name in FIT_COLUMNS:
        rows[name] += [np.nan] * n


def pointing_regressors(curves: dict) -> dict:
    """instrument -> (time, m) standardised centroid series of every instrument (on that
    instrument's time axis): both axes of a single-channel instrument, the row axis of a
    spectrograph. Empty (time, 0) without centroids."""
    series = []
    for c in curves.values():
        if c.centroid is None:
            continue
        centroid = np.asarray(c.centroid, dtype=F64).reshape(len(c.time), -1)
        for axis in (0, 1) if c.spectral.shape[2] == 1 else (1,):
            values = centroid[:, axis]
            ok = np.isfinite(values)
            if ok.sum() < 3 or np.std(values[ok]) == 0:
                continue
            series.append((c.time[ok], (values[ok] - values[ok].mean()) / values[ok].std()))
    return {
        name: np.stack([np.interp(c.time, t, v) for t, v in series], axis=1) if series else np.zeros((len(c.time), 0))
        for name, c in curves.items()
    }


def jitter_basis(centroid) -> np.ndarray:
    """(time, m) pointing basis of a single-channel instrument from its (time, 2) aperture
    centroid: each moving axis's standardised offset and its square, and their product when both
    move (an aperture's flux changes to second order with its PSF's offset); the squares and the
    product centred. Missing centroids are interpolated in time; (time, 0) without a usable one."""
    centroid = np.asarray(centroid, dtype=F64)
    if centroid.ndim != 2 or centroid.shape[0] < 3:
        return np.zeros((len(centroid), 0))
    index = np.arange(centroid.shape[0])
    axes = []
    for values in centroid.T:
        ok = np.isfinite(values)
        if ok.sum() < 3 or np.std(values[ok]) == 0:
            continue
        filled = np.interp(index, index[ok], values[ok])
        axes.append((filled - filled[ok].mean()) / filled[ok].std())
    terms = axes + [a * a for a in axes] + ([axes[0] * axes[1]] if len(axes) == 2 else [])
    terms = [t if k < len(axes) else t - t.mean() for k, t in enumerate(terms)]
    return np.stack(terms, axis=1) if terms else np.zeros((centroid.shape[0], 0))


def _single_channel_regressors(instrument, c, fits, whites, settings):
    """A single-channel instrument's systematics basis: the common mode (drift f(t) and
    residual) of the most precise *other* instrument's white fit, e.g. AIRS for FGS1 (the same
    pointing and drift, measured on other photons; its own white fit's baseline is its
    polynomial already), and :func:`jitter_basis` of its own centroid; with the template errors
    (direction, time, m) of that common mode."""
    others = [i for i in fits if i != instrument and fits[i].sigma > 0]
    parts, errors = [], np.zeros((0, c.time.size, 0))
    if settings.common_mode and others:
        other = max(others, key=lambda i: abs(fits[i].depth / fits[i].sigma))
        source, t = fits[other], whites[other].time
        series = np.stack([source.systematics, source.residual], axis=1)[None]
        if settings.common_mode_error and source.template_errors is not None:
            series = np.concatenate([series, series[:1] + source.template_errors])
        moved = np.stack([np.stack([np.interp(c.time, t, one[:, k]) for k in (0, 1)], axis=1) for one in series])
        parts.append(moved[0])
        errors = moved[1:] - moved[:1]
    if settings.pointing and c.centroid is not None:
        own = jitter_basis(c.centroid)
        parts.append(own)
        errors = np.concatenate([errors, np.zeros((len(errors), c.time.size, own.shape[1]))], axis=2)
    return (np.hstack(parts) if parts else np.zeros((c.time.size, 0))), errors


def visit_depths(curves: dict, settings: Settings = Settings(), impact: float | None = None) -> VisitDepths:
    """``curves``: instrument -> :class:`InstrumentCurves`. A trapezoid search over the joint white
    light curves (no prior) starts a limb-darkened chord fit (shared t0, speed, impact, radius; each
    curve its own baseline, degree by BIC, and free limb darkening); ``impact`` (star_info) is held
    fixed when given. Every channel's depth then comes from :func:`channel_depths` with the
    common-mode templates of its instrument's white light curve (a single-channel instrument
    takes those of the curve with the best signal-to-noise ratio)."""
    notes, rows, summary = [], {name: [] for name in DEPTH_COLUMNS}, {}
    names = list(curves)
    if settings.pointing:
        pointing = pointing_regressors(curves)
    else:
        pointing = {i: np.zeros((len(c.time), 0)) for i, c in curves.items()}
    whites = {i: normalised(c.time, c.white[0], c.white[1], c.width, pointing[i]) for i, c in curves.items()}
    usable = [i for i in names if (whites[i].weight > 0).sum() >= 8]
    geometry = None
    try:
        if not usable:
            raise ValueError("no white light curve with at least 8 finite points")
        trapezoid = detect_joint_window(
            [
                (curves[i].time, curves[i].white[0], curves[i].white[1], curves[i].width or None, pointing[i])
                for i in usable
            ],
        )

        def chord(degrees, start_at=None):
            usable_whites = [whites[i] for i in usable]
            return fit_geometry(
                usable_whites,
                trapezoid.contacts,
                degrees,
                impact,
                settings.samples,
                start_at,
                settings.tie_radius,
                trapezoid.depths,
            )

        start = [2 if 2 in settings.white_degrees else int(settings.white_degrees[0])] * len(usable)
        geometry = chord(start)
        degrees = [choose_degree(whites[i], geometry, settings.white_degrees, settings.samples) for i in usable]
        if degrees != start:  # refit from the first chord with the baselines the BIC chose
            geometry = chord(degrees, geometry)
        # Shape selection: the chord against the search's trapezoid (same baselines), by AIC
        # with a margin in the chord's favour.
        chord_fits = [fit_white(whites[i], geometry, d, settings.samples) for i, d in zip(usable, degrees, strict=True)]
        flat = TrapezoidShape(*trapezoid.contacts)
        trapezoid_fits = [fit_white(whites[i], flat, d, settings.samples) for i, d in zip(usable, degrees, strict=True)]
        n_chord = 3 + (impact is None) + 2 * len(usable)
        aic_chord = sum(f.chi2 for f in chord_fits) + 2 * n_chord
        aic_trapezoid = sum(f.chi2 for f in trapezoid_fits) + 2 * 3
        if aic_chord - 3 * TRAPEZOID_AIC_MARGIN < aic_trapezoid < aic_chord - TRAPEZOID_AIC_MARGIN and impact is None:
            # Before a close call gives the chord up: a free impact parameter has other local
            # minima (b trades with the limb darkening), so the chord restarts from other impacts.
            for b in [IMPACT_RESTARTS[int(geometry.impact < 0.5)]]:
                other = chord(degrees, _restart(geometry, b))
                other_fits = [
                    fit_white(whites[i], other, d, settings.samples) for i, d in zip(usable, degrees, strict=True)
                ]
                aic_other = sum(f.chi2 for f in other_fits) + 2 * n_chord
                if aic_other < aic_chord:
                    geometry, chord_fits, aic_chord = other, other_fits, aic_other
        if aic_trapezoid < aic_chord - TRAPEZOID_AIC_MARGIN:
            notes.append(
                f"a trapezoid fits the white light curves better than a limb-darkened chord (AIC {aic_trapezoid:.1f} < {aic_chord:.1f}): trapezoid shape, no limb darkening"
            )
            geometry = flat
    except (ValueError, np.linalg.LinAlgError) as exc:
        notes.append(f"no transit window: {exc}")
        geometry = None
    fits = (
        {} if geometry is None else dict(zip(usable, trapezoid_fits if geometry is flat else chord_fits, strict=True))
    )
    reference = (
        max(fits, key=lambda i: abs(fits[i].depth / fits[i].sigma) if fits[i].sigma > 0 else 0.0) if fits else None
    )
    for instrument, c in curves.items():
        flux, variance = c.spectral
        n_channels = flux.shape[1]
        rows["instrument"] += [instrument] * n_channels
        rows["channel"] += list(range(n_channels))
        rows["detector_column"] += list(c.channels["detector_column"])
        rows["label"] += list(c.channels["label"])
        wavelengths = np.array([np.nan if w is None else w for w in c.channels["wavelength_um"]], dtype=F64)
        rows["wavelength_um"] += wavelengths.tolist()
        if geometry is None or instrument not in fits and reference is None:
            _nan_rows(rows, instrument, c)
            summary[instrument] = {
                "in_transit_bins": 0,
                "out_of_transit_bins": 0,
                "margin_h": settings.margin_bins * c.width,
            }
            continue
        own = instrument in fits and n_channels > 1
        source = fits[instrument] if own else fits[reference]
        kinds = ([0] if settings.common_mode else []) + (
            [1] if settings.common_mode and (own or reference != instrument) else []
        )
        time_of_source = whites[instrument if own else reference].time
        series = np.stack([source.systematics, source.residual], axis=1)[None]  # (1, time, 2)
        if settings.common_mode_error and source.template_errors is not None:
            series = np.concatenate([series, series[:1] + source.template_errors])
        moved = np.stack(
            [np.stack([np.interp(c.time, time_of_source, one[:, k]) for k in kinds], axis=1) for one in series]
        ) if kinds else np.zeros((len(series), c.time.size, 0))  # fmt: skip
        templates = np.hstack([moved[0], pointing[instrument]])
        template_errors = np.concatenate(
            [moved[1:] - moved[:1], np.zeros((len(moved) - 1, c.time.size, pointing[instrument].shape[1]))], axis=2
        )
        curve_set = (c.time, flux, variance, c.width)
        single = None
        if n_channels == 1 and settings.single_channel_fit:
            regressors, errors = _single_channel_regressors(instrument, c, fits, whites, settings)
            channel = normalised(c.time, flux[:, 0], variance[:, 0], c.width)
            degree = fits[instrument].degree if instrument in fits else 1
            n_params = degree + 1 + regressors.shape[1] + 3
            if (channel.weight > 0).sum() >= n_params + MIN_SINGLE_CHANNEL_DOF:  # else: as a spectral channel
                # The regressors without their polynomial part (the level stays the baseline's);
                # the same projection of their errors.
                weight = channel.weight
                channel = dataclasses.replace(
                    channel, regressors=orthogonal_to_polynomial(c.time, weight, regressors, degree)
                )
                errors = (
                    np.stack([orthogonal_to_polynomial(c.time, weight, e, degree) for e in errors], axis=0)
                    if len(errors)
                    else errors
                )
                single = single_channel_depths(channel, geometry, degree, settings.samples, errors)
        if single is not None:
            depths = single
        elif n_channels > 1:
            bands = limb_darkening_bands(curve_set, templates, settings.baseline_degree, settings.ld_bands)

            def ld(g, curve_set=curve_set, wavelengths=wavelengths, templates=templates, bands=bands):
                return band_limb_darkening(
                    curve_set,
                    g,
                    wavelengths,
                    templates,
                    settings.baseline_degree,
                    settings.samples,
                    settings.ld_bands,
                    bands,
                )
        else:
            white = whites[instrument]
            degree = fits[instrument].degree if instrument in fits else 1

            def ld(g, white=white, degree=degree):
                fit = fit_white(white, g, degree, settings.samples)
                return np.array([fit.u1]), np.array([fit.u2])

        if single is None:
            depths = channel_depths(
                curve_set,
                geometry,
                templates,
                settings.baseline_degree,
                ld,
                settings.samples,
                settings.ld_bands,
                template_errors,
            )
        rows["depth"] += depths.depth.tolist()
        rows["sigma"] += depths.sigma.tolist()
        rows["noise_ratio"] += depths.noise_ratio.tolist()
        rows["red_noise"] += depths.red_noise.tolist()
        rows["sigma_white"] += depths.sigma_white.tolist()
        rows["sigma_geometry"] += depths.sigma_geometry.tolist()
        common = depths.sigma_common if depths.sigma_common is not None else np.zeros(n_channels)
        rows["sigma_common"] += np.where(np.isfinite(depths.depth), common, np.nan).tolist()
        rows["u1"] += depths.u1.tolist()
        rows["u2"] += depths.u2.tolist()
        inside, outside = window_bins(c.time, c.width, geometry.contacts, settings.margin_bins * c.width)
        fit = fits.get(instrument)
        summary[instrument] = {
            "in_transit_bins": int(inside.sum()),
            "out_of_transit_bins": int(outside.sum()),
            "occulted_bins": int(depths.in_transit.sum()),
            "margin_h": settings.margin_bins * c.width,
            "fit_depth": None if fit is None else _finite(fit.depth),
            "fit_snr": None if fit is None or not fit.sigma > 0 else _finite(fit.depth / fit.sigma),
            "white_depth": None if fit is None else _finite(fit.depth),
            "white_sigma": None if fit is None else _finite(fit.sigma),
            "white_noise_ratio": None if fit is None or fit.dof <= 0 else _finite(np.sqrt(fit.chi2 / fit.dof)),
            "white_baseline_degree": None if fit is None else fit.degree,
            "white_u1": None if fit is None else _finite(fit.u1),
            "white_u2": None if fit is None else _finite(fit.u2),
            "templates_from": instrument if own else reference,
            "median_noise_ratio": _finite(np.nanmedian(depths.noise_ratio))
            if np.isfinite(depths.noise_ratio).any()
            else None,
            "median_red_noise": _finite(np.nanmedian(depths.red_noise)),
        }
    window = None if geometry is None else geometry.contacts
    geometry_meta = None
    if isinstance(geometry, TrapezoidShape):
        geometry_meta = {
            "shape": "trapezoid",
            "trapezoid_h": [float(x) for x in trapezoid.contacts],
            "sigma_contacts_h": [0.0] * 4,
        }
    elif geometry is not None:
        geometry_meta = {
            name: float(v) for name, v in zip(("t0_h", "speed_per_h", "impact", "radius"), geometry.params, strict=True)
        }
        geometry_meta.update(
            {
                f"sigma_{k}": float(np.sqrt(max(geometry.cov[i, i], 0.0)))
                for i, k in enumerate(("t0_h", "speed_per_h", "impact", "radius"))
            }
        )
        geometry_meta["sigma_contacts_h"] = [float(v) for v in geometry.contact_sigmas]
        geometry_meta["impact_fixed"] = impact is not None
        geometry_meta["shape"] = "chord"
        geometry_meta["trapezoid_h"] = [float(x) for x in trapezoid.contacts]
    return VisitDepths(window, rows, summary, geometry_meta, notes)
