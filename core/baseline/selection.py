"""The baseline that stands against the CNN, chosen without looking at any test fold.

Several baselines (models, feature sets) are cross-validated on the same outer folds.
Picking the one with the best *test* AUROC and then testing the CNN against it favours
the baseline (a winner's-curse bias). Here the comparator is either fixed in advance
(a candidate's name) or chosen by inner cross-validation: in every outer fold, the
candidate whose inner grid-search AUROC on the outer-train patients is highest (ties:
the earlier candidate) predicts that fold's test patients. The outer test folds are
used only to score the result.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from core.baseline.models import ModelResult, model_summary
from core.errors import ConfigError

#: Comparator name meaning "chosen per outer fold by inner-CV AUROC".
INNER = "inner"


def select_comparator(
    results: Mapping[str, ModelResult], *, comparator: str = INNER, n_boot: int = 2000, seed: int = 0
) -> tuple[ModelResult, pd.DataFrame]:
    """The comparator's predictions, fold metrics and summary.

    Parameters
    ----------
    results : mapping of str to ModelResult
        Candidates cross-validated on the same outer folds (:func:`cross_validate_model`),
        in order of preference for ties; their ``folds`` carry ``inner_auroc``.
    comparator : str
        :data:`INNER`, or the name of one candidate fixed in advance.
    n_boot, seed : int
        Bootstrap of the pooled AUROC interval.

    Returns
    -------
    result : ModelResult
        Named ``comparator`` ("inner", or the fixed or only candidate's name): per fold, the chosen
        candidate's predictions and metrics (``folds`` gains a ``chosen`` column).
    choices : pd.DataFrame
        ``repeat, fold, chosen, inner_auroc`` per outer fold.
    """
    if not results:
        raise ConfigError("no baseline candidates to choose a comparator from")
    names = list(results)
    if comparator == INNER and len(names) == 1:
        comparator = names[0]  # one candidate: the choice is made in advance
    if comparator != INNER:
        if comparator not in results:
            raise ConfigError(f"baseline comparator {comparator!r}; expected {INNER!r} or one of {names}")
        fixed = results[comparator]
        folds = fixed.folds.assign(chosen=comparator)
        choices = folds[folds["part"] == "test"][["repeat", "fold", "chosen", "inner_auroc"]].reset_index(
            drop=True
        )
        return ModelResult(
            comparator, fixed.predictions, folds, fixed.importance, dict(fixed.summary)
        ), choices
    scores = pd.concat(
        [
            r.folds[r.folds["part"] == "test"][["repeat", "fold", "inner_auroc"]].assign(candidate=n, order=i)
            for i, (n, r) in enumerate(results.items())
        ],
        ignore_index=True,
    )
    ranked = scores.sort_values(
        ["repeat", "fold", "inner_auroc", "order"], ascending=[True, True, False, True]
    )
    best = ranked.groupby(["repeat", "fold"], sort=True).head(1)
    choices = best.rename(columns={"candidate": "chosen"})[["repeat", "fold", "chosen", "inner_auroc"]]
    choices = choices.reset_index(drop=True)
    predictions, folds = [], []
    for row in choices.itertuples(index=False):
        chosen = results[row.chosen]
        keep = (chosen.predictions["repeat"] == row.repeat) & (chosen.predictions["fold"] == row.fold)
        predictions.append(chosen.predictions[keep])
        keep = (chosen.folds["repeat"] == row.repeat) & (chosen.folds["fold"] == row.fold)
        folds.append(chosen.folds[keep].assign(chosen=row.chosen))
    result = ModelResult(
        model=INNER,
        predictions=pd.concat(predictions, ignore_index=True),
        folds=pd.concat(folds, ignore_index=True),
        importance=pd.DataFrame(columns=["feature", "importance", "importance_sd", "kind"]),
    )
    result.summary = model_summary(result.folds, result.predictions, n_boot=n_boot, seed=seed)
    result.summary["chosen"] = choices["chosen"].value_counts().to_dict()
    return result, choices


__all__ = ["INNER", "select_comparator"]
