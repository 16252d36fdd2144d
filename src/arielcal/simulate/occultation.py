"""The flux a planet disc blocks on a limb-darkened star, and the chord it crosses the star on.

Geometry in stellar radii: a planet of radius ``p`` whose centre is at projected distance ``z``
from the star's centre. The star's intensity follows the quadratic law
I(mu) = 1 - u1 (1 - mu) - u2 (1 - mu)^2, mu = sqrt(1 - r^2), whose disc integral is
pi (1 - u1/3 - u2/6).

* Uniform disc (u1 = u2 = 0): the lens area of two circles over pi, in closed form
  (Mandel & Agol 2002, their lambda^e).
* Quadratic law: I = c0 + c1 mu + c2 mu^2 with c0 = 1 - u1 - u2, c1 = u1 + 2 u2, c2 = -u2. The
  constant part is c0 times the uniform lens area (closed form); the rest is the exact integral
  over annuli, sum of I(r) dA/dr, dA/dr = 2 r alpha(r) with 2 alpha(r) the angle of the circle of
  radius r inside the planet disc. Its end points carry square-root singularities (alpha at
  |z - p| and z + p, mu at r = 1), which the substitution r = a + (b - a)(1 - cos theta)/2 turns
  into a smooth periodic integrand: Gauss-Legendre in theta converges geometrically (checked
  against a brute-force pixel integration of the disc, tests/unit/test_simulate.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QUADRATURE_NODES = 48
_THETA, _WEIGHT = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
_THETA = (_THETA + 1.0) * (np.pi / 2.0)  # nodes on [0, pi]
_WEIGHT = _WEIGHT * (np.pi / 2.0)
# Points per vectorised pass (x QUADRATURE_NODES float64 temporaries of ~15 MB).
CHUNK_POINTS = 40_000


def uniform_occultation(p, z) -> np.ndarray:
    """Fraction of a uniform disc's flux blocked by a planet of radius ``p`` at distance ``z``."""
    p, z = np.broadcast_arrays(np.asarray(p, dtype=np.float64), np.asarray(z, dtype=np.float64))
    blocked = np.zeros(z.shape)
    inside = z <= 1.0 - p
    blocked[inside] = np.minimum(p[inside], 1.0) ** 2
    blocked[z <= p - 1.0] = 1.0
    edge = (z > np.abs(1.0 - p)) & (z < 1.0 + p)
    pe, ze = p[edge], z[edge]
    kappa0 = np.arccos(np.clip((pe * pe + ze * ze - 1.0) / (2.0 * pe * ze), -1.0, 1.0))
    kappa1 = np.arccos(np.clip((1.0 - pe * pe + ze * ze) / (2.0 * ze), -1.0, 1.0))
    root = np.sqrt(np.maximum(4.0 * ze * ze - (1.0 + ze * ze - pe * pe) ** 2, 0.0)) / 2.0
    blocked[edge] = (pe * pe * kappa0 + kappa1 - root) / np.pi
    return blocked


def _arc_angle(r: np.ndarray, p: np.ndarray, z: np.ndarray) -> np.ndarray:
    """2 alpha(r): the angle of the circle of radius r (star-centred) inside the planet disc."""
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = (r * r + z * z - p * p) / (2.0 * r * z)
    angle = 2.0 * np.arccos(np.clip(np.nan_to_num(cosine, nan=-1.0), -1.0, 1.0))
    return np.where(r <= p - z, 2.0 * np.pi, angle)


def occulted_fraction(p, z, u1=0.0, u2=0.0) -> np.ndarray:
    """Fraction of the flux of a quadratically limb-darkened star blocked by the planet disc.

    ``p``, ``z``, ``u1``, ``u2`` broadcast together; p < 1 (a planet smaller than its star).
    """
    p, z, u1, u2 = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (p, z, u1, u2)))
    c0, c1, c2 = 1.0 - u1 - u2, u1 + 2.0 * u2, -u2
    blocked = np.array(c0 * np.pi * uniform_occultation(p, z), dtype=np.float64)  # an array also for scalars
    touching = np.flatnonzero((z < 1.0 + p) & ((c1 != 0) | (c2 != 0)))
    flat = blocked.reshape(-1)  # a view: blocked is a fresh array
    points = [np.ravel(v)[touching] for v in (p, z, c1, c2)]
    for start in range(0, touching.size, CHUNK_POINTS):
        part = slice(start, start + CHUNK_POINTS)
        flat[touching[part]] += _annuli(*(v[part] for v in points))
    return blocked / (np.pi * (1.0 - u1 / 3.0 - u2 / 6.0))


def _annuli(p: np.ndarray, z: np.ndarray, c1: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """Integral of (c1 mu + c2 mu^2) dA over the planet disc, for 1-D arrays of points."""
    split = np.clip(p - z, 0.0, 1.0)  # r < p - z: whole circles covered
    top = np.minimum(1.0, z + p)
    total = np.zeros(p.shape)
    for lo, hi in ((np.zeros_like(split), split), (np.maximum(np.abs(z - p), split), top)):
        width = np.maximum(hi - lo, 0.0)[:, None]
        r = lo[:, None] + width * (1.0 - np.cos(_THETA)) / 2.0
        mu = np.sqrt(np.maximum(1.0 - r * r, 0.0))
        integrand = (c1[:, None] * mu + c2[:, None] * (mu * mu)) * r * _arc_angle(r, p[:, None], z[:, None])
        integrand *= width * np.sin(_THETA) / 2.0
        total += integrand @ _WEIGHT
    return total


@dataclass(frozen=True)
class Chord:
    """A straight chord across the star: z(t) = sqrt(impact^2 + (speed (t - t_mid))^2)."""

    t_mid: float
    """Mid-transit time (s)."""
    speed: float
    """Stellar radii per second."""
    impact: float
    """Impact parameter, stellar radii."""

    @classmethod
    def through(cls, t1: float, t4: float, impact: float, p: float) -> Chord:
        """The chord whose first and last contacts for a planet of radius ``p`` are t1 and t4."""
        return cls((t1 + t4) / 2.0, 2.0 * np.sqrt((1.0 + p) ** 2 - impact**2) / (t4 - t1), impact)

    def separation(self, t: np.ndarray) -> np.ndarray:
        return np.hypot(self.impact, self.speed * (np.asarray(t, dtype=np.float64) - self.t_mid))

    def contacts(self, p: float) -> np.ndarray:
        """t1 < t2 < t3 < t4 (s) for a planet of radius ``p``; t2, t3 NaN for a grazing chord
        (impact > 1 - p: the disc never lies wholly inside the star)."""
        outer = np.sqrt(max((1.0 + p) ** 2 - self.impact**2, 0.0)) / self.speed
        inner = np.sqrt((1.0 - p) ** 2 - self.impact**2) / self.speed if self.impact < 1.0 - p else np.nan
        return np.array([self.t_mid - outer, self.t_mid - inner, self.t_mid + inner, self.t_mid + outer])

    def grazing(self, p: float) -> bool:
        return bool(self.impact > 1.0 - p)
