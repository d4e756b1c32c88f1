"""Which features a fitted baseline relied on: per fold, then over the folds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline


def fold_importance(
    model: str,
    pipeline: Pipeline,
    x_test: pd.DataFrame,
    y_test: np.ndarray,
    columns: Sequence[str],
    *,
    seed: int,
) -> pd.DataFrame:
    """Per-fold importance: standardised coefficients, impurity decrease, or test permutation AUROC drop."""
    estimator = pipeline.named_steps["model"]
    if model == "logreg":
        values, kind = estimator.coef_[0], "coefficient (standardised; > 0 means poor)"
    elif model == "random_forest":
        values, kind = estimator.feature_importances_, "impurity decrease"
    else:
        if np.unique(y_test).size < 2:
            values = np.full(len(columns), np.nan)
        else:
            values = permutation_importance(
                pipeline, x_test, y_test, scoring="roc_auc", n_repeats=10, random_state=seed
            ).importances_mean
        kind = "permutation (test AUROC drop)"
    return pd.DataFrame({"feature": list(columns), "importance": values, "kind": kind})


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
