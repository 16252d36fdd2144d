"""The notebook reimplementation against values computed by hand (reference doc, section 3.2).

Tiny example: 2 rows x 3 columns, columns 1:3 kept, 4 raw frames (2 CDS frames), gain 0.5 and
offset -10 so that value = 2 * raw - 10 exactly; integration times 0.1 / 4.6 s (29 Aug 2024).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from notebook_reference import notebook_calibrate

GAIN, OFFSET = 0.5, -10.0
DT = np.array([0.1, 4.6, 0.1, 4.6])
DARK_DT = 4.6 - 0.1  # dark * (dt_odd - dt_even) per CDS frame


def tiny():
    raw = np.zeros((4, 2, 3), dtype=np.uint16)
    raw[:, 0, 0] = [65535, 0, 7, 9]  # cropped away
    raw[:, 1, 0] = [1, 2, 3, 4]  # cropped away
    raw[:, 0, 1] = [10, 20, 30, 45]  # values 10 30 50 80 -> CDS 20, 30
    raw[:, 0, 2] = [100, 110, 120, 140]  # values 190 210 230 270 -> CDS 20, 40
    raw[:, 1, 1] = [50, 50, 50, 50]  # CDS 0, 0
    raw[:, 1, 2] = [5, 15, 25, 30]  # dead: values 0 20 40 50 -> CDS 20, 10
    dark = np.array([[9.0, 2.0, 1.0], [9.0, 0.5, 100.0]])
    dead = np.array([[False, False, False], [True, False, True]])  # (1, 0) is cropped away
    flat = np.array([[3.0, 2.0, 0.5], [3.0, 1.5, -0.01]])
    lin = np.zeros((6, 2, 3))
    lin[1] = 1.0
    return raw, dark, dead, flat, lin


def run(**kwargs):
    raw, dark, dead, flat, lin = tiny()
    kwargs = {"crop": (1, 3), "binning": 2, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return notebook_calibrate(raw, GAIN, OFFSET, dark, dead, flat, lin, DT, **kwargs)


def expected_bin(dark=True, flat=True):
    # out[bin, column, row]: the notebook's (time, column, row) layout.
    d = 2 * DARK_DT if dark else 0.0
    f = (lambda value, ff: value / ff) if flat else (lambda value, ff: value)
    out = np.empty((1, 2, 2))
    out[0, 0, 0] = f(50 - 2.0 * d, 2.0)
    out[0, 1, 0] = f(60 - 1.0 * d, 0.5)
    out[0, 0, 1] = f(0 - 0.5 * d, 1.5)
    out[0, 1, 1] = 30.0  # dead: no dark (quirk 2), no flat (quirk 3)
    return out


def test_binned_closed_form():
    out = run()
    assert out.shape == (1, 2, 2) and out.dtype == np.float64
    np.testing.assert_allclose(out, expected_bin(), rtol=1e-13)
    assert out[0, 0, 0] == pytest.approx(16.0, rel=1e-13)
    assert out[0, 1, 0] == pytest.approx(102.0, rel=1e-13)
    assert out[0, 0, 1] == pytest.approx(-3.0, rel=1e-13)


def test_mask_changes_nothing():
    """Quirk 1: the masked array is stored into a plain float64 array, which drops the mask."""
    np.testing.assert_array_equal(run(do_mask=False), run(do_mask=True))


@pytest.mark.parametrize("dark", [True, False])
@pytest.mark.parametrize("flat", [True, False])
def test_switches(dark, flat):
    np.testing.assert_allclose(run(do_dark=dark, do_flat=flat), expected_bin(dark, flat), rtol=1e-13)


def test_no_binning_keeps_cds_frames_transposed():
    out = run(binning=None)
    assert out.shape == (2, 2, 2)
    d = DARK_DT
    expected = np.empty((2, 2, 2))
    expected[:, 0, 0] = (np.array([20.0, 30.0]) - 2.0 * d) / 2.0
    expected[:, 1, 0] = (np.array([20.0, 40.0]) - 1.0 * d) / 0.5
    expected[:, 0, 1] = (np.array([0.0, 0.0]) - 0.5 * d) / 1.5
    expected[:, 1, 1] = [20.0, 10.0]
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-13)


def test_trailing_cds_frames_dropped():
    raw, dark, dead, flat, lin = tiny()
    raw6 = np.concatenate([raw, raw[:2] + 1000], axis=0)  # a third CDS frame, dropped by bin 2
    dt6 = np.concatenate([DT, DT[:2]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = notebook_calibrate(raw6, GAIN, OFFSET, dark, dead, flat, lin, dt6, crop=(1, 3), binning=2)
    np.testing.assert_allclose(out, expected_bin(), rtol=1e-13)


def test_nonlinearity_by_hand():
    raw, dark, dead, flat, lin = tiny()
    lin[:, 0, 1] = [1.0, 2.0, 0.5, 0.0, 0.0, 0.0]  # P(x) = 1 + 2x + x^2/2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = notebook_calibrate(raw, GAIN, OFFSET, dark, dead, flat, lin, DT, crop=(1, 3), binning=2, do_nl=True)
    # values 10, 30, 50, 80 -> 71, 511, 1351, 3361; CDS 440 + 2010 = 2450
    assert out[0, 0, 0] == pytest.approx((2450 - 2 * 2.0 * DARK_DT) / 2.0, rel=1e-13)
    np.testing.assert_allclose(out[0, 1:, :], expected_bin()[0, 1:, :], rtol=1e-13)
    np.testing.assert_allclose(out[0, 0, 1], expected_bin()[0, 0, 1], rtol=1e-13)


def test_nonlinearity_sees_the_offset():
    """P acts on raw / gain + offset, before dark: the offset does not cancel when P is not linear."""
    raw, dark, dead, flat, lin = tiny()
    lin[2] = 1e-3
    kwargs = dict(crop=(1, 3), binning=2, do_nl=True, do_dark=False, do_flat=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = notebook_calibrate(raw, GAIN, OFFSET, dark, dead, flat, lin, DT, **kwargs)
        b = notebook_calibrate(raw, GAIN, OFFSET + 100, dark, dead, flat, lin, DT, **kwargs)
    # pixel (0, 1): values 10, 30, 50, 80; P(x) = x + 1e-3 x^2
    p = lambda x: x + 1e-3 * x * x  # noqa: E731
    assert a[0, 0, 0] == pytest.approx(p(30) - p(10) + p(80) - p(50), rel=1e-13)
    assert b[0, 0, 0] == pytest.approx(p(130) - p(110) + p(180) - p(150), rel=1e-13)


def test_hot_pixel_is_fully_calibrated():
    """Hot pixels are masked and then unmasked by quirk 1: they get the normal dark * dt and flat."""
    rows, cols, frames = 5, 6, 4
    raw = np.full((frames, rows, cols), 100, dtype=np.uint16)
    raw[1::2] = 130  # CDS = 60 in value units
    dark = np.full((rows, cols), 0.01)
    dark[2, 3] = 10.0  # 30 pixels: one outlier is clipped at 5 sigma
    dead = np.zeros((rows, cols), dtype=bool)
    flat = np.full((rows, cols), 2.0)
    lin = np.zeros((6, rows, cols))
    lin[1] = 1.0
    from astropy.stats import sigma_clip

    assert np.flatnonzero(sigma_clip(dark, sigma=5, maxiters=5).mask).tolist() == [2 * cols + 3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = notebook_calibrate(raw, GAIN, OFFSET, dark, dead, flat, lin, DT, binning=2)
    assert out.shape == (1, cols, rows)
    assert out[0, 3, 2] == pytest.approx((120 - 2 * 10.0 * DARK_DT) / 2.0, rel=1e-13)
    assert out[0, 0, 0] == pytest.approx((120 - 2 * 0.01 * DARK_DT) / 2.0, rel=1e-13)


def test_fourteen_august_fgs1_dark_is_a_no_op():
    """With dt = 0.1 s for every frame (14 Aug 2024 FGS1), dark cancels in CDS."""
    raw, dark, dead, flat, lin = tiny()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = notebook_calibrate(raw, GAIN, OFFSET, dark, dead, flat, lin, np.full(4, 0.1), crop=(1, 3), binning=2)
    np.testing.assert_allclose(out, expected_bin(dark=False), rtol=1e-13)


def test_inputs_untouched():
    raw, dark, dead, flat, lin = tiny()
    copies = [a.copy() for a in (raw, dark, dead, flat, lin, DT)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        notebook_calibrate(raw, GAIN, OFFSET, dark, dead, flat, lin, DT, crop=(1, 3), binning=2, do_nl=True)
    for before, after in zip(copies, (raw, dark, dead, flat, lin, DT), strict=True):
        np.testing.assert_array_equal(before, after)
