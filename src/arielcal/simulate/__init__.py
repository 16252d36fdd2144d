"""Simulated Ariel raw data in the exact competition layout (ADC 2024 or 2025), with a known truth.

Every planet gets a random but seeded transit-depth spectrum; the simulator turns it into raw
uint16 frames following the reference recipe (docs, section 2.3): star spectrum on the AIRS trace
and a 2-D PSF on FGS1, a transit light curve, flat field, dark current with hot pixels, dead
pixels, ramps of two reads sharing their early charge, a per-pixel pedestal, shot and read noise,
the inverse of the shipped linearity polynomial and a per-planet ADC. The truth (depths in label
order and contact times) goes to ``simulation_truth.csv`` (and :mod:`.truth`).

Conventions the calibration side relies on (all in e-, the ADC-inverted unit):

* rate of a pixel = flat * source + dark, so ``(CDS - dark * dt) / flat`` is the source; dead
  pixels have no response at all (pedestal and read noise only);
* reads at 0.1 s and 4.6 s (AIRS) / 0.1 s and 0.2 s (FGS1) after each reset: dt = 4.5 s / 0.1 s;
* ``read`` is the per-read noise sigma; the pedestal is identical for both reads of a ramp;
* the detector value is x with P(x) = pedestal + charge, P the shipped ``linear_corr``
  polynomial; raw = clip(round((x - offset) * gain), 0, 65535). Noiseless data round with error
  feedback along time (see :func:`digitise_error_feedback`), so a time average over n ramps is
  exact to 1 ADU / n instead of keeping a fixed rounding bias.

Shot noise: exact Poisson (:func:`poisson_small_mean`) where an increment's mean charge is below
``POISSON_BELOW_E`` (dark-dominated pixels, far from Gaussian), and a Gaussian of variance = mean
above it: there the Poisson skewness (third cumulant = mean) is negligible against the >= 5 e-
read noise added to every read, and a Gaussian draw costs a fraction of numpy's Poisson sampler.

The package, by concern: ``config`` (what to simulate, seeded streams), ``sky`` (planets, depth
spectra, stars, ADC constants), ``transit`` (time axis, transit shapes, drift, pointing) over
``occultation`` (the exact flux a disc blocks on a limb-darkened star), ``optics`` (trace, PSF,
source rate), ``detector`` (calibration maps, linearity, ADC), ``cosmic`` (cosmic-ray hits),
``frames`` (the raw frames of one observation), ``truth`` (what the systematics leave behind),
``writer`` (files, worker processes), ``cli`` (the command line, also ``python -m
arielcal.simulate``). Every public name is re-exported here. The systematics and the
``realistic`` switch: docs/systematics.md.
"""

