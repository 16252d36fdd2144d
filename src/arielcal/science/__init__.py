"""Science layer: pure functions from calibrated products to light curves, transit depths and
recovery statistics (arrays in, arrays out; no I/O, no Snakemake). See docs/science.md.

Layout conventions (as the products): cubes are ``(time, column, row)`` (FGS1 columns and rows
are both spatial), maps ``(column, row)``; light curves are ``(time, channel)``. AIRS channels are
product columns in detector order (wavelength *decreasing*); FGS1 has one channel.

Pipeline: :func:`product_variance` -> :func:`box_mask` / :func:`extract` ->
:func:`white_light_curve` -> :func:`visit_depths` (:func:`detect_joint_window`, then the
limb-darkened :func:`fit_geometry` and :func:`channel_depths`) -> :func:`recovery_statistics`; :func:`label_of_columns` maps channels to the labels ``wl_j``.
"""

from .channels import ChannelDepths, band_limb_darkening, channel_depths
from .extraction import (
    LightCurves,
    ObservationCurves,
    aperture_centroid,
    aperture_masks,
    box_mask,
    extract,
    observation_curves,
    white_light_curve,
)
from .labels import FGS1_LABEL, LABELLED_AIRS_COLUMNS, label_of_columns, recovery_statistics
from .lightcurve_model import Geometry, TrapezoidShape, fit_geometry, red_noise_factor
from .limb_darkening import binned_basis, occultation_basis, quadratic_deficit
from .scores import gaussian_log_likelihood_score, tercile_statistics
from .transit import (
    Depths,
    Window,
    binned_trapezoid,
    detect_joint_window,
    detect_window,
    transit_depth,
    trapezoid,
    window_bins,
)
from .variance import product_variance, signal_per_frame, time_median, variance_of_product
from .visit import DEPTH_COLUMNS, InstrumentCurves, Settings, VisitDepths, visit_depths

__all__ = [
    "DEPTH_COLUMNS",
    "ChannelDepths",
    "Geometry",
    "TrapezoidShape",
    "band_limb_darkening",
    "Settings",
    "binned_basis",
    "channel_depths",
    "fit_geometry",
    "gaussian_log_likelihood_score",
    "occultation_basis",
    "quadratic_deficit",
    "red_noise_factor",
    "tercile_statistics",
    "InstrumentCurves",
    "VisitDepths",
    "visit_depths",
    "Depths",
    "FGS1_LABEL",
    "LABELLED_AIRS_COLUMNS",
    "LightCurves",
    "ObservationCurves",
    "Window",
    "binned_trapezoid",
    "aperture_centroid",
    "aperture_masks",
    "box_mask",
    "detect_joint_window",
    "detect_window",
    "extract",
    "label_of_columns",
    "observation_curves",
    "product_variance",
    "recovery_statistics",
    "signal_per_frame",
    "transit_depth",
    "time_median",
    "trapezoid",
    "variance_of_product",
    "white_light_curve",
    "window_bins",
]
