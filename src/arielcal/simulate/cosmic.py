"""Cosmic-ray hits: charge deposited in one pixel at a random moment of the visit.

Hits arrive as a Poisson process, ``rate`` per pixel per second of the visit (pair cadence x
pairs), uniformly in time, with a log-uniform charge in [lo, hi] e-. A ramp integrates from its
reset, so a hit at ``offset_s`` after the reset of ramp k is in every read of that ramp after
it: both reads (offset < t_short: it cancels in the CDS frame), the long read only
(t_short <= offset < t_long: a CDS jump of the whole charge), or none (after the long read: the
next reset clears it). Dead pixels do not respond and get no hits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..instruments import Instrument


@dataclass(frozen=True)
class CosmicRays:
    """The hits of one observation, sorted by (pixel, pair); pixel = row * cols + column."""

    pixel: np.ndarray
    pair: np.ndarray
    offset_s: np.ndarray
    """Time of the hit after its ramp's reset (s)."""
    charge_e: np.ndarray

    def reads(self, instrument: Instrument) -> np.ndarray:
        """Reads of its ramp each hit is in: 2 (both, cancels in CDS), 1 (the long read), 0."""
        return (self.offset_s < instrument.short_read_s).astype(np.int64) + (self.offset_s < instrument.long_read_s)


def cosmic_ray_hits(
    rng: np.random.Generator,
    instrument: Instrument,
    n_pairs: int,
    dead: np.ndarray,
    rate_per_pixel_s: float,
    charge_range_e: tuple[float, float],
) -> CosmicRays:
    """Draw the hits of one observation (``dead``: the (rows, cols) dead map)."""
    live = np.flatnonzero(~np.asarray(dead, dtype=bool).ravel())
    expected = rate_per_pixel_s * live.size * n_pairs * instrument.pair_cadence_s
    n = int(rng.poisson(expected))
    pixel = live[rng.integers(0, live.size, n)] if live.size else np.zeros(0, dtype=np.int64)
    pair = rng.integers(0, n_pairs, n)
    offset = rng.uniform(0.0, instrument.pair_cadence_s, n)
    lo, hi = charge_range_e
    charge = np.exp(rng.uniform(math.log(lo), math.log(hi), n))
    order = np.lexsort((pair, pixel))
    return CosmicRays(pixel[order].astype(np.int64), pair[order].astype(np.int64), offset[order], charge[order])


def deposit(
    reads: tuple[np.ndarray, np.ndarray],
    hits: CosmicRays,
    slot: np.ndarray,
    pix: np.ndarray,
    k0: int,
    k1: int,
    instrument: Instrument,
) -> None:
    """Add the hits on pixels ``pix`` and ramps [k0, k1) to the (short, long) read blocks, in place.

    ``slot`` is a scratch array of -1 over every pixel of the detector (restored on return).
    """
    slot[pix] = np.arange(pix.size)
    local = slot[hits.pixel]
    slot[pix] = -1
    chosen = (local >= 0) & (hits.pair >= k0) & (hits.pair < k1)
    if not chosen.any():
        return
    rows, cols = local[chosen], hits.pair[chosen] - k0
    charge = hits.charge_e[chosen].astype(np.float32)
    offset = hits.offset_s[chosen]
    for read, until in zip(reads, (instrument.short_read_s, instrument.long_read_s), strict=True):
        inside = offset < until
        np.add.at(read, (rows[inside], cols[inside]), charge[inside])
