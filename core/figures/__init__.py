"""Every chart of the dashboard and the report, drawn once: plotly builders that take plain data.

The numbers come from the rest of :mod:`core` (results, explanations, cohort summaries);
these modules only draw them, so a page and a slide showing the same thing show the
same figure. ``maps``: explanation maps over their image; ``segments``: per-segment and
per-model probabilities; ``results``: ROC, confusion, calibration, learning curves,
class balance and occlusion bars.
"""

from __future__ import annotations

from core.figures.maps import cam_overlay, gradcam_overlays, padded_share, signed_map
from core.figures.results import (
    BRANCH_COLOURS,
    calibration,
    class_balance,
    confusion_matrix,
    learning_curves,
    occlusion_bands,
    roc_curves,
)
from core.figures.segments import CELL_COLOURS, model_spread, picked_segment, probability_strip

__all__ = [
    "BRANCH_COLOURS",
    "CELL_COLOURS",
    "calibration",
    "cam_overlay",
    "class_balance",
    "confusion_matrix",
    "gradcam_overlays",
    "learning_curves",
    "model_spread",
    "occlusion_bands",
    "padded_share",
    "picked_segment",
    "probability_strip",
    "roc_curves",
    "signed_map",
]
