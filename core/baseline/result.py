"""``BaselineComparison``: what a baseline comparison produced, and its files in ``<run>/baseline/``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.baseline.dose import DOSE_COLUMNS

#: Folder inside a run that holds the comparison.
BASELINE_DIR = "baseline"

#: Columns of :attr:`BaselineComparison.models`.
MODEL_COLUMNS: tuple[str, ...] = (
    "model",
    "patient_auroc_mean",
    "patient_auroc_std",
    "patient_f1_mean",
    "patient_acc_mean",
    "pooled_auroc",
    "pooled_auroc_ci_low",
    "pooled_auroc_ci_high",
    "cnn_minus_model",
    "difference_ci_low",
    "difference_ci_high",
    "delong_p",
)

_FILES = {
    "models": "models.csv",
    "folds": "folds.csv",
    "predictions": "predictions.csv",
    "feature_roc": "feature_roc.csv",
    "importance": "importance.csv",
    "dose": "dose.csv",
    "features": "features.csv",
}


@dataclass
class BaselineComparison:
    """Everything the baseline comparison produced.

    Attributes
    ----------
    summary : dict
        The CLI's JSON: ``best_model`` (the comparator: "inner" = chosen per fold by
        inner-CV AUROC, or a model fixed in advance; never the best test AUROC) with
        ``comparator_choices``, its ``patient_auroc_mean``, per model ``models``,
        ``delong_p`` of the CNN against the comparator, the CNN's
        ``cnn_patient_auroc_mean`` and ``cnn_pooled_auroc``, ``dose``, ``n_patients``, ``config``.
    models : pd.DataFrame
        One row per baseline, columns :data:`MODEL_COLUMNS` (CNN columns NaN without a CNN).
    folds : pd.DataFrame
        Per-fold patient metrics of every baseline and of the CNN (``model`` column).
    predictions : pd.DataFrame
        Test probabilities: ``model, repeat, fold, patient_id, label, prob`` (CNN included).
    feature_roc : pd.DataFrame
        :func:`core.baseline.compare.feature_roc` of the feature set.
    importance : pd.DataFrame
        ``model, feature, importance, importance_sd, kind``.
    dose : pd.DataFrame
        Dose predictions (:data:`core.baseline.dose.DOSE_COLUMNS`); empty without amounts.
    features : pd.DataFrame
        The patient feature table used (``patient_id`` + features).
    """

    summary: dict[str, Any]
    models: pd.DataFrame
    folds: pd.DataFrame
    predictions: pd.DataFrame
    feature_roc: pd.DataFrame
    importance: pd.DataFrame
    dose: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(DOSE_COLUMNS)))
    features: pd.DataFrame = field(default_factory=pd.DataFrame)


def write_comparison(run_dir: str | Path, comparison: BaselineComparison) -> Path:
    """Write a comparison into ``<run_dir>/baseline/`` (atomic per file); return that folder."""
    from core.runs import atomic_write_csv, atomic_write_json

    folder = Path(run_dir) / BASELINE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for attribute, name in _FILES.items():
        atomic_write_csv(folder / name, getattr(comparison, attribute))
    atomic_write_json(folder / "summary.json", jsonable(comparison.summary))
    return folder


def load_comparison(run_dir: str | Path) -> BaselineComparison | None:
    """The comparison stored in a run folder, or None when the baseline has not been run."""
    folder = Path(run_dir) / BASELINE_DIR
    if not (folder / "summary.json").is_file():
        return None
    tables = {}
    for attribute, name in _FILES.items():
        path = folder / name
        tables[attribute] = (
            pd.read_csv(path) if path.is_file() and path.stat().st_size > 1 else pd.DataFrame()
        )
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return BaselineComparison(summary=summary, **tables)


def jsonable(value: Any) -> Any:
    """A copy of nested dicts/lists with NaN and numpy scalars turned into JSON values (NaN → None)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    return value


__all__ = [
    "BASELINE_DIR",
    "MODEL_COLUMNS",
    "BaselineComparison",
    "jsonable",
    "load_comparison",
    "write_comparison",
]
