"""The workflow on a realistic simulation (cosmic rays, saturating stars, jitter, drift, limb
darkening, grazing transits): staged and fused mode give the same bytes, the outlier stage's
counts reach meta.json, saturated pixels are excluded, and the in-painted product fills them."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import Workflow, default_config, merged, tiny_simulation

from arielcal.dq import DQ

pytestmark = pytest.mark.workflow

PRODUCT = ("calibrated.npy", "dq.npy", "nvalid.npy")


def test_realistic_data_staged_equals_fused(make_workflow):
    simulation = tiny_simulation(realistic=True, airs_frames=600, fgs1_frames=7200, train_planets=1, test_planets=0)
    common = {"splits": ["train"], "binning": {"AIRS-CH0": 5, "FGS1": 60}, "science": {"extract": False}}
    staged = make_workflow("staged", simulation=simulation, inpaint=True, **common)
    staged.run()
    data = str(staged.path(simulation["out_dir"]))
    fused = make_workflow("fused", mode="fused", data_dir=data, **common)
    fused.run()
    found = sorted(p.parent for p in staged.path("results").glob("*/*/*/*/calibrated.npy"))
    assert len(found) == 2
    for obs in found:
        rel = obs.relative_to(staged.workdir)
        for name in PRODUCT:
            assert (fused.workdir / rel / name).read_bytes() == (obs / name).read_bytes(), rel / name
        meta = json.loads((obs / "meta.json").read_text())
        fused_meta = json.loads((fused.workdir / rel / "meta.json").read_text())
        (stage,) = [s for s in meta["stages"] if s["stage"] == "outliers"]
        (fused_stage,) = [s for s in fused_meta["stages"] if s["stage"] == "outliers"]
        assert stage["rejected_frames"] == fused_stage["rejected_frames"] > 0
        dq = np.load(obs / "dq.npy")
        assert meta["dq_counts"]["JUMP_DET"] == np.count_nonzero(dq & DQ.JUMP_DET) > 0
        saturated = (dq & DQ.SATURATED) != 0
        assert saturated.any() and np.all(dq[saturated] & DQ.DO_NOT_USE)
        n_valid = np.load(obs / "nvalid.npy")
        assert np.all(n_valid[:, saturated] == 0)
        calibrated = np.load(obs / "calibrated.npy")
        inpainted = np.load(obs / "calibrated_inpainted.npy")
        assert np.isnan(calibrated).any() and not np.isnan(inpainted).any()
        finite = np.isfinite(calibrated)
        np.testing.assert_array_equal(inpainted[finite], calibrated[finite])


# --------------------------------------------------------------------------- recovery under every systematic

# The dataset of bench/realistic_validation.py's `all` case (2025 layout): twelve train planets,
# seed 13, every systematic on (three of the twelve transits are grazing), 1200 AIRS / 14400
# FGS1 frames binned by 5 / 60 CDS frames into 120 bins, simulated and calibrated by the workflow.
RECOVERY_SIMULATION = {
    "realistic": True,
    "edition": 2025,
    "seed": 13,
    "train_planets": 12,
    "test_planets": 0,
    "airs_frames": 1200,
    "fgs1_frames": 14400,
}
RECOVERY_BINNING = {"AIRS-CH0": 5, "FGS1": 60}
GRAZING_REASON = (
    "science layer: the three grazing planets' sigmas are dominated by the geometry term (one shared "
    "radius error for their 282 channels), so their channels fill the low-SNR tercile at small |z|: 2025 "
    "layout mean z -0.06, chi2/dof 0.41, median |z| 0.17 there (bench/results/realistic_validation.md)"
)


@pytest.fixture(scope="module")
def realistic_recovery(tmp_path_factory):
    simulation = tiny_simulation(**RECOVERY_SIMULATION)
    config = merged(
        default_config(),
        {"simulation": simulation, "splits": ["train"], "binning": RECOVERY_BINNING, "mode": "fused"},
    )
    wf = Workflow(tmp_path_factory.mktemp("realistic-recovery"), config)
    wf.run("results/train/recovery.csv")
    return wf


def _targets(stats):
    assert stats["n"] >= 800, stats
    assert abs(stats["mean_z"]) <= 0.1, stats
    assert 0.8 <= stats["chi2_dof"] <= 1.25, stats
    assert 0.55 <= stats["median_abs_z"] <= 0.80, stats


def _depths(wf):
    import polars as pl

    depths = pl.read_csv(wf.path("results", "train", "depths.csv"), schema_overrides={"wavelength_um": pl.Float64})
    truth = pl.read_csv(wf.path(wf.config["simulation"]["out_dir"], "simulation_truth.csv"))
    return depths, set(truth.filter(pl.col("grazing") == 1)["planet_id"].to_list())


@pytest.mark.heavy
@pytest.mark.parametrize(
    "tercile", [pytest.param("low", marks=pytest.mark.xfail(strict=True, reason=GRAZING_REASON)), "mid", "high"]
)
def test_recovery_targets_per_snr_tercile_with_every_systematic_on(realistic_recovery, tercile):
    """recovery.csv's AIRS rows, every planet: the issue's targets in each SNR tercile."""
    import polars as pl

    summary = pl.read_csv(realistic_recovery.path("results", "train", "recovery.csv"))
    row = summary.filter((pl.col("instrument") == "AIRS-CH0") & (pl.col("snr_tercile") == tercile)).row(0, named=True)
    depths, _ = _depths(realistic_recovery)
    assert depths["depth"].is_finite().all()  # grazing transits too
    _targets(row)


@pytest.mark.heavy
@pytest.mark.parametrize("tercile", ["low", "mid", "high"])
def test_recovery_targets_per_snr_tercile_on_the_planets_that_are_not_grazing(realistic_recovery, tercile):
    """The same run without the three grazing planets: cosmic rays, saturating stars (their
    saturated pixels excluded), limb darkening, jitter and drift together meet every target."""
    import polars as pl

    from arielcal import science

    depths, grazing = _depths(realistic_recovery)
    assert len(grazing) == 3
    airs = depths.filter((pl.col("instrument") == "AIRS-CH0") & ~pl.col("planet_id").is_in(list(grazing)))
    assert airs.height == 9 * 282
    stats = science.tercile_statistics(*(airs[c].to_numpy() for c in ("depth", "sigma", "truth")))
    _targets(stats[tercile])


@pytest.mark.heavy
def test_jump_det_finds_the_injected_cosmic_rays(realistic_recovery):
    """The outlier stage against the simulator's truth sidecars: >= 99 % of the CDS hits above
    10 sigma found (their bin lost a frame), every rejected-frame count in meta.json matching
    JUMP_DET, and at most 1e-5 of the valid frames rejected without a hit."""
    from arielcal import formats, layout, product, simulate
    from arielcal.instruments import INSTRUMENTS

    wf = realistic_recovery
    data = wf.path(wf.config["simulation"]["out_dir"])
    total = dict.fromkeys(("hits", "found", "strong", "strong_found", "rejected", "valid"), 0)
    observations = sorted(p.parent for p in wf.path("results", "train").glob("*/*/*/calibrated.npy"))
    assert len(observations) == 24
    for obs in observations:
        name, visit, planet = obs.name, int(obs.parent.name), int(obs.parent.parent.name)
        truth = json.loads(simulate.observation_truth_file(data, 2025, "train", planet, visit, name).read_text())
        meta = json.loads((obs / "meta.json").read_text())
        columns = tuple(meta["columns"])
        dq, n_valid = np.load(obs / "dq.npy"), np.load(obs / "nvalid.npy")
        flat, read = (
            formats.read_calibration(
                layout.calibration_file(data, 2025, "train", planet, visit, name, kind), INSTRUMENTS[name], kind
            )[:, columns[0] : columns[1]].T
            for kind in ("flat", "read")
        )
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # excluded pixels: no valid frame
            signal = np.nanmedian(np.load(obs / "calibrated.npy") / n_valid, axis=0) * product.flat_divisor(dq, flat)
        usable = (dq & DQ.DO_NOT_USE) == 0
        found = simulate.hit_detection(truth, n_valid, usable, read, signal, columns, RECOVERY_BINNING[name])
        (stage,) = [s for s in meta["stages"] if s["stage"] == "outliers"]
        jump = (dq & DQ.JUMP_DET) != 0
        assert (stage["rejected_frames"] > 0) == jump.any() and meta["dq_counts"]["JUMP_DET"] == jump.sum()
        for key, value in found.items():
            total[key] += value
        total["rejected"] += stage["rejected_frames"]
        total["valid"] += int(n_valid.sum(dtype=np.int64))
    assert total["strong"] > 3000, total
    assert total["strong_found"] >= 0.99 * total["strong"], total
    assert total["rejected"] - total["found"] <= 1e-5 * total["valid"], total
