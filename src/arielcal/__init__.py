"""Calibration and time binning of Ariel Data Challenge raw detector data.

For notebooks: :func:`calibrate_observation`, :func:`open_product` and :func:`open_split`
(:mod:`arielcal.api`). Pure array functions live in :mod:`arielcal.calib` and
:mod:`arielcal.science`; file formats in :mod:`arielcal.formats`; the product type in
:mod:`arielcal.product`; dataset discovery in :mod:`arielcal.layout`.
"""

__version__ = "0.1.0"

_API = ("calibrate_observation", "open_product", "open_split")


def __getattr__(name: str):
    # Imported on first use: every workflow job imports arielcal (arielcal.threads) and must set
    # its thread limits before numpy loads.
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'arielcal' has no attribute {name!r}")
