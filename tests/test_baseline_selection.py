"""The baseline comparator is fixed in advance or chosen by inner CV, never by test AUROC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.baseline.models import BaselineConfig, cross_validate_model
from core.baseline.selection import INNER, select_comparator
from core.errors import ConfigError


@pytest.fixture(scope="module")
def candidates() -> dict:
    rng = np.random.default_rng(3)
    n = 40
    ids = [f"P{i:02d}" for i in range(n)]
    y = pd.Series(np.arange(n) % 2, index=ids)
    x = pd.DataFrame(rng.standard_normal((n, 4)), index=ids, columns=list("abcd"))
    x["a"] += 2.5 * y  # one informative measure, three noise measures
    folds = pd.DataFrame(
        {"patient_id": ids, "repeat": 0, "fold": (np.arange(n) // 2) % 4}
    )  # both classes per fold
    config = BaselineConfig(models=("logreg", "svm"), inner_folds=3, n_boot=200)
    return {m: cross_validate_model(x, y, folds, model=m, config=config) for m in ("logreg", "svm")}


def test_inner_choice_follows_inner_auroc_per_fold(candidates: dict) -> None:
    result, choices = select_comparator(candidates, n_boot=200)
    assert result.model == INNER and len(choices) == 4
    for row in choices.itertuples(index=False):
        inner = {}
        for name, r in candidates.items():
            test = r.folds[(r.folds["part"] == "test") & (r.folds["fold"] == row.fold)]
            inner[name] = float(test["inner_auroc"].iloc[0])
        assert row.chosen == max(inner, key=lambda n: (inner[n], -list(inner).index(n)))

        def test_probs(predictions: pd.DataFrame, fold: int = row.fold) -> np.ndarray:
            return predictions[(predictions["fold"] == fold) & (predictions["part"] == "test")][
                "prob"
            ].to_numpy()

        np.testing.assert_array_equal(
            test_probs(result.predictions), test_probs(candidates[row.chosen].predictions)
        )
    assert 0.5 < result.summary["patient_auroc_mean"] <= 1.0


def test_test_auroc_cannot_change_the_choice(candidates: dict) -> None:
    # Make "svm" look perfect on every test fold but worse on inner CV: it must not be chosen.
    rigged = {n: r for n, r in candidates.items()}
    svm = candidates["svm"]
    folds = svm.folds.copy()
    folds.loc[folds["part"] == "test", "auroc"] = 1.0
    folds["inner_auroc"] = candidates["logreg"].folds["inner_auroc"].to_numpy() - 0.1
    rigged["svm"] = type(svm)(svm.model, svm.predictions, folds, svm.importance, svm.summary)
    _, choices = select_comparator(rigged, n_boot=200)
    assert set(choices["chosen"]) == {"logreg"}


def test_fixed_comparator_and_errors(candidates: dict) -> None:
    result, choices = select_comparator(candidates, comparator="svm", n_boot=200)
    assert result.model == "svm" and set(choices["chosen"]) == {"svm"}
    single, _ = select_comparator({"logreg": candidates["logreg"]}, n_boot=200)
    assert single.model == "logreg"
    with pytest.raises(ConfigError, match="comparator"):
        select_comparator(candidates, comparator="forest")
    with pytest.raises(ConfigError, match="comparator"):
        BaselineConfig(models=("logreg",), comparator="svm").validate()
