"""The simulator's systematics (issue 13): exact occultation (uniform and quadratic limb
darkening, grazing chords) against brute-force integration of the disc, cosmic-ray hits,
saturating stars, the realistic switch and the truth they leave behind."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import numpy as np
import polars as pl
import pytest

from arielcal import simulate as sim
from arielcal.errors import InputError
from arielcal.instruments import AIRS, FGS1

TINY = {"airs_frames": 120, "train_planets": 1, "test_planets": 0}


def _brute_force(p: float, z: float, u1: float, u2: float, n: int = 1600) -> float:
    """Blocked flux fraction by midpoint integration of I over the planet disc on an n x n grid."""
    h = 2 * p / n
    x = z - p + h * (np.arange(n) + 0.5)
    y = -p + h * (np.arange(n) + 0.5)
    xx, yy = np.meshgrid(x, y, indexing="ij")
    r2 = xx * xx + yy * yy
    inside = ((xx - z) ** 2 + yy * yy <= p * p) & (r2 < 1)
    mu = np.sqrt(np.clip(1 - r2[inside], 0, 1))
    intensity = 1 - u1 * (1 - mu) - u2 * (1 - mu) ** 2
    return float(intensity.sum() * h * h / (np.pi * (1 - u1 / 3 - u2 / 6)))


@pytest.mark.parametrize(
    ("p", "z"),
    [(0.1, 0.0), (0.1, 0.05), (0.1, 0.5), (0.1, 0.9), (0.1, 0.95), (0.1, 1.0), (0.1, 1.07), (0.05, 0.99), (0.3, 0.2)],
)
@pytest.mark.parametrize(("u1", "u2"), [(0.0, 0.0), (0.4, 0.25), (0.18, 0.21)])
def test_occultation_equals_a_brute_force_integration_of_the_disc(p, z, u1, u2):
    exact = float(sim.occulted_fraction(p, z, u1, u2))
    assert exact == pytest.approx(_brute_force(p, z, u1, u2), rel=5e-4, abs=1e-8)


def test_uniform_occultation_closed_form_cases():
    assert sim.uniform_occultation(0.1, 0.3) == 0.1**2  # wholly inside: p^2
    assert sim.uniform_occultation(0.1, 1.1) == 0 and sim.uniform_occultation(0.1, 2.0) == 0
    assert sim.occulted_fraction(0.1, 1.1, 0.4, 0.2) == 0
    # Half the planet over the limb of a uniform star blocks ~half of p^2 (exactly for p -> 0).
    assert sim.uniform_occultation(0.01, 1.0) == pytest.approx(0.5e-4, rel=1e-2)
    # The quadratic law with u = 0 is the uniform disc.
    z = np.linspace(0, 1.2, 50)
    np.testing.assert_allclose(sim.occulted_fraction(0.08, z, 0.0, 0.0), sim.uniform_occultation(0.08, z), rtol=0)
    # Limb darkening: deeper than p^2 at the centre, shallower near the limb.
    assert sim.occulted_fraction(0.08, 0.0, 0.4, 0.2) > 0.0064 > sim.occulted_fraction(0.08, 0.85, 0.4, 0.2)


def test_a_chord_puts_the_contacts_where_the_disc_touches_the_limb():
    chord = sim.Chord.through(1000.0, 5000.0, 0.3, 0.08)
    t = chord.contacts(0.08)
    assert t[0] == pytest.approx(1000.0) and t[3] == pytest.approx(5000.0)
    np.testing.assert_allclose(chord.separation(t), [1.08, 0.92, 0.92, 1.08])
    grazing = sim.Chord.through(1000.0, 5000.0, 0.95, 0.08)
    assert grazing.grazing(0.08) and not chord.grazing(0.08)
    t = grazing.contacts(0.08)
    assert np.isnan(t[1]) and np.isnan(t[2]) and t[0] == pytest.approx(1000.0)


def test_transit_multiplier_with_a_chord():
    t = np.linspace(0, 6000, 601)
    depths = np.array([2e-3, 5e-3])
    chord = sim.Chord.through(1000.0, 5000.0, 0.2, math.sqrt(3.5e-3))
    plain = sim.transit_multiplier(t, chord.contacts(math.sqrt(3.5e-3)), depths, np.array([0.7, 3.0]), chord)
    limb = sim.transit_multiplier(t, None, depths, np.array([0.7, 3.0]), chord, limb_darkening=True)
    assert np.all(plain[:, t < 900] == 1) and np.all(limb[:, t > 5100] == 1)
    np.testing.assert_allclose(plain[:, 300], 1 - depths, rtol=0, atol=1e-15)  # uniform, wholly inside
    u1, u2 = sim.limb_darkening_coefficients(np.array([0.7, 3.0]))
    expected = 1 - sim.occulted_fraction(np.sqrt(depths), chord.separation(t[300]), u1, u2)
    np.testing.assert_allclose(limb[:, 300], expected, rtol=1e-13)
    assert np.all(limb[:, 300] < 1 - depths)  # a limb-darkened star is brightest at the centre
    with pytest.raises(ValueError, match="needs its chord"):
        sim.transit_multiplier(t, chord.contacts(0.05), depths, np.array([0.7, 3.0]), None, limb_darkening=True)


def test_realistic_switches_every_systematic_on_unless_one_is_set():
    default = sim.SimulationConfig()
    assert not any(getattr(default, name) for name in sim.SYSTEMATICS) and default.grazing_fraction == 0
    real = sim.SimulationConfig(realistic=True, drift=False)
    assert real.jitter and real.limb_darkening and real.cosmic_rays and real.saturation and not real.drift
    assert real.grazing_fraction == sim.REALISTIC_GRAZING_FRACTION
    assert sim.SimulationConfig.from_mapping(dataclasses.asdict(real)) == real  # worker round trip
    assert sim.SimulationConfig(cosmic_rays=True).cosmic_rays and not sim.SimulationConfig(cosmic_rays=True).jitter
    with pytest.raises(InputError, match=r"expected cosmic_ray_charge_e: \[lo, hi\] e- with 1 <= lo <= hi"):
        sim.SimulationConfig(cosmic_ray_charge_e=(3000, 300))
    with pytest.raises(InputError, match="expected grazing_fraction: from 0 to 1, found grazing_fraction = 2"):
        sim.SimulationConfig(grazing_fraction=2)
    with pytest.raises(InputError, match="expected realistic: true or false"):
        sim.SimulationConfig(realistic="yes")


def test_cli_realistic_and_its_overrides(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(sim.cli, "write_tables", lambda cfg, out: seen.append(cfg))
    monkeypatch.setattr(sim.cli, "write_planet", lambda *args: None)
    assert sim.main(["--out", str(tmp_path), "--realistic", "--no-jitter", "--grazing-fraction", "1"]) == 0
    assert sim.main(["--out", str(tmp_path), "--cosmic-rays", "--cosmic-ray-rate", "1e-3"]) == 0
    real, rays = seen
    assert real.realistic and not real.jitter and real.drift and real.saturation and real.grazing_fraction == 1
    assert rays.cosmic_rays and rays.cosmic_ray_rate == 1e-3 and not rays.saturation and not rays.realistic


# sha256 of the raw frames of TINY's planet from the simulator before the systematics existed
# (commit f4d5661): the default configuration must keep them.
DEFAULT_FRAMES_SHA256 = {
    AIRS.name: "dc692cbbf9656221a8c2a9dc86ac1b587ce2016635e326fd640da2a99eff0bd7",
    FGS1.name: "4b3a5bfd4f2bf20bd17ac209d3801d7d08d0c647ead5670c80930873c6198198",
}


def test_default_configuration_keeps_its_frames_and_files():
    cfg = sim.SimulationConfig(**TINY)
    ((split, pid, _),) = sim.planets(cfg)
    body = sim.planet(cfg, pid)
    assert body.chord is None and not body.grazing
    assert not any("simulation_truth" in name for name in sim.planet_files(cfg, split, pid))
    for instrument in (AIRS, FGS1):
        model = sim.observation_model(cfg, body, 0, instrument)
        assert model.hits is None
        raw, _ = sim.simulate_frames(model, sim._rng(cfg, "noise", pid, 0, instrument.name))
        assert hashlib.sha256(raw.tobytes()).hexdigest() == DEFAULT_FRAMES_SHA256[instrument.name]


def test_cosmic_rays_add_their_charge_to_the_reads_after_them():
    cfg = sim.SimulationConfig(**TINY, noise=False, nonlinearity=False, cosmic_rays=True, cosmic_ray_rate=2e-3)
    ((_, pid, _),) = sim.planets(cfg)
    body = sim.planet(cfg, pid)
    for instrument in (AIRS, FGS1):
        model = sim.observation_model(cfg, body, 0, instrument)
        hits = model.hits
        expected = 2e-3 * np.count_nonzero(~model.maps["dead"]) * model.n_pairs * instrument.pair_cadence_s
        assert abs(hits.pixel.size - expected) < 5 * math.sqrt(expected)
        assert not model.maps["dead"].ravel()[hits.pixel].any()
        assert hits.charge_e.min() >= 300 and hits.charge_e.max() <= 3000
        with_hits, _ = sim.simulate_frames(
            model, sim._rng(cfg, "noise", pid, 0, instrument.name), noise=False, nonlinearity=False
        )
        without, _ = sim.simulate_frames(
            dataclasses.replace(model, hits=None),
            sim._rng(cfg, "noise", pid, 0, instrument.name),
            noise=False,
            nonlinearity=False,
        )
        diff = with_hits.reshape(instrument.pixels, -1, 2).astype(np.int64) - without.reshape(instrument.pixels, -1, 2)
        reads = hits.reads(instrument)
        expected_short = np.zeros(diff.shape[:2])
        expected_long = np.zeros(diff.shape[:2])
        np.add.at(expected_short, (hits.pixel[reads == 2], hits.pair[reads == 2]), hits.charge_e[reads == 2])
        np.add.at(expected_long, (hits.pixel[reads >= 1], hits.pair[reads >= 1]), hits.charge_e[reads >= 1])
        # Noiseless reads round with error feedback: a deposit of q e- moves the raw by q * gain +- 2 ADU.
        gain = model.gain
        assert np.abs(diff[..., 0] - expected_short * gain).max() <= 2
        assert np.abs(diff[..., 1] - expected_long * gain).max() <= 2
        # Elsewhere only the carried rounding residue of a later conversion of a hit pixel moves.
        untouched = (expected_short == 0) & (expected_long == 0)
        assert (
            np.abs(diff[untouched]).max() <= 1 and np.count_nonzero(diff[..., 1]) >= np.count_nonzero(reads >= 1) // 2
        )
        assert np.all(np.abs(diff[~np.isin(np.arange(instrument.pixels), hits.pixel)]) == 0)


def test_saturation_clips_the_brightest_pixels_and_the_truth_counts_them(tmp_path):
    cfg = sim.SimulationConfig(**TINY, saturation=True, cosmic_rays=True)
    ((split, pid, _),) = sim.planets(cfg)
    sim.write_tables(cfg, tmp_path)
    sim.write_planet(cfg, tmp_path, split, pid)
    names = sim.planet_files(cfg, split, pid)
    assert f"simulation_truth/{split}/{pid}/AIRS-CH0.json" in names
    for instrument in (AIRS, FGS1):
        truth = json.loads((tmp_path / f"simulation_truth/{split}/{pid}/{instrument.name}.json").read_text())
        signal = pl.read_parquet(tmp_path / f"{split}/{pid}/{instrument.name}_signal.parquet").to_numpy()
        assert truth["saturated_samples"] == np.count_nonzero(signal == 65535) > 0
        assert truth["saturated_pixels"] == np.count_nonzero((signal == 65535).any(axis=0))
        assert np.count_nonzero(signal[0::2] == 65535) == 0  # the short reads stay far below
        if instrument is AIRS:
            clipped_long = np.mean(signal[1::2] == 65535, axis=0)
            # Partly saturated pixels: the case that biases a mean of the valid frames.
            assert np.count_nonzero((clipped_long > 0) & (clipped_long < 1)) >= 1
        rays = truth["cosmic_rays"]
        assert rays["count"] == len(rays["row"]) == len(rays["charge_e"]) and set(rays["reads"]) <= {0, 1, 2}
        assert (truth["split"], truth["planet_id"], truth["visit"]) == (split, pid, 0)


def test_grazing_transits_and_their_truth(tmp_path):
    cfg = sim.SimulationConfig(**TINY, edition=2025, grazing_fraction=1.0, limb_darkening=True)
    ((split, pid, _),) = sim.planets(cfg)
    body = sim.planet(cfg, pid)
    p_min = math.sqrt(body.depths.min())
    assert body.grazing and 1 - 0.8 * p_min <= body.impact <= 1 + 0.3 * p_min
    assert np.isnan(body.contacts_s[1]) and np.isnan(body.contacts_s[2])
    assert body.star_info["i"] == pytest.approx(math.degrees(math.acos(body.impact / body.star_info["sma"])))
    rows, cols = sim.source_factors(cfg, body, 0, AIRS)
    baseline = cols[:, :1]
    deficit = 1 - (cols / baseline).min(axis=1)
    column_depths = sim.airs_column_depths(body.depths)
    assert np.all(deficit > 0) and np.all(deficit < 0.9 * column_depths)  # no full-depth bottom
    sim.write_tables(cfg, tmp_path)
    truth = pl.read_csv(tmp_path / "simulation_truth.csv").row(0, named=True)
    assert truth["grazing"] == 1 and truth["impact"] == body.impact and math.isnan(truth["t2_h"])
    u1, u2 = sim.limb_darkening_coefficients(sim.label_wavelengths(2025))
    assert truth["ld_u1_1"] == u1[0] and truth["ld_u2_283"] == u2[282]
    plain = sim.SimulationConfig(**TINY, edition=2025, limb_darkening=True)
    plain_body = sim.planet(plain, pid)
    assert not plain_body.grazing and plain_body.impact < 0.7 and np.all(np.diff(plain_body.contacts_s) > 0)


def test_hit_detection_counts_hits_found_by_their_bins_valid_frames():
    """Four CDS hits and one in both reads on a (2 bins of 3 frames, 3 columns, 2 rows) product
    cut to detector columns [10, 13): counted only on usable pixels in binned frames, found where
    their bin lost a frame, strong above 10 x sqrt(2 read^2 + signal) = 10 x sqrt(2 * 9 + 82) = 100."""
    truth = {
        "cosmic_rays": {
            "row": [0, 1, 1, 0, 0, 1, 0],
            "column": [10, 11, 12, 12, 9, 10, 11],
            "frame_pair": [1, 4, 2, 0, 1, 6, 3],
            "charge_e": [150.0, 99.0, 500.0, 2000.0, 900.0, 900.0, 900.0],
            "reads": [1, 1, 1, 1, 1, 1, 2],
        }
    }
    n_valid = np.full((2, 3, 2), 3, dtype=np.uint16)
    n_valid[0, 0, 0] = 2  # hit 0 (pair 1 -> bin 0) rejected
    n_valid[1, 1, 1] = 2  # hit 1 (pair 4 -> bin 1) rejected
    usable = np.ones((3, 2), bool)
    usable[2, 0] = False  # hit 3 on an excluded pixel
    read = np.full((3, 2), 3.0)
    signal = np.full((3, 2), 82.0)
    # Left out: hit 3 (excluded pixel), 4 (column 9, outside), 5 (pair 6 beyond 2 x 3 binned
    # frames), 6 (in both reads: cancels in the CDS frame). Kept: 0 (150 strong, found),
    # 1 (99 weak, found), 2 (500 strong, not found).
    found = sim.hit_detection(truth, n_valid, usable, read, signal, (10, 13), 3)
    assert found == {"hits": 3, "found": 2, "strong": 2, "strong_found": 1}
    assert sim.hit_detection({}, n_valid, usable, read, signal, (10, 13), 3) == dict.fromkeys(found, 0)
