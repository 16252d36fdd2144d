"""Calibration and time binning of Ariel Data Challenge raw detector data.

Pure array functions live in :mod:`arielcal.calib` and :mod:`arielcal.simulate`;
file formats in :mod:`arielcal.formats`; dataset discovery in :mod:`arielcal.layout`.
"""

__version__ = "0.1.0"