from .cli import main
from .config import CONFIG_SOURCE, REALISTIC_GRAZING_FRACTION, SYSTEMATICS, SimulationConfig, _rng
from .cosmic import CosmicRays, cosmic_ray_hits
from .detector import (
    ADC_MAX,
    DARK_MEDIAN,
    DEAD_NOISE_E,
    HOT_DARK_MAX,
    LINEARITY_MEDIANS,
    NEWTON_MAX_ITERATIONS,
    NEWTON_TOLERANCE_E,
    PEDESTAL_MEAN,
    READ_MAX_E,
    READ_MEDIAN,
    calibration_maps,
    check_monotonic,
    digitise,
    digitise_error_feedback,
    invert_linearity,
    linearity,
    linearity_slope,
    newton_iterations,
)
from .frames import (
    CHUNK_ELEMENTS,
    POISSON_BELOW_E,
    ObservationModel,
    observation_model,
    poisson_small_mean,
    simulate_frames,
)
from .occultation import Chord, occulted_fraction, uniform_occultation
from .optics import (
    AIRS_ROW_PROFILE,
    AIRS_TRACE_ROW,
    FGS1_PSF_1D,
    FGS1_PSF_CENTRE,
    PEAK_LONG_READ_E,
    airs_spectrum_shape,
    gaussian_mixture,
    source_factors,
)
from .sky import (
    ADC_2025,
    ADC_GAIN_2024,
    ADC_OFFSET_2024,
    AIRS_SCIENCE_COLUMNS,
    AIRS_WAVELENGTH_FIT,
    BRIGHTNESS_RANGE,
    FGS1_WAVELENGTH_UM,
    N_LABELS,
    STAR_INFO_COLUMNS,
    Planet,
    airs_column_depths,
    airs_wavelengths,
    contact_times,
    depth_spectrum,
    label_wavelengths,
    planet,
    planets,
    reference_radius,
)
from .transit import (
    drift,
    frame_times_s,
    limb_darkening_coefficients,
    pair_times_s,
    pointing,
    transit_multiplier,
    trapezoid,
)
from .truth import TRUTH_DIR, hit_detection, observation_truth_file, observation_truth_wanted
from .writer import (
    PARALLEL_MIN_VALUES,
    SAMPLE_SUBMISSION_FILE,
    SAMPLE_SUBMISSION_VALUE,
    TRUTH_FILE,
    WAVELENGTHS_FILE,
    WORKER_MALLOC_ENV,
    planet_files,
    table_files,
    write_observation,
    write_planet,
    write_tables,
)

__all__ = [
    "ADC_2025",
    "ADC_GAIN_2024",
    "ADC_MAX",
    "ADC_OFFSET_2024",
    "AIRS_ROW_PROFILE",
    "AIRS_SCIENCE_COLUMNS",
    "AIRS_TRACE_ROW",
    "AIRS_WAVELENGTH_FIT",
    "BRIGHTNESS_RANGE",
    "CHUNK_ELEMENTS",
    "CONFIG_SOURCE",
    "Chord",
    "CosmicRays",
    "DARK_MEDIAN",
    "DEAD_NOISE_E",
    "FGS1_PSF_1D",
    "FGS1_PSF_CENTRE",
    "FGS1_WAVELENGTH_UM",
    "HOT_DARK_MAX",
    "LINEARITY_MEDIANS",
    "NEWTON_MAX_ITERATIONS",
    "NEWTON_TOLERANCE_E",
    "N_LABELS",
    "ObservationModel",
    "PARALLEL_MIN_VALUES",
    "PEAK_LONG_READ_E",
    "PEDESTAL_MEAN",
    "POISSON_BELOW_E",
    "Planet",
    "READ_MAX_E",
    "READ_MEDIAN",
    "REALISTIC_GRAZING_FRACTION",
    "SAMPLE_SUBMISSION_FILE",
    "SAMPLE_SUBMISSION_VALUE",
    "STAR_INFO_COLUMNS",
    "SYSTEMATICS",
    "SimulationConfig",
    "TRUTH_DIR",
    "TRUTH_FILE",
    "WAVELENGTHS_FILE",
    "WORKER_MALLOC_ENV",
    "_rng",
    "airs_column_depths",
    "airs_spectrum_shape",
    "airs_wavelengths",
    "calibration_maps",
    "check_monotonic",
    "contact_times",
    "cosmic_ray_hits",
    "depth_spectrum",
    "digitise",
    "digitise_error_feedback",
    "drift",
    "frame_times_s",
    "gaussian_mixture",
    "hit_detection",
    "invert_linearity",
    "label_wavelengths",
    "limb_darkening_coefficients",
    "linearity",
    "linearity_slope",
    "main",
    "newton_iterations",
    "observation_model",
    "observation_truth_file",
    "observation_truth_wanted",
    "occulted_fraction",
    "pair_times_s",
    "planet",
    "planet_files",
    "planets",
    "pointing",
    "poisson_small_mean",
    "reference_radius",
    "simulate_frames",
    "source_factors",
    "table_files",
    "transit_multiplier",
    "trapezoid",
    "uniform_occultation",
    "write_observation",
    "write_planet",
    "write_tables",
]
