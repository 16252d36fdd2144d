"""One planet visit: the transit window and geometry fitted jointly to the white light curves of
every instrument, then every channel's depth (docs/science.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .channels import band_limb_darkening, channel_depths
from .lightcurve_model import TrapezoidShape, choose_degree, fit_geometry, fit_white, normalised
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
    "red_noise", "sigma_white", "sigma_geometry", "u1", "u2",
)  # fmt: skip


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
    for name in ("depth", "sigma", "noise_ratio", "red_noise", "sigma_white", "sigma_geometry", "u1", "u2"):
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
            [(curves[i].time, curves[i].white[0], curves[i].white[1], curves[i].width or None) for i in usable],
        )

        def chord(degrees, start_at=None):
            usable_whites = [whites[i] for i in usable]
            return fit_geometry(
                usable_whites, trapezoid.contacts, degrees, impact, settings.samples, start_at, settings.tie_radius
            )

        start = [2 if 2 in settings.white_degrees else int(settings.white_degrees[0])] * len(usable)
        geometry = chord(start)
        degrees = [choose_degree(whites[i], geometry, settings.white_degrees, settings.samples) for i in usable]
        if degrees != start:  # refit from the first chord with the baselines the BIC chose
            geometry = chord(degrees, geometry)
        # Shape selection: the chord against the search's trapezoid (same baselines), by AIC
        # with a margin in the chord's favour.
        chord = [fit_white(whites[i], geometry, d, settings.samples) for i, d in zip(usable, degrees, strict=True)]
        flat = TrapezoidShape(*trapezoid.contacts)
        plain = [fit_white(whites[i], flat, d, settings.samples) for i, d in zip(usable, degrees, strict=True)]
        n_chord = 3 + (impact is None) + 2 * len(usable)
        aic_chord = sum(f.chi2 for f in chord) + 2 * n_chord
        aic_trapezoid = sum(f.chi2 for f in plain) + 2 * 3
        if aic_trapezoid < aic_chord - TRAPEZOID_AIC_MARGIN:
            notes.append(
                f"a trapezoid fits the white light curves better than a limb-darkened chord (AIC {aic_trapezoid:.1f} < {aic_chord:.1f}): trapezoid shape, no limb darkening"
            )
            geometry = flat
    except (ValueError, np.linalg.LinAlgError) as exc:
        notes.append(f"no transit window: {exc}")
        geometry = None
    fits = (
        {}
        if geometry is None
        else {i: fit_white(whites[i], geometry, d, settings.samples) for i, d in zip(usable, degrees, strict=True)}
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
        templates = [source.systematics] if settings.common_mode else []
        if settings.common_mode and (own or reference != instrument):
            templates.append(source.residual)
        time_of_source = whites[instrument if own else reference].time
        templates = (
            np.stack([np.interp(c.time, time_of_source, t) for t in templates], axis=1)
            if templates
            else np.zeros((c.time.size, 0))
        )
        templates = np.hstack([templates, pointing[instrument]])
        curve_set = (c.time, flux, variance, c.width)
        if n_channels > 1:

            def ld(g, curve_set=curve_set, wavelengths=wavelengths, templates=templates):
                return band_limb_darkening(
                    curve_set, g, wavelengths, templates, settings.baseline_degree, settings.samples, settings.ld_bands
                )
        else:
            white = whites[instrument]
            degree = fits[instrument].degree if instrument in fits else 1

            def ld(g, white=white, degree=degree):
                fit = fit_white(white, g, degree, settings.samples)
                return np.array([fit.u1]), np.array([fit.u2])

        depths = channel_depths(
            curve_set, geometry, templates, settings.baseline_degree, ld, settings.samples, settings.ld_bands
        )
        rows["depth"] += depths.depth.tolist()
        rows["sigma"] += depths.sigma.tolist()
        rows["noise_ratio"] += depths.noise_ratio.tolist()
        rows["red_noise"] += depths.red_noise.tolist()
        rows["sigma_white"] += depths.sigma_white.tolist()
        rows["sigma_geometry"] += depths.sigma_geometry.tolist()
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
