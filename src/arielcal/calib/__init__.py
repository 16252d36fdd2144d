"""Pure calibration functions, one module per stage: arrays in, arrays out (no I/O, no Snakemake, no masked arrays).

Layout conventions (the whole project):

* cubes are **pixel-major** ``(rows, cols, frames)``; the last (time) axis is contiguous in a
  C-ordered array. Cubes are never transposed to time-major here.
* calibration maps are ``(rows, cols)``; linearity coefficients ``(degree + 1, rows, cols)``,
  constant term first.
* DQ maps are ``uint32`` ``(rows, cols)`` built from :class:`arielcal.dq.DQ`. A pixel carrying
  ``DO_NOT_USE`` ends as NaN in every product; a problem confined to one frame (raw 0 or 65535)
  is NaN in that frame only and sets a descriptive bit of the pixel.

Precision: arithmetic is done in float64 and only the stored result is float32 (the default
output dtype). Pass ``out=`` (any writable array of the right shape, e.g. a memory-mapped
``.npy``) to choose the dtype or stream the result to disk.

Memory: every function that touches a full cube works in blocks of whole pixel time series
(``block_pixels`` pixels at a time; by default as many as fit in :data:`BLOCK_BYTES` of float64
per temporary), so no full-cube float64 temporary is ever made. Inputs may be read-only
memory maps; they are never modified (except by :func:`exclude_flagged`, whose job it is).

Stage order in the pipeline: :func:`adc_invert` -> (:func:`pixel_dq`, :func:`saturated_dq`) ->
:func:`apply_linearity` -> :func:`subtract_dark` -> :func:`cds` -> :func:`reject_outliers` ->
:func:`bin_frames` -> :func:`flat_field` ->
:func:`exclude_flagged`. Dark subtraction, CDS, binning and flat division are linear per pixel
and commute; ADC inversion and linearity must see every raw frame.

Modules: :mod:`.adc`, :mod:`.mask`, :mod:`.linearity`, :mod:`.dark`, :mod:`.cds`, :mod:`.outliers`,
:mod:`.binning`, :mod:`.flat`, and :mod:`.inpaint` (the optional in-painted product) (one per stage, as stcal has one per step), sharing the block machinery of
:mod:`._blocks`. Everything public is re-exported here: ``calib.subtract_dark``.
"""

from ._blocks import BLOCK_BYTES, STORE_DTYPE
from .adc import ADC_FLOOR, ADC_SATURATED, adc_flags, adc_invert, adc_lookup_table
from .binning import bin_frames, bin_times
from .cds import cds
from .dark import dark_dq, integration_times, integration_times_from_axis, subtract_dark, usable_dark
from .flat import exclude_flagged, flat_divisor, flat_field
from .inpaint import inpaint_columns
from .linearity import apply_linearity, clean_linearity_coefficients
from .mask import pixel_dq, saturated_dq, sigma_clip_mask
from .outliers import (
    DEFAULT_OUTLIER_THRESHOLD,
    DEFAULT_OUTLIER_WINDOW,
    MAD_TO_SIGMA,
    MIN_OUTLIER_FRAMES,
    outlier_blocks,
    outlier_dq,
    reject_outliers,
)

__all__ = [
    "ADC_FLOOR",
    "ADC_SATURATED",
    "BLOCK_BYTES",
    "DEFAULT_OUTLIER_THRESHOLD",
    "DEFAULT_OUTLIER_WINDOW",
    "MAD_TO_SIGMA",
    "MIN_OUTLIER_FRAMES",
    "STORE_DTYPE",
    "adc_flags",
    "adc_invert",
    "adc_lookup_table",
    "apply_linearity",
    "bin_frames",
    "bin_times",
    "cds",
    "clean_linearity_coefficients",
    "dark_dq",
    "exclude_flagged",
    "flat_divisor",
    "flat_field",
    "inpaint_columns",
    "integration_times",
    "integration_times_from_axis",
    "outlier_blocks",
    "outlier_dq",
    "pixel_dq",
    "reject_outliers",
    "saturated_dq",
    "sigma_clip_mask",
    "subtract_dark",
    "usable_dark",
]
