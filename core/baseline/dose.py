"""Dose: regression of the injected amount (Amount R + Amount L, ml) from pre-op measures.

The study names dose prediction as its next step. The regression is a Pipeline
``impute → scale → RidgeCV`` (the ridge penalty chosen by efficient leave-one-out on the
training patients), trained on the same outer patient folds as the classifier, and
reported with the MAE of the test patients and a bootstrap interval. Predicting the
training patients' mean amount is reported beside it: amounts cluster at a few values
(0.5, 0.8, 1 ml), so a model is only useful if it beats that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from core.baseline.models import outer_folds
from core.errors import TrainingError
from core.metrics import percentile_ci

#: Columns of :attr:`DoseResult.predictions`.
DOSE_COLUMNS: tuple[str, ...] = ("repeat", "fold", "patient_id", "amount_ml", "predicted_ml", "mean_ml")
RIDGE_ALPHAS: tuple[float, ...] = tuple(np.logspace(-2, 4, 13))


@dataclass
class DoseResult:
    """Cross-validated dose regression.

    Attributes
    ----------
    predictions : pd.DataFrame
        One row per (repeat, test patient), columns :data:`DOSE_COLUMNS`; ``mean_ml`` is
        the training patients' mean amount (the trivial prediction).
    summary : dict
        ``n``, ``mae_ml``, ``mae_ci``, ``mean_baseline_mae_ml``, ``mean_baseline_mae_ci``,
        ``mae_difference_ci`` (model − mean; below 0 means the model helps), ``alpha_median``.
    """

    predictions: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def injected_amounts(patients: pd.DataFrame) -> pd.Series:
    """Total injected amount per patient: ``amount_r + amount_l`` (a missing side counts 0).

    Parameters
    ----------
    patients : pd.DataFrame
        ``Cohort.patients`` (``patient_id``, ``amount_r``, ``amount_l``).

    Returns
    -------
    amounts : pd.Series
        Float ml by ``patient_id``; NaN where both sides are missing.
    """
    table = patients.set_index("patient_id")[["amount_r", "amount_l"]].apply(pd.to_numeric, errors="coerce")
    total = table.sum(axis=1, min_count=1)
    return total.astype(float).rename("amount_ml")


def make_dose_pipeline() -> Pipeline:
    """``impute (median) → scale → RidgeCV`` over :data:`RIDGE_ALPHAS`."""
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
            ("model", RidgeCV(alphas=RIDGE_ALPHAS)),
        ]
    )


def dose_regression(
    features: pd.DataFrame,
    amounts: pd.Series,
    folds: pd.Series | pd.DataFrame,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> DoseResult:
    """Predict the injected amount of each test patient from pre-op features, fold by fold.

    Parameters
    ----------
    features : pd.DataFrame [shape=(n_patients, n_features)]
        Indexed by ``patient_id``.
    amounts : pd.Series
        ml by ``patient_id`` (:func:`injected_amounts`); patients without one are left out.
    folds : pd.Series or pd.DataFrame
        Outer patient folds (anything :func:`core.baseline.models.outer_folds` accepts).
    n_boot, level, seed
        Bootstrap of the MAE (patients resampled).

    Returns
    -------
    result : DoseResult

    Raises
    ------
    TrainingError
        If fewer than 5 patients have an amount, or a training part has fewer than 3.
    """
    amounts = amounts.dropna()
    folds = outer_folds(folds)
    folds = folds[folds["patient_id"].isin(amounts.index) & folds["patient_id"].isin(features.index)]
    if folds["patient_id"].nunique() < 5:
        raise TrainingError(
            f"{folds['patient_id'].nunique()} patients have an injected amount; dose needs >= 5"
        )
    rows, alphas = [], []
    for (repeat, fold), test in folds.groupby(["repeat", "fold"], sort=True):
        members = folds.loc[folds["repeat"] == repeat, "patient_id"]
        test_ids = test["patient_id"].tolist()
        train_ids = [p for p in members if p not in set(test_ids)]
        if len(train_ids) < 3:
            raise TrainingError(
                f"fold r{repeat}f{fold}: {len(train_ids)} training patients with an amount; expected >= 3"
            )
        pipeline = make_dose_pipeline().fit(features.loc[train_ids], amounts.loc[train_ids].to_numpy())
        alphas.append(float(pipeline.named_steps["model"].alpha_))
        rows.append(
            pd.DataFrame(
                {
                    "repeat": int(repeat),
                    "fold": int(fold),
                    "patient_id": test_ids,
                    "amount_ml": amounts.loc[test_ids].to_numpy(float),
                    "predicted_ml": pipeline.predict(features.loc[test_ids]),
                    "mean_ml": float(amounts.loc[train_ids].mean()),
                }
            )
        )
    predictions = pd.concat(rows, ignore_index=True)[list(DOSE_COLUMNS)]
    return DoseResult(
        predictions=predictions,
        summary=dose_summary(predictions, n_boot=n_boot, level=level, seed=seed)
        | {"alpha_median": float(np.median(alphas))},
    )


def dose_summary(
    predictions: pd.DataFrame, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """MAE of the model and of the mean prediction, with bootstrap intervals over patients.

    Repeats are averaged per patient first, so each patient counts once.
    """
    per_patient = predictions.groupby("patient_id", sort=True)[
        ["amount_ml", "predicted_ml", "mean_ml"]
    ].mean()
    truth = per_patient["amount_ml"].to_numpy()
    model_error = np.abs(per_patient["predicted_ml"].to_numpy() - truth)
    mean_error = np.abs(per_patient["mean_ml"].to_numpy() - truth)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, truth.size, size=(n_boot, truth.size))
    return {
        "n": int(truth.size),
        "mae_ml": float(model_error.mean()),
        "mae_ci": list(percentile_ci(model_error[draws].mean(axis=1), level=level)),
        "mean_baseline_mae_ml": float(mean_error.mean()),
        "mean_baseline_mae_ci": list(percentile_ci(mean_error[draws].mean(axis=1), level=level)),
        "mae_difference_ci": list(percentile_ci((model_error - mean_error)[draws].mean(axis=1), level=level)),
    }


__all__ = [
    "DOSE_COLUMNS",
    "DoseResult",
    "dose_regression",
    "dose_summary",
    "injected_amounts",
    "make_dose_pipeline",
]
