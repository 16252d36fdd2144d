"""QC figures and the ranking of the visits worth a look (arielcal.qc), on tiny inputs."""

import math

import numpy as np
from PIL import Image

from arielcal import qc


def _row(planet, instrument, pixels, excluded, t1, depth, noise):
    return {
        "planet_id": str(planet),
        "visit": "0",
        "instrument": instrument,
        "pixels": str(pixels),
        "excluded": str(excluded),
        "t1_h": str(t1),
        "white_depth_ppm": str(depth),
        "white_noise_ratio": str(noise),
    }


def test_rank_visits_finds_the_odd_ones_missing_window_first():
    """Ten visits; planet 3 has no transit window, 5 a noisy white light curve, 7 many excluded
    pixels, 8 an odd depth: they are the four worst, the missing window first."""
    rows = [
        _row(
            planet,
            instrument,
            pixels,
            2000 if (planet, instrument) == (7, "AIRS-CH0") else 10 + planet % 3,
            "nan" if planet == 3 else 1.0,
            9000.0 if (planet, instrument) == (8, "FGS1") else 5000.0 + 20 * (planet % 4),
            2.5 if (planet, instrument) == (5, "AIRS-CH0") else 1.0 + 0.01 * (planet % 3),
        )
        for planet in range(10)
        for instrument, pixels in (("AIRS-CH0", 9024), ("FGS1", 1024))
    ]
    ranked = qc.rank_visits(rows, 4)
    assert [v["rank"] for v in ranked] == [1, 2, 3, 4]
    assert ranked[0]["planet_id"] == 3 and ranked[0]["reason"] == "no transit window" and ranked[0]["score"] == math.inf
    reasons = {v["planet_id"]: v["reason"] for v in ranked}
    assert reasons == {3: "no transit window", 5: "noise_z AIRS-CH0", 7: "excluded_z AIRS-CH0", 8: "depth_z FGS1"}
    assert qc.rank_visits(rows, 0) == [] and len(qc.rank_visits(rows, 50)) == 10


def test_robust_z_is_exact_and_one_sided_on_request():
    values = np.array([1.0, 2.0, 3.0, 4.0, 100.0, np.nan])
    # median 3, MAD 1 -> scale 1.4826
    np.testing.assert_allclose(qc.robust_z(values, 0.01, "both")[:5], np.abs(values[:5] - 3) / 1.4826)
    assert qc.robust_z(values, 0.01, "high")[0] == 0.0 and qc.robust_z(values, 0.01, "both")[5] == math.inf
    assert qc.robust_z(np.array([5.0, 5.0, 5.1]), 1.0, "both")[2] == 5.1 - 5.0  # floored scale


def _view():
    rng = np.random.default_rng(1)
    time_h = np.linspace(0, 4, 40)
    wavelength = np.array([3.9, 3.0, 2.1, 1.5])  # decreasing with column, as AIRS
    flux = 1000.0 + rng.normal(size=(40, 4)) + np.arange(4)  # channel k offset by k
    window = {"t1_h": 1.0, "t2_h": 1.2, "t3_h": 2.8, "t4_h": 3.0}
    fit = {"white_depth": 0.01, "white_sigma": 1e-4, "white_noise_ratio": 1.0}
    obs = qc.ObservationView(
        instrument="AIRS-CH0",
        raw_frame=rng.normal(size=(6, 10)),
        median_image=np.ones((6, 4)),
        dq=np.zeros((6, 4), np.uint32),
        columns=(3, 7),
        dq_counts={},
        excluded=np.zeros((6, 4), bool),
        aperture_rows=[1, 4],
        background_outside=[1, 5],
        time_h=time_h,
        white=np.stack([flux.sum(1), np.full(40, 4.0)]),
        spectral_flux=flux,
        wavelength_um=wavelength,
        white_channels=4,
        fit=fit,
    )
    depths = {"wavelength_um": wavelength, "depth": np.array([0.01, 0.02, 0.03, 0.04]), "sigma": np.full(4, 1e-3)}
    return qc.VisitView("train planet 1 visit 0", [obs], window, depths), flux, time_h, wavelength


def test_spectral_figure_shows_channels_in_wavelength_order():
    view, flux, time_h, wavelength = _view()
    fig = qc.visit_spectral_curves(view)
    shown = fig.axes[0].images[0].get_array()
    out = (time_h < 1.0) | (time_h > 3.0)
    expected = (flux / np.median(flux[out], axis=0))[:, np.argsort(wavelength)].T
    np.testing.assert_allclose(np.asarray(shown), expected)
    line = fig.axes[2].lines[0] if len(fig.axes) > 2 and fig.axes[2].lines else fig.axes[1].lines[0]
    np.testing.assert_allclose(line.get_xdata(), np.sort(wavelength))
    np.testing.assert_allclose(line.get_ydata(), [40000, 30000, 20000, 10000])


def test_every_visit_figure_saves_as_png_and_report_copies_are_small(tmp_path):
    view, *_ = _view()
    for name, make in qc.VISIT_FIGURES.items():
        full, small = tmp_path / f"{name}.png", tmp_path / f"{name}.small.png"
        qc.save_png(make(view), full)
        qc.save_png(make(view), small, max_width_px=300)
        with Image.open(full) as a, Image.open(small) as b:
            assert a.format == b.format == "PNG" and a.width > 300
            assert b.width == 300 and b.mode == "P"
    assert not list(tmp_path.glob(".*"))  # nothing half-written left behind
