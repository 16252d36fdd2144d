"""`snakemake --report` that scales with the number of planets (issue 11): the per-visit QC figures
of only the split's worst visits (rule qc_worst, ``report.worst_visits``; their ranking is in
tests/unit/test_qc.py), every observation in the table, and a report whose size grows by well
under 50 KB per planet."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import Workflow, default_config, merged, render_in_chromium, tiny_simulation

pytestmark = pytest.mark.workflow


def _report(tmp_path_factory, planets: int) -> tuple[Workflow, int]:
    config = merged(
        default_config(), {"splits": ["train"], "simulation": tiny_simulation(train_planets=planets, test_planets=0)}
    )
    wf = Workflow(tmp_path_factory.mktemp(f"report{planets}"), config)
    wf.run("--quiet")
    wf.run("--report", str(wf.path("report.html")))
    return wf, wf.path("report.html").stat().st_size


@pytest.mark.heavy
def test_report_of_100_observations_is_small_and_renders(tmp_path_factory, tmp_path):
    """5 and 50 tiny planets (10 and 100 observations): the report grows by < 50 KB per planet
    (the table rows and job records only) and opens in headless Chromium."""
    _, small = _report(tmp_path_factory, 5)
    wf, large = _report(tmp_path_factory, 50)
    per_planet = (large - small) / 45
    assert large < 8_000_000, large
    assert per_planet < 50_000, (small, large, per_planet)

    worst = wf.config["report"]["worst_visits"]
    html = wf.path("report.html").read_text()
    assert len(re.findall(r"filename=\d+_\d+_\d+_images\.png", html)) == worst
    assert "filename=images.png" not in html  # no per-visit figure outside the worst visits
    with wf.path("results", "train", "qc_observations.csv").open() as handle:
        assert sum(1 for _ in handle) == 1 + 100
    for name in ("qc_observations.csv", "qc_summary.png", "qc_worst.csv", "recovery.csv", "recovery.png"):
        assert f"filename={name}" in html, name

    visible, pixels = render_in_chromium(wf.path("report.html"), tmp_path)
    for text in ("Statistics", "Observations", "Splits", "Injection-recovery", "worst visits"):
        assert text in visible, (text, visible[:2000])
    assert pixels.shape[:2] == (1000, 1400)
    assert pixels.std() > 0.05 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
