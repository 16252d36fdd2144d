"""The science layer on a small simulated dataset: variance, light curves, transit depths against
the injected truth, QC figures, and the HTML report rendered in headless Chromium.

One workflow run (module fixture) with enough time bins for a transit: 1200 AIRS / 14400 FGS1
raw frames binned by 5 / 60 CDS frames give 120 bins of 24 s per instrument.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from conftest import REPO, SNAKEMAKE, Workflow, default_config, merged, render_in_chromium, tiny_simulation

pytestmark = pytest.mark.workflow

FRAMES = {"airs_frames": 1200, "fgs1_frames": 14400}
BINNING = {"AIRS-CH0": 5, "FGS1": 60}
N_BINS = 120
CHANNELS = {"AIRS-CH0": 282, "FGS1": 1}


def _science_is_wired() -> bool:
    return "rules/science.smk" in (REPO / "Snakefile").read_text()


class ScienceWorkflow(Workflow):
    """The repository's workflow with the science layer: the Snakefile itself once it includes
    rules/science.smk, else a wrapper that includes both (target ``science_all``)."""

    TARGET = "science_all"

    def __init__(self, workdir: Path, config: dict):
        super().__init__(workdir, config)
        if _science_is_wired():
            self.snakefile, self.targets = REPO / "Snakefile", []
        else:
            self.snakefile = workdir / "Snakefile.science"
            self.snakefile.write_text(
                f'include: "{REPO / "Snakefile"}"\n'
                f'include: "{REPO / "rules" / "science.smk"}"\n\n\n'
                f"rule {self.TARGET}:\n    input:\n        science_targets(),\n"
            )
            self.targets = [self.TARGET]

    def run(self, *args: str, check: bool = True, targets: bool = True) -> subprocess.CompletedProcess:
        cmd = [*SNAKEMAKE, "--snakefile", str(self.snakefile), "--directory", str(self.workdir), "--cores", "2", *args]
        if targets and self.targets:
            cmd += ["--", *self.targets]
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}, timeout=900)
        if check and done.returncode != 0:
            raise AssertionError(f"snakemake {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}")
        return done


@pytest.fixture(scope="module")
def science(tmp_path_factory) -> ScienceWorkflow:
    # Limb-darkened transits: the simulator then draws a physical chord (exact occultation), the
    # model the transit fit uses, so its contact times are comparable with the truth.
    config = merged(default_config(), {"simulation": tiny_simulation(**FRAMES, limb_darkening=True), "binning": BINNING})
    wf = ScienceWorkflow(tmp_path_factory.mktemp("science"), config)
    wf.run()
    return wf


def observations(wf: Workflow):
    return sorted(p.parent for p in wf.path("results").glob("*/*/*/*/calibrated.npy"))


def truth_table(wf: Workflow) -> pl.DataFrame:
    return pl.read_csv(wf.path(wf.config["simulation"]["out_dir"], "simulation_truth.csv"))


def test_variance_describes_the_scatter_of_the_calibrated_bins(science):
    """Half the mean square of consecutive-bin differences over the modelled variance, per pixel."""
    for obs in observations(science):
        calibrated = np.load(obs / "calibrated.npy").astype(np.float64)
        variance = np.load(obs / "variance.npy")
        assert variance.dtype == np.float32 and variance.shape == calibrated.shape
        assert np.array_equal(np.isnan(variance), np.isnan(calibrated))
        empirical = np.nanmean(np.diff(calibrated, axis=0) ** 2, axis=0) / 2
        ratio = empirical / np.nanmean(variance, axis=0)
        ratio = ratio[np.isfinite(ratio)]
        # 119 differences per pixel: each ratio scatters by ~13 %, their median by much less.
        assert 0.93 < np.median(ratio) < 1.07, (obs, np.median(ratio))


def test_light_curves_have_axes_and_channels(science):
    for obs in observations(science):
        n = CHANNELS[obs.name]
        spectral = np.load(obs / "spectral.npy")
        white = np.load(obs / "white.npy")
        assert spectral.shape == (2, N_BINS, n) and white.shape == (2, N_BINS)
        assert np.isfinite(spectral).all() and np.all(spectral[1] > 0)
        meta = json.loads((obs / "light_curves.json").read_text())
        assert len(meta["time_h"]) == N_BINS and len(meta["channels"]["label"]) == n
        table = pl.read_parquet(obs / "light_curves.parquet")
        assert table.height == N_BINS * (n + 1)
        assert {"time_h", "channel", "detector_column", "label", "wavelength_um", "flux", "sigma", "coverage"} <= set(table.columns)
        np.testing.assert_allclose(table.filter(pl.col("kind") == "white")["flux"].to_numpy(), white[0])


def test_one_window_per_visit_lands_on_the_injected_contact_times(science):
    """The window comes from the white light curves alone; the truth is only compared here."""
    truth = truth_table(science)
    visits = sorted(p.parent for p in science.path("results").glob("*/*/*/transit.json"))
    assert len(visits) == 2
    for visit in visits:
        transit = json.loads((visit / "transit.json").read_text())
        row = truth.filter(pl.col("planet_id") == int(visit.parts[-2]))
        injected = np.array([row[f"t{i}_h"][0] for i in range(1, 5)])
        detected = np.array([transit["window"][f"t{i}_h"] for i in range(1, 5)])
        # Within 2 bins of 24 s, or 3 sigma of the chord's own contact-time uncertainty where that
        # is larger (the inner contacts of a white light curve with a depth S/N of ~20).
        margin_h = min(fit["margin_h"] for fit in transit["instruments"].values())
        sigma_h = np.array(transit["geometry"]["sigma_contacts_h"])
        assert np.all(np.isfinite(sigma_h)) and np.all(sigma_h < 0.02), sigma_h
        assert np.all(np.abs(detected - injected) < np.maximum(margin_h, 3 * sigma_h)), (visit, detected, injected, sigma_h)
        for fit in transit["instruments"].values():
            assert fit["in_transit_bins"] > 10 and fit["out_of_transit_bins"] > 10
        depths = pl.read_csv(visit / "depths.csv", schema_overrides={"wavelength_um": pl.Float64})
        airs = depths.filter(pl.col("instrument") == "AIRS-CH0")
        # Detector order in the product: column 39 (3.895 um) is label wl_283, column 320 wl_2.
        assert airs["detector_column"].to_list() == list(range(39, 321))
        assert airs["label"].to_list() == list(range(283, 1, -1))
        assert np.all(np.diff(airs["wavelength_um"].to_numpy()) < 0)
        assert depths.filter(pl.col("instrument") == "FGS1")["label"].to_list() == [1]


def test_injected_depths_are_recovered_within_the_propagated_sigma(science):
    for split in ("train", "test"):
        summary = pl.read_csv(science.path("results", split, "recovery.csv"))
        overall = summary.filter(pl.col("instrument") == "all").row(0, named=True)
        assert overall["n"] == 283
        assert overall["median_abs_z"] <= 1.0, summary
        assert 0.5 <= overall["chi2_dof"] <= 2.0, summary
        assert abs(overall["mean_z"]) < 0.5, summary
        depths = pl.read_csv(science.path("results", split, "depths.csv"), schema_overrides={"wavelength_um": pl.Float64})
        assert depths.height == 283 and depths["truth"].is_finite().all()


def test_qc_figures_and_observation_table(science):
    # By default only the worst visits' figures are drawn (every visit here: one per split).
    assert not list(science.path("results").glob("*/*/*/qc/*.png"))
    for png in science.path("results").glob("*/qc_worst/*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000, png
    assert len(list(science.path("results").glob("*/qc_worst/*.png"))) == 2 * 3
    for split in ("train", "test"):
        assert science.path("results", split, "qc_summary.png").stat().st_size > 20_000
        table = pl.read_csv(science.path("results", split, "qc_observations.csv"))
        assert table.height == 2 and set(table["instrument"]) == {"AIRS-CH0", "FGS1"}
        for row in table.iter_rows(named=True):
            meta = json.loads(science.path("results", split, row["planet_id"], row["visit"], row["instrument"], "meta.json").read_text())
            assert row["excluded"] == meta["excluded_pixels"] and row["dead"] == meta["dq_counts"]["DEAD"]



def test_html_report_renders_in_headless_chromium(science, tmp_path):
    report = science.path("report.html")
    science.run("--report", str(report))
    html = report.read_text()
    for name in ("images.png", "white_light_curves.png", "spectral_light_curves.png", "qc_summary.png", "qc_observations.csv", "recovery.png", "recovery.csv"):
        assert name in html, name
    visible, pixels = render_in_chromium(report, tmp_path)
    # Rendered by the report's JavaScript (absent from the static page): the menu and the
    # workflow description (report/workflow.rst).
    for text in ("Statistics", "Injection-recovery", "Observations", "Splits", "per-pixel variance"):
        assert text in visible, (text, visible[:2000])
    assert pixels.shape[:2] == (1000, 1400)
    assert pixels.std() > 0.05 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50


def test_science_switch_removes_the_targets(science, tmp_path):
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    if "science" not in schema.get("properties", {}):
        pytest.skip("config/schema.yaml does not declare the science keys yet")
    wf = ScienceWorkflow(tmp_path / "off", merged(science.config, {"science": {"extract": False}}))
    out = wf.run("-n", "--quiet", "rules").stdout
    assert not {"variance", "extract", "transit", "qc_observation", "qc_split", "recovery"} & set(out.replace(",", " ").split())


def test_every_visits_figures_on_request(science, tmp_path):
    wf = ScienceWorkflow(tmp_path / "all", merged(science.config, {"report": {"all_visit_figures": True}}))
    assert "qc_observation" in wf.run("-n", "--quiet", "rules").stdout
    assert "qc_observation" not in science.run("-n", "--quiet", "rules", "--forceall").stdout


def test_rerun_is_a_no_op(science):
    done = science.run("-n")
    assert "Nothing to be done" in done.stdout + done.stderr
