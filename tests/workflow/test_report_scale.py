"""`snakemake --report` that scales with the number of planets (issue 11): the per-visit QC figures
of only the split's worst visits (rule qc_worst, ``report.worst_visits``), every observation in
the table, and a report whose size grows by well under 50 KB per planet."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from conftest import render_in_chromium, Workflow, default_config, merged, run_script, tiny_simulation

pytestmark = pytest.mark.workflow

FIGURES = ("images", "white_light_curves", "spectral_light_curves")
COLUMNS = ("split", "planet_id", "visit", "instrument", "pixels", "excluded", "t1_h", "white_depth_ppm", "white_noise_ratio")


def _png(path, seed):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(16, 5))
    ax.imshow(np.random.default_rng(seed).normal(size=(40, 120)))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def test_qc_worst_ranks_visits_by_their_qc_numbers(tmp_path):
    """Ten visits; planet 3 has no transit window, 5 a noisy white light curve, 7 many excluded
    pixels, 8 an odd depth: they are the four worst, the missing window first."""
    rows = []
    for planet in range(10):
        for instrument, pixels in (("AIRS-CH0", 9024), ("FGS1", 1024)):
            rows.append(
                {
                    "split": "train",
                    "planet_id": planet,
                    "visit": 0,
                    "instrument": instrument,
                    "pixels": pixels,
                    "excluded": 2000 if (planet, instrument) == (7, "AIRS-CH0") else 10 + planet % 3,
                    "t1_h": "nan" if planet == 3 else 1.0,
                    "white_depth_ppm": 9000.0 if (planet, instrument) == (8, "FGS1") else 5000.0 + 20 * (planet % 4),
                    "white_noise_ratio": 2.5 if (planet, instrument) == (5, "AIRS-CH0") else 1.0 + 0.01 * (planet % 3),
                }
            )
    table = tmp_path / "qc_observations.csv"
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    figures = {name: [] for name in FIGURES}
    for planet in range(10):
        for name in FIGURES:
            path = tmp_path / "results" / "train" / str(planet) / "0" / "qc" / f"{name}.png"
            _png(path, planet)
            figures[name].append(path)
    out = tmp_path / "out"
    run_script(
        "qc_worst",
        input={"table": table, "images": figures["images"], "white": figures["white_light_curves"], "spectral": figures["spectral_light_curves"]},
        output={"table": out / "qc_worst.csv", "figures": out / "qc_worst"},
        params={"worst_visits": 4},
        wildcards={"split": "train"},
        log=tmp_path / "qc_worst.log",
    )
    with (out / "qc_worst.csv").open() as handle:
        ranked = list(csv.DictReader(handle))
    assert [int(row["planet_id"]) for row in ranked][0] == 3 and ranked[0]["reason"] == "no transit window"
    assert {int(row["planet_id"]) for row in ranked} == {3, 5, 7, 8}
    reasons = {int(row["planet_id"]): row["reason"] for row in ranked}
    assert reasons[5] == "noise_z AIRS-CH0" and reasons[7] == "excluded_z AIRS-CH0" and reasons[8] == "depth_z FGS1"
    names = sorted(path.name for path in (out / "qc_worst").iterdir())
    assert names == sorted(f"{row['rank']}_{row['planet_id']}_0_{name}.png" for row in ranked for name in FIGURES)
    for path in (out / "qc_worst").iterdir():
        # Reduced copies: at most 900 px wide, a palette PNG.
        from PIL import Image

        with Image.open(path) as image:
            assert image.width <= 900 and image.mode == "P"



def _report(tmp_path_factory, planets: int) -> tuple[Workflow, int]:
    config = merged(default_config(), {"splits": ["train"], "simulation": tiny_simulation(train_planets=planets, test_planets=0)})
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
