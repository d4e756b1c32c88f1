"""Explanations of the dual-input model: one module per method on a shared base.

Map methods (registry :data:`EXPLAINERS`, each an :class:`Explainer` with
``explain(model, mel, stft) -> {branch: BranchExplanation}``):

=======================  ==============================================  ==================
name                     what                                            module
=======================  ==============================================  ==================
gradcam                  Grad-CAM on the last feature map, per branch    gradcam
gradcampp                Grad-CAM++                                      gradcampp
eigencam                 EigenCAM (gradient-free)                        eigencam
ablationcam              AblationCAM                                     ablationcam
saliency                 vanilla input gradient                          saliency
smoothgrad               SmoothGrad                                      saliency
integrated_gradients     Integrated Gradients                            integrated_gradients
occlusion                band + chunk occlusion as a map                 occlusion
=======================  ==============================================  ==================

Tables: :func:`branch_masking` / :func:`masking_summary` (the study's
``mel_branch_mean``, ``stft_branch_mean``), :func:`occlusion_table` /
:func:`aggregate_occlusion`, :func:`pick_cases`, :func:`delta_cam`,
:func:`deletion_insertion`, :func:`randomisation_check`, :func:`summarise`.
Cached results per run: :class:`ExplainStore`; one stored fold's explanations (what the
pages and ``python -m core explain`` use): :func:`load_fold` + :class:`FoldExplainer`,
and the per-fold masking table from the cache: :func:`cached_masking_table`.
"""

from __future__ import annotations

from typing import Any

from core.errors import ExplainError
from core.explain.ablationcam import AblationCam
from core.explain.base import BranchExplanation, CamExplainer, Explainer, PixelExplainer
from core.explain.cases import CELLS, confusion_cells, pick_cases, select_segments
from core.explain.eigencam import EigenCam
from core.explain.faithfulness import (
    deletion_insertion,
    explain_and_check,
    faithfulness_summary,
    randomisation_check,
)
from core.explain.fold import FoldData, FoldExplainer, cached_masking_table, load_fold
from core.explain.gradcam import GradCam, delta_cam
from core.explain.gradcampp import GradCamPlusPlus
from core.explain.integrated_gradients import IntegratedGradients
from core.explain.masking import branch_masking, masking_summary, mean_image
from core.explain.occlusion import Occlusion, aggregate_occlusion, occlusion_probabilities, occlusion_table
from core.explain.regions import ImageAxes, band_rows, chunk_columns, region_table
from core.explain.saliency import Saliency, SmoothGrad
from core.explain.staged import BRANCHES, StagedModel, StagedRunner, runner_for
from core.explain.store import ExplainStore
from core.explain.summary import Summary, summarise

#: Map methods by name.
EXPLAINERS: dict[str, type[Explainer]] = {
    cls.name: cls
    for cls in (
        GradCam,
        GradCamPlusPlus,
        EigenCam,
        AblationCam,
        Saliency,
        SmoothGrad,
        IntegratedGradients,
        Occlusion,
    )
}


def get_explainer(name: str, **params: Any) -> Explainer:
    """An explainer by registry name, e.g. ``get_explainer("smoothgrad", samples=16)``."""
    if name not in EXPLAINERS:
        raise ExplainError(f"unknown explanation method {name!r}; expected one of {sorted(EXPLAINERS)}")
    try:
        return EXPLAINERS[name](**params)
    except TypeError as exc:
        raise ExplainError(f"method {name!r} does not take {sorted(params)}: {exc}") from None


__all__ = [
    "BRANCHES",
    "CELLS",
    "EXPLAINERS",
    "AblationCam",
    "BranchExplanation",
    "CamExplainer",
    "EigenCam",
    "ExplainStore",
    "Explainer",
    "FoldData",
    "FoldExplainer",
    "GradCam",
    "GradCamPlusPlus",
    "ImageAxes",
    "IntegratedGradients",
    "Occlusion",
    "PixelExplainer",
    "Saliency",
    "SmoothGrad",
    "StagedModel",
    "StagedRunner",
    "Summary",
    "aggregate_occlusion",
    "band_rows",
    "branch_masking",
    "cached_masking_table",
    "chunk_columns",
    "confusion_cells",
    "delta_cam",
    "deletion_insertion",
    "explain_and_check",
    "faithfulness_summary",
    "get_explainer",
    "load_fold",
    "masking_summary",
    "mean_image",
    "occlusion_probabilities",
    "occlusion_table",
    "pick_cases",
    "randomisation_check",
    "region_table",
    "runner_for",
    "select_segments",
    "summarise",
]
