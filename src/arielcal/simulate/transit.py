"""Time axis and light curve: frame and ramp times, transit shapes, drift and pointing."""

from __future__ import annotations

import numpy as np

from ..instruments import Instrument
from .occultation import Chord, occulted_fraction


def frame_times_s(instrument: Instrument, n_frames: int) -> np.ndarray:
    """axis_info time stamps (s): pair k at 0.1 + cadence*k and 0.2 + cadence*k."""
    start = instrument.pair_cadence_s * np.arange(n_frames // 2)
    times = np.empty(n_frames)
    times[0::2] = 0.1 + start
    times[1::2] = 0.2 + start
    return times


def pair_times_s(instrument: Instrument, n_frames: int) -> np.ndarray:
    """Time of each ramp for the light curve: the mean of its two stamps (the CDS time stamp)."""
    return 0.15 + instrument.pair_cadence_s * np.arange(n_frames // 2)


def trapezoid(t: np.ndarray, contacts: np.ndarray) -> np.ndarray:
    """0 out of transit, 1 on the flat bottom, linear ingress and egress."""
    t1, t2, t3, t4 = contacts
    return np.clip(np.minimum((t - t1) / (t2 - t1), (t4 - t) / (t4 - t3)), 0.0, 1.0)


def limb_darkening_coefficients(wavelengths_um: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quadratic limb darkening (u1, u2), stronger at short wavelength."""
    blue = 0.7 / np.asarray(wavelengths_um, dtype=np.float64)
    return 0.12 + 0.33 * blue, 0.22 - 0.05 * blue


def transit_multiplier(
    t: np.ndarray,
    contacts: np.ndarray,
    depths: np.ndarray,
    wavelengths_um: np.ndarray,
    chord: Chord | None = None,
    limb_darkening: bool = False,
) -> np.ndarray:
    """Flux multiplier, shape (n_wavelengths, n_times).

    Without a ``chord``: 1 - depth * trapezoid (flat bottom, the depth exactly). With one: the
    exact flux blocked by a disc of radius sqrt(depth) crossing the star on that chord
    (:mod:`.occultation`), uniform or, with ``limb_darkening``, quadratically limb-darkened with
    :func:`limb_darkening_coefficients`; the label stays (Rp/Rs)^2.
    """
    depths = np.asarray(depths, dtype=np.float64)[:, None]
    if chord is None:
        if limb_darkening:
            raise ValueError("a limb-darkened transit needs its chord across the star")
        return 1.0 - depths * trapezoid(t, contacts)[None, :]
    u1, u2 = limb_darkening_coefficients(wavelengths_um) if limb_darkening else (0.0, 0.0)
    u1, u2 = np.broadcast_to(u1, depths.shape[:1])[:, None], np.broadcast_to(u2, depths.shape[:1])[:, None]
    return 1.0 - occulted_fraction(np.sqrt(depths), chord.separation(t)[None, :], u1, u2)


def drift(rng: np.random.Generator, t: np.ndarray, window_s: float, wavelengths_um: np.ndarray) -> np.ndarray:
    """Slow multiplicative drift 1 + f(t) g(lambda), f and g low-order polynomials (~1e-3)."""
    tau = 2.0 * t / window_s - 1.0
    a1, a2 = rng.normal(0.0, 4e-4, size=2)
    slope = rng.uniform(-0.3, 0.3)
    chromatic = 1.0 + slope * (np.asarray(wavelengths_um, dtype=np.float64) - 2.5)
    return 1.0 + chromatic[:, None] * (a1 * tau + a2 * tau**2)[None, :]


def pointing(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Sub-pixel pointing offsets (2, n_times) in pixels: three slow sinusoids per axis."""
    offsets = np.zeros((2, t.size))
    for axis in range(2):
        for _ in range(3):
            amplitude = rng.uniform(0.005, 0.03)
            period = rng.uniform(60.0, 3000.0)
            offsets[axis] += amplitude * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    return offsets
