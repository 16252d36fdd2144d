"""Optics and source: the AIRS trace and spectrum, the FGS1 PSF, the separable source rate."""

from __future__ import annotations

import math

import numpy as np

from ..instruments import AIRS, FGS1, Instrument
from .config import SimulationConfig, _rng
from .detector import ADC_MAX, LINEARITY_MEDIANS, linearity
from .sky import FGS1_WAVELENGTH_UM, Planet, airs_column_depths, airs_wavelengths
from .transit import drift, pair_times_s, pointing, transit_multiplier

# Peak-pixel charge at the long read of the brightest star: the 2024 star-0 AIRS ADC clips near
# 4.2e4 e-, so 3.0e4 e- (times flat <= 1.11, plus noise) stays below every ADC ceiling.
PEAK_LONG_READ_E = {AIRS.name: 3.0e4, FGS1.name: 3.2e4}

# Spatial profiles: Gaussian core + wide wings, (weight, sigma in pixels), point-sampled.
AIRS_TRACE_ROW = 15.6
AIRS_ROW_PROFILE = ((0.8, 1.25), (0.2, 4.5))
FGS1_PSF_CENTRE = (15.4, 15.3)
FGS1_PSF_1D = ((0.83, 1.1), (0.17, 4.2))


def gaussian_mixture(offset: np.ndarray, components) -> np.ndarray:
    """Point-sampled density of a sum of (weight, sigma) Gaussians at ``offset`` pixels."""
    offset = np.asarray(offset, dtype=np.float64)
    total = np.zeros_like(offset)
    for weight, sigma in components:
        total += weight / (sigma * math.sqrt(2 * math.pi)) * np.exp(-0.5 * (offset / sigma) ** 2)
    return total


def airs_spectrum_shape(columns: np.ndarray, star_temperature: float) -> np.ndarray:
    """Relative photon rate per AIRS column: a Planck photon spectrum times a throughput that
    rises toward short wavelength (high column) and cuts off past column ~312."""
    columns = np.asarray(columns, dtype=np.float64)
    lam = airs_wavelengths(columns)
    planck_photons = lam**-4 / np.expm1(14387.77 / (lam * star_temperature))
    throughput = np.exp(-(lam - 2.0) / 1.06) / (1.0 + np.exp((columns - 322.0) / 4.0))
    return planck_photons * throughput


def source_factors(
    cfg: SimulationConfig, body: Planet, visit: int, instrument: Instrument
) -> tuple[np.ndarray, np.ndarray]:
    """Separable source rate (e-/s before the flat): rate[r, c, k] = rows[r, k] * cols[c, k].

    Time-independent factors have a single time column (broadcast).
    """
    n_frames = cfg.frames(instrument.name)
    t = pair_times_s(instrument, n_frames)
    shift = np.zeros((2, 1))
    if cfg.jitter:
        # Slow jitter shared by both instruments (one telescope) plus white noise per instrument.
        shift = pointing(_rng(cfg, "pointing", body.planet_id, visit), t)
        shift += _rng(cfg, "jitter", body.planet_id, visit, instrument.name).normal(0.0, 0.01, shift.shape)
    rows = np.arange(instrument.rows, dtype=np.float64)[:, None]
    cols = np.arange(instrument.cols, dtype=np.float64)[:, None]
    if instrument is AIRS:
        wavelengths = airs_wavelengths()
        depths = airs_column_depths(body.depths)
        # Jitter moves the trace across rows and the spectrum along columns; the transit depth
        # stays attached to detector columns.
        profile = gaussian_mixture(rows - AIRS_TRACE_ROW - shift[0][None, :], AIRS_ROW_PROFILE)
        shape = airs_spectrum_shape(cols - shift[1][None, :], body.star_info["Ts"])
        peak = (
            gaussian_mixture(rows - AIRS_TRACE_ROW, AIRS_ROW_PROFILE).max()
            * airs_spectrum_shape(cols, body.star_info["Ts"]).max()
        )
        if cfg.saturation:
            brightest = _saturating_peak(body, instrument, cfg.saturation_level)
        else:
            brightest = PEAK_LONG_READ_E[AIRS.name] * body.brightness
        scale = brightest / (instrument.long_read_s * peak)
        row_factor, col_factor = profile, scale * shape
    else:
        wavelengths = np.array([FGS1_WAVELENGTH_UM[cfg.edition]])
        depths = body.depths[:1]
        row_factor = gaussian_mixture(rows - FGS1_PSF_CENTRE[0] - shift[0][None, :], FGS1_PSF_1D)
        col_factor = gaussian_mixture(cols - FGS1_PSF_CENTRE[1] - shift[1][None, :], FGS1_PSF_1D)
        peak = (
            gaussian_mixture(rows - FGS1_PSF_CENTRE[0], FGS1_PSF_1D).max()
            * gaussian_mixture(cols - FGS1_PSF_CENTRE[1], FGS1_PSF_1D).max()
        )
        if cfg.saturation:
            brightest = _saturating_peak(body, instrument, cfg.saturation_level)
            row_factor = row_factor * brightest / (instrument.long_read_s * peak)
        else:  # this order of operations keeps the bytes of earlier versions
            row_factor = (
                row_factor
                * PEAK_LONG_READ_E[FGS1.name]
                * body.brightness
                * body.fgs1_colour
                / (instrument.long_read_s * peak)
            )
    modulation = transit_multiplier(t, body.contacts_s, depths, wavelengths, body.chord, cfg.limb_darkening)
    if cfg.drift:
        modulation = modulation * drift(_rng(cfg, "drift", body.planet_id, visit), t, cfg.window_s, wavelengths)
    return row_factor, col_factor * modulation


def _saturating_peak(body: Planet, instrument: Instrument, level: float) -> float:
    """Charge (e-) of the brightest pixel's long read (flat 1, out of transit, no noise) that is
    ``level`` x the ADC ceiling: the median linearity polynomial at the detector value of raw
    65535, so that pixel and its brightest neighbours clip."""
    gain, offset = body.adc[instrument.name]
    ceiling = np.float64(ADC_MAX / gain + offset)
    return float(level * linearity(ceiling, np.array(LINEARITY_MEDIANS[instrument.name])))
