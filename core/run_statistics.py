"""Statistics of a run's test folds: mean ± SD over folds, spread over repeats, bootstrap interval.

:func:`compute_summary` turns a run folder's ``folds.csv`` and
``predictions_patients.csv`` into the manifest's ``summary`` (the run store,
:mod:`core.runs`, writes it when a run finishes). Every number says what it is: the SD
over folds is a population SD, the repeat range is a range and not a confidence
interval, the bootstrap interval belongs to the pooled AUROC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from core.formatting import nan_to_none
from core.metrics import METRIC_COLUMNS, auroc, bootstrap_ci, percentile_ci, summarize


def fold_table(run_dir: str | Path) -> pd.DataFrame:
    """Per-fold metrics (``folds.csv``); empty when no fold finished."""
    path = Path(run_dir) / "folds.csv"
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def compute_summary(run_dir: str | Path, *, n_boot: int = 1000) -> dict[str, Any]:
    """Test metrics, mean ± std over folds, per level; CIs over repeats and patients.

    Returns
    -------
    summary : dict
        ``<level>_<metric>_mean`` / ``_std`` for level in segment, patient and every
        metric, the SD over folds a population SD (ddof=0, as the study);
        ``patient_auroc_ci_repeats`` (percentile interval of the repeats' mean patient
        AUROC, kept for old readers) and ``patient_auroc_repeat_range`` (min–max of the
        same: the range over repeated splits; None with one repeat);
        ``patient_auroc_pooled`` (AUROC of all test predictions pooled over folds) and
        ``patient_auroc_ci_bootstrap`` (its 95 % interval, patients resampled, the fold
        models held fixed, seed 0; both left out when ``n_boot`` is 0); ``folds_done``;
        ``best_epoch_mean``.
    """
    folds = fold_table(run_dir)
    if folds.empty:
        return {}
    test = folds[folds["part"] == "test"]
    summary: dict[str, Any] = {}
    table = summarize(test)
    for _, row in table.iterrows():
        for metric in METRIC_COLUMNS:
            for stat in ("mean", "std"):
                summary[f"{row['level']}_{metric}_{stat}"] = nan_to_none(row[f"{metric}_{stat}"])
    patient_test = test[test["level"] == "patient"]
    per_repeat = patient_test.groupby("repeat")["auroc"].mean()
    summary["patient_auroc_ci_repeats"] = (
        list(percentile_ci(per_repeat.to_numpy())) if len(per_repeat) > 1 else [None, None]
    )
    # What it is: the spread of the repeats' mean AUROC (split variability only), not a CI.
    summary["patient_auroc_repeat_range"] = (
        [nan_to_none(per_repeat.min()), nan_to_none(per_repeat.max())]
        if len(per_repeat) > 1
        else [None, None]
    )
    patients_path = Path(run_dir) / "predictions_patients.csv"
    if n_boot > 0 and patients_path.is_file():
        patients = pd.read_csv(patients_path)
        pooled = patients[patients["part"] == "test"]
        low, high = bootstrap_ci(pooled, n_boot=n_boot, seed=0)
        summary["patient_auroc_ci_bootstrap"] = [nan_to_none(low), nan_to_none(high)]
        summary["patient_auroc_pooled"] = nan_to_none(
            auroc(pooled["label"].to_numpy(), pooled["prob"].to_numpy())
        )
    summary["folds_done"] = int(len(test.groupby(["repeat", "fold"])))
    summary["best_epoch_mean"] = nan_to_none(test.groupby(["repeat", "fold"])["best_epoch"].first().mean())
    return summary


__all__ = ["compute_summary", "fold_table"]
