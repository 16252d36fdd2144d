"""QC figures and the ranking of visits worth a look: pure functions, data in, figures out.

Figures use matplotlib's object API (``matplotlib.figure.Figure``), never ``pyplot``: jobs run
as threads of one process (arielcal.jobs) and pyplot's global figure registry is not
thread-safe. Loading the data they show is :mod:`arielcal.science_io`'s job.

Modules: :mod:`.render` (figure plumbing, PNG output), :mod:`.visit` (per-visit figures),
:mod:`.ranking` (which visits to draw), :mod:`.split` (split-level tables and figures).
"""

from .ranking import METRICS, RANKING_COLUMNS, rank_visits, robust_z
from .render import CONTACTS, DPI, REPORT_MAX_WIDTH_PX, png_bytes, save_png
from .split import DQ_COLUMNS, OBSERVATION_COLUMNS, observation_row, recovery_figure, split_summary_figure
from .visit import (
    VISIT_FIGURES,
    ObservationView,
    VisitView,
    time_median_image,
    visit_images,
    visit_spectral_curves,
    visit_white_curves,
)

__all__ = [
    "CONTACTS",
    "DPI",
    "DQ_COLUMNS",
    "METRICS",
    "OBSERVATION_COLUMNS",
    "RANKING_COLUMNS",
    "REPORT_MAX_WIDTH_PX",
    "VISIT_FIGURES",
    "ObservationView",
    "VisitView",
    "observation_row",
    "png_bytes",
    "rank_visits",
    "recovery_figure",
    "robust_z",
    "save_png",
    "split_summary_figure",
    "time_median_image",
    "visit_images",
    "visit_spectral_curves",
    "visit_white_curves",
]
