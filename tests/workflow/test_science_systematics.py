"""Depths and sigmas that survive limb darkening, jitter and drift, and a variance model that
holds for noise the simulator did not draw: the science layer in-process (tests/science_pipeline.py,
as rules extract and transit) on small simulated datasets, the raw data post-processed here.

Small data: 1200 AIRS / 14400 FGS1 raw frames binned by 5 / 60 CDS frames (120 bins of 24 s).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from science_pipeline import calibration_path, observation_curves, simulate_dataset, star_impact, truth_by_label

from arielcal import formats, layout, science, simulate
from arielcal.instruments import AIRS

pytestmark = pytest.mark.workflow

FRAMES = {"airs_frames": 1200, "fgs1_frames": 14400}
BINNING = {"AIRS-CH0": 5, "FGS1": 60}


def _visit(data, cfg, split, planet_id, impact=None, instruments=("AIRS-CH0", "FGS1")):
    curves = {i: observation_curves(data, cfg, split, planet_id, i, BINNING[i])[0] for i in instruments}
    return science.visit_depths(curves, science.Settings(), impact)


def _airs_z(fit, truth):
    rows = {k: np.asarray(v) for k, v in fit.rows.items()}
    airs = rows["instrument"] == AIRS.name
    labels = rows["label"][airs].astype(int)
    return rows["depth"][airs], rows["sigma"][airs], truth[labels]


# --------------------------------------------------------------------------- noise not drawn by the simulator


def _ratio_of_faint_pixels(made, variance):
    """Temporal variance of the calibrated bins (half the mean square of consecutive differences)
    over the model, median over the background rows (read-noise dominated)."""
    cube = np.asarray(made.calibrated, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # excluded pixels: NaN in every bin
        scatter = 0.5 * np.nanmean(np.diff(cube, axis=0) ** 2, axis=0)
        model = np.nanmean(np.asarray(variance, dtype=np.float64), axis=0)
    rows = np.r_[0:6, 26:32]
    return float(np.nanmedian((scatter / model)[:, rows]))


def test_variance_model_holds_for_read_noise_drawn_by_the_test_and_flags_a_wrong_read_map(tmp_path):
    """Extra Gaussian read noise (26 e- per read, 2x the map's 13) is added to every raw AIRS
    sample here, not by the simulator. With read.parquet updated to sqrt(read^2 + 26^2) the model
    holds (ratio ~1); with read.parquet left as it was, the noise ratio must differ from 1."""
    cfg = simulate_dataset(tmp_path, seed=5, train_planets=1, test_planets=0, **FRAMES)
    split, planet_id, _ = simulate.planets(cfg)[0]
    body = simulate.planet(cfg, planet_id)
    gain, _ = body.adc[AIRS.name]
    signal = layout.signal_file(tmp_path, cfg.edition, split, planet_id, 0, AIRS.name)
    raw = formats.read_signal(signal, AIRS).astype(np.float64)
    extra_e = 26.0
    rng = np.random.default_rng(11)
    raw += rng.normal(0.0, extra_e * gain, raw.shape)
    formats.write_signal(signal, np.clip(np.rint(raw), 0, 65535).astype(np.uint16))
    del raw
    read_path = calibration_path(tmp_path, cfg, split, planet_id, AIRS.name, "read")
    read = formats.read_calibration(read_path, AIRS, "read")

    curves, made, variance = observation_curves(tmp_path, cfg, split, planet_id, AIRS.name, BINNING[AIRS.name])
    stale_pixels = _ratio_of_faint_pixels(made, variance)
    stale = science.visit_depths({AIRS.name: curves}, science.Settings())
    formats.write_calibration(read_path, np.sqrt(read**2 + extra_e**2))
    curves, made, variance = observation_curves(tmp_path, cfg, split, planet_id, AIRS.name, BINNING[AIRS.name])
    updated_pixels = _ratio_of_faint_pixels(made, variance)
    updated = science.visit_depths({AIRS.name: curves}, science.Settings())

    assert 0.93 < updated_pixels < 1.07, updated_pixels
    assert stale_pixels > 3.0, stale_pixels  # (13^2 + 26^2) / 13^2 = 5 on pure read noise
    stale_ratio = np.nanmedian(stale.rows["noise_ratio"])
    updated_ratio = np.nanmedian(updated.rows["noise_ratio"])
    assert 0.93 < updated_ratio < 1.07, updated_ratio
    assert stale_ratio > 1.15, stale_ratio
    # The depth sigma follows the noise ratio: the stale map's sigmas are not too small.
    z_stale = _airs_z(stale, truth_by_label(cfg, planet_id))
    z = (z_stale[0] - z_stale[2]) / z_stale[1]
    assert 0.7 < np.sqrt(np.nanmean(z * z)) < 1.4


# --------------------------------------------------------------------------- limb darkening, jitter, drift


@pytest.fixture(scope="module")
def realistic(tmp_path_factory):
    """Six planets (2025 layout, so star_info gives the impact parameter) with limb darkening,
    jitter and drift; and the same planets with limb darkening only."""
    runs = {}
    for name, flags in (
        ("all", {"limb_darkening": True, "jitter": True, "drift": True}),
        ("ld", {"limb_darkening": True}),
    ):
        out = tmp_path_factory.mktemp(name)
        cfg = simulate_dataset(out, edition=2025, seed=21, train_planets=6, test_planets=0, **FRAMES, **flags)
        depth, sigma, truth = [], [], []
        for split, planet_id, _ in simulate.planets(cfg):
            fit = _visit(out, cfg, split, planet_id, star_impact(cfg, planet_id))
            d, s, t = _airs_z(fit, truth_by_label(cfg, planet_id))
            depth.append(d), sigma.append(s), truth.append(t)
        runs[name] = tuple(np.concatenate(x) for x in (depth, sigma, truth))
    return runs


def test_limb_darkening_alone_leaves_a_median_bias_below_a_fifth_of_sigma(realistic):
    depth, sigma, truth = realistic["ld"]
    bias = np.median((depth - truth) / sigma)
    assert np.all(np.isfinite(depth)) and abs(bias) <= 0.2, bias


def test_recovery_with_every_systematic_on_per_snr_tercile(realistic):
    depth, sigma, truth = realistic["all"]
    stats = science.tercile_statistics(depth, sigma, truth)
    for tercile, s in stats.items():
        assert s["n"] >= 500, (tercile, s)
        assert abs(s["mean_z"]) <= 0.1, (tercile, s)
        assert 0.8 <= s["chi2_dof"] <= 1.25, (tercile, s)
        assert 0.55 <= s["median_abs_z"] <= 0.80, (tercile, s)
