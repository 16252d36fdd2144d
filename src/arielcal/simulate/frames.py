"""Raw frames of one observation: ramps of two reads, shot and read noise, non-linearity, ADC."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..instruments import Instrument
from .config import SimulationConfig, _rng
from .cosmic import CosmicRays, cosmic_ray_hits, deposit
from .detector import (
    ADC_MAX,
    DEAD_NOISE_E,
    calibration_maps,
    check_monotonic,
    digitise,
    digitise_error_feedback,
    invert_linearity,
    newton_iterations,
)
from .optics import source_factors
from .sky import Planet

POISSON_BELOW_E = 1.0
# float32 work arrays of this many elements stay in the 1 MiB L2 cache.
CHUNK_ELEMENTS = 1 << 15


@dataclass(frozen=True)
class ObservationModel:
    """Inputs of :func:`simulate_frames` for one visit of one instrument (arrays, no I/O)."""

    instrument: Instrument
    row_factor: np.ndarray
    """(rows, n_pairs or 1): source rate factor of each detector row."""
    col_factor: np.ndarray
    """(cols, n_pairs or 1): source rate factor of each detector column (spectrum, transit, drift)."""
    maps: dict
    """:func:`calibration_maps` output."""
    gain: float
    offset: float
    n_pairs: int
    hits: CosmicRays | None = None
    """Cosmic-ray hits (:mod:`.cosmic`), or None."""


def observation_model(cfg: SimulationConfig, body: Planet, visit: int, instrument: Instrument) -> ObservationModel:
    rng = _rng(cfg, "calibration", body.planet_id, visit, instrument.name)
    maps = calibration_maps(rng, instrument, cfg.hot_fraction, cfg.dead_fraction)
    gain, offset = body.adc[instrument.name]
    n_pairs = cfg.frames(instrument.name) // 2
    row_factor, col_factor = source_factors(cfg, body, visit, instrument)
    hits = None
    if cfg.cosmic_rays:
        stream = _rng(cfg, "cosmic_rays", body.planet_id, visit, instrument.name)
        hits = cosmic_ray_hits(stream, instrument, n_pairs, maps["dead"], cfg.cosmic_ray_rate, cfg.cosmic_ray_charge_e)
    return ObservationModel(instrument, row_factor, col_factor, maps, gain, offset, n_pairs, hits)


def simulate_frames(
    model: ObservationModel, rng: np.random.Generator, noise: bool = True, nonlinearity: bool = True
) -> tuple[np.ndarray, int]:
    """Raw frames, pixel-major uint16 (rows, cols, frames), and the number of clipped values.

    Per ramp k and pixel: rate = flat * source + dark (0 for dead pixels); short read
    y_s = pedestal + Q_s, long read y_l = pedestal + Q_s + Q_d (shared early charge), with
    Q_s, Q_d the charges of [0, t_short] and [t_short, t_long]; read noise per read; then the
    inverse linearity and the ADC. Cosmic-ray charge (``model.hits``) joins the reads after each
    hit before the non-linearity; the noise draws do not depend on it. Pixels are processed in groups of equal treatment (noise model,
    Newton steps) and in cache-sized blocks of pixels x ramps.
    """
    inst = model.instrument
    maps = model.maps
    n_pairs = model.n_pairs
    t_short, t_long = inst.short_read_s, inst.long_read_s
    row_of = np.repeat(np.arange(inst.rows), inst.cols)
    col_of = np.tile(np.arange(inst.cols), inst.rows)
    flat = maps["flat"].ravel()
    dead = maps["dead"].ravel()
    dark = np.where(dead, 0.0, maps["dark"].ravel())
    read = maps["read"].ravel()
    pedestal = maps["pedestal"].ravel()
    coeffs = maps["linear_corr"].reshape(6, -1)

    read = np.where(dead, DEAD_NOISE_E, read)
    rate_max = np.where(
        dead, 0.0, np.abs(flat) * model.row_factor.max(axis=1)[row_of] * model.col_factor.max(axis=1)[col_of] + dark
    )
    exact_short = noise & (rate_max * t_short < POISSON_BELOW_E)
    exact_long = noise & (rate_max * (t_long - t_short) < POISSON_BELOW_E)
    if nonlinearity:
        ceiling = ADC_MAX / model.gain + model.offset
        check_monotonic(coeffs, model.offset - 1000.0, ceiling)
        spread = 6.0 * np.sqrt(rate_max * t_long + read**2) if noise else np.zeros_like(read)
        y_low = pedestal - spread
        steps_short = newton_iterations(coeffs, y_low, pedestal + rate_max * t_short + spread)
        steps_long = newton_iterations(coeffs, y_low, pedestal + rate_max * t_long + spread)
    else:
        steps_short = steps_long = np.zeros(dead.size, dtype=int)

    key = np.stack([dead, exact_short, exact_long, steps_short, steps_long], axis=1).astype(np.int64)
    groups, group_of = np.unique(key, axis=0, return_inverse=True)
    group_of = group_of.ravel()
    factors = (np.asarray(model.row_factor, dtype=np.float32), np.asarray(model.col_factor, dtype=np.float32))
    per_pixel = np.stack([flat, dark, read, pedestal]).astype(np.float32)
    coeffs32 = coeffs.astype(np.float32)
    out = np.empty((dead.size, n_pairs, 2), dtype=np.uint16)
    clipped = 0
    ramps = min(n_pairs, 2048)
    hits = model.hits if model.hits is not None and model.hits.pixel.size else None
    slot = np.full(dead.size, -1, dtype=np.int64)
    block = max(1, CHUNK_ELEMENTS // ramps)
    for group, (is_dead, poisson_short, poisson_long, n_short, n_long) in enumerate(groups):
        members = np.flatnonzero(group_of == group)
        for start in range(0, members.size, block):
            pix = members[start : start + block]
            p_flat, p_dark, p_read, p_pedestal = per_pixel[:, pix, None]
            p_coeffs = coeffs32[:, pix, None]
            carries = (np.zeros(pix.size), np.zeros(pix.size))
            for k0 in range(0, n_pairs, ramps):
                k1 = min(k0 + ramps, n_pairs)
                if is_dead:
                    reads = [_dead_read(p_pedestal, k1 - k0, rng, noise) for _ in range(2)]
                else:
                    rate = _factor_block(factors[1], col_of[pix], k0, k1)
                    rate *= _factor_block(factors[0], row_of[pix], k0, k1)
                    rate *= p_flat
                    rate += p_dark
                    reads = _ramp_reads(
                        rate, t_short, t_long, p_pedestal, p_read, rng, noise, bool(poisson_short), bool(poisson_long)
                    )
                    if hits is not None:
                        deposit(reads, hits, slot, pix, k0, k1, inst)
                for read_index, (y, steps) in enumerate(zip(reads, (n_short, n_long), strict=True)):
                    x = invert_linearity(y, p_coeffs, int(steps)) if nonlinearity else y
                    if noise:
                        raw, n_clipped = digitise(x, model.gain, model.offset)
                    else:
                        raw, n_clipped = digitise_error_feedback(x, model.gain, model.offset, carries[read_index])
                    out[pix, k0:k1, read_index] = raw
                    clipped += n_clipped
    return out.reshape(inst.rows, inst.cols, 2 * n_pairs), clipped


def _factor_block(factor: np.ndarray, index: np.ndarray, k0: int, k1: int) -> np.ndarray:
    """factor[index, k0:k1] as a fresh float32 (len(index), k1 - k0) array (time-constant factors broadcast)."""
    if factor.shape[1] == 1:
        return np.repeat(factor[index], k1 - k0, axis=1)
    return factor[index, k0:k1]


def _dead_read(pedestal, width, rng, noise):
    """A dead pixel does not respond: pedestal plus a small read noise."""
    values = np.repeat(pedestal, width, axis=1)
    if noise:
        values += np.float32(DEAD_NOISE_E) * _normal(rng, values.shape)
    return values


def _ramp_reads(rate, t_short, t_long, pedestal, read, rng, noise, poisson_short, poisson_long):
    """The two reads (e-, before the non-linearity) of every ramp in a block."""
    mean_short = rate * np.float32(t_short)
    mean_long = rate * np.float32(t_long)
    if not noise:
        mean_short += pedestal
        mean_long += pedestal
        return mean_short, mean_long
    if not (poisson_short or poisson_long):
        # Bivariate Gaussian with the exact covariance: A = shot_s + read_s and
        # B = shot_s + shot_d + read_l share var(shot_s); B = beta * A + independent rest.
        var_short = mean_short + read * read
        noise_short = np.sqrt(var_short)
        noise_short *= _normal(rng, rate.shape)
        beta = mean_short / var_short
        rest = mean_long + read * read
        rest -= beta * mean_short
        np.sqrt(rest, out=rest)
        rest *= _normal(rng, rate.shape)
        rest += beta * noise_short
        mean_short += noise_short
        mean_short += pedestal
        mean_long += rest
        mean_long += pedestal
        return mean_short, mean_long
    mean_increment = mean_long - mean_short
    if poisson_short:
        charge_short = poisson_small_mean(rng, mean_short)
    else:
        charge_short = mean_short + np.sqrt(mean_short) * _normal(rng, rate.shape)
    if poisson_long:
        increment = poisson_small_mean(rng, mean_increment)
        increment += read * _normal(rng, rate.shape)
    else:
        # Gaussian shot noise of the increment merged with the long read's noise: one draw.
        increment = mean_increment + np.sqrt(mean_increment + read * read) * _normal(rng, rate.shape)
    y_short = charge_short + pedestal
    y_long = y_short + increment
    y_short += read * _normal(rng, rate.shape)
    return y_short, y_long


def poisson_small_mean(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """Exact Poisson draws (float32) for small means: the number of unit-rate exponential gaps
    that fit below the mean. One vectorised pass settles the zero counts (most of them); only
    the draws with arrivals iterate. 5-10x faster than numpy's sampler with array means."""
    limit = mean.ravel()
    elapsed = rng.standard_exponential(limit.size, dtype=np.float32)
    counts = np.zeros(limit.size, dtype=np.float32)
    active = np.flatnonzero(elapsed < limit)
    elapsed, limit = elapsed[active], limit[active]
    while active.size:
        counts[active] += 1
        elapsed += rng.standard_exponential(active.size, dtype=np.float32)
        more = elapsed < limit
        active, elapsed, limit = active[more], elapsed[more], limit[more]
    return counts.reshape(mean.shape)


def _normal(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)
