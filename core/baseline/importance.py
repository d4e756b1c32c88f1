"""Which features a fitted baseline relied on: per fold, then over the folds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from core.baseline.delong import midrank_auroc


def fold_importance(
    model: str,
    pipeline: Pipeline,
    x_test: pd.DataFrame | np.ndarray,
    y_test: np.ndarray,
    columns: Sequence[str],
    *,
    seed: int,
) -> pd.DataFrame:
    """Per-fold importance: standardised coefficients, impurity decrease, or test permutation AUROC drop.

    A feature the imputer dropped (no value in any training patient) was not used by the
    model: its importance is 0.

    The permutation importance permutes the features after the pipeline's imputation and
    scaling, which act on each column alone (so permuting a column after them equals
    permuting it before), and scores the model's margins with the midrank AUROC of
    :func:`core.baseline.delong.midrank_auroc`: the same values as permuting the
    raw features through the whole pipeline with scikit-learn's "roc_auc" scorer, without
    re-running the pipeline for each of the ``10 × n_features`` scorings.

    Parameters
    ----------
    pipeline : Pipeline
        Fitted ``impute → scale → model`` (:func:`core.baseline.models.baseline_pipeline`).
    x_test : pd.DataFrame or np.ndarray [shape=(n_test, n_features)]
    y_test : np.ndarray [shape=(n_test,)]
    columns : sequence of str
        Names of ``x_test``'s columns.

    Returns
    -------
    importance : pd.DataFrame [shape=(n_features, 3)]
        ``feature, importance, kind``.
    """
    estimator = pipeline.named_steps["model"]
    used = ~np.isnan(pipeline.named_steps["impute"].statistics_)  # columns that reach the model
    values = np.zeros(len(columns))
    if model == "logreg":
        values[used], kind = estimator.coef_[0], "coefficient (standardised; > 0 means poor)"
    elif model == "random_forest":
        values[used], kind = estimator.feature_importances_, "impurity decrease"
    else:
        kind = "permutation (test AUROC drop)"
        if np.unique(y_test).size < 2:
            values[:] = np.nan
        else:
            values[used] = permutation_importance(
                estimator,
                pipeline[:-1].transform(x_test),
                y_test,
                scoring=_margin_auroc,
                n_repeats=10,
                random_state=seed,
            ).importances_mean
    return pd.DataFrame({"feature": list(columns), "importance": values, "kind": kind})


def _margin_auroc(estimator: Any, x: np.ndarray, y: np.ndarray) -> float:
    """AUROC of a fitted estimator's margins (a scorer for :func:`permutation_importance`)."""
    return midrank_auroc(y, estimator.decision_function(x))


def mean_importance(per_fold: list[pd.DataFrame]) -> pd.DataFrame:
    """Importance per feature over the folds (mean, sd), most important first."""
    table = pd.concat(per_fold, ignore_index=True)
    grouped = table.groupby("feature", sort=False)
    out = grouped.agg(
        importance=("importance", "mean"), importance_sd=("importance", "std"), kind=("kind", "first")
    )
    # A coefficient matters by its size whatever its sign; an AUROC drop below 0 means the feature hurt.
    signed = out["kind"].str.startswith("coefficient")
    order = out["importance"].abs().where(signed, out["importance"]).sort_values(ascending=False).index
    return out.loc[order].reset_index()


__all__ = ["fold_importance", "mean_importance"]
