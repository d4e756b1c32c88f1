"""Headline statistics labelled with what they are; small folds flagged; the comparator named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.headline import comparator_rule, headline, pooled_auroc, small_fold_warning, small_folds
from core.metrics import auroc, summarize
from core.results import SD_LABEL
from core.run import Run


def _run(summary: dict) -> Run:
    # Two folds of patient-level test predictions: fold 2 holds only 4 patients.
    patients = pd.DataFrame(
        {
            "repeat": 0,
            "fold": [0] * 6 + [1] * 4,
            "part": "test",
            "patient_id": [f"P{i:02d}" for i in range(10)],
            "label": [0, 0, 0, 1, 1, 1, 0, 0, 1, 1],
            "prob": [0.1, 0.4, 0.35, 0.8, 0.3, 0.9, 0.6, 0.7, 0.2, 0.1],
        }
    )
    folds = pd.DataFrame(
        {
            "repeat": [0, 0],
            "fold": [0, 1],
            "level": "patient",
            "part": "test",
            "n": [6, 4],
            "auroc": [
                auroc(g["label"].to_numpy(), g["prob"].to_numpy()) for _, g in patients.groupby("fold")
            ],
        }
    )
    empty = pd.DataFrame()
    return _Stored(
        path=Path("run"),
        manifest={"summary": summary},
        status="complete",
        epochs=empty,
        folds=folds,
        segment_predictions=empty,
        patient_predictions=patients,
    )


class _Stored(Run):
    """A run whose summary is the manifest's (no run folder on disk)."""

    @property
    def summary(self) -> dict:
        return self.manifest["summary"]


def test_pooled_auroc_is_labelled_and_differs_from_the_mean_over_folds() -> None:
    run = _run(
        {
            "patient_auroc_mean": 0.3889,
            "patient_auroc_std": 0.3889,
            "folds_done": 2,
            "patient_auroc_ci_bootstrap": [0.2, 0.9],
        }
    )
    # Pooled over both folds: 12 of 25 (class-1, class-0) pairs ordered right and one tie → 12.5 / 25.
    expected = auroc(run.patient_predictions["label"].to_numpy(), run.patient_predictions["prob"].to_numpy())
    assert pooled_auroc(run) == pytest.approx(expected) and expected == pytest.approx(0.5)
    per_fold = run.folds["auroc"].to_numpy()
    assert per_fold == pytest.approx([7 / 9, 0.0])  # the 4-patient fold is 0 %
    stats = {s.label: s for s in headline(run)}
    assert stats["Pooled patient AUROC (all test folds)"].value == "0.500"
    assert stats["95 % CI of the pooled AUROC (bootstrap)"].value == "0.200 – 0.900"
    assert "held fixed" in stats["95 % CI of the pooled AUROC (bootstrap)"].help
    assert stats["Patient AUROC, mean ± SD over folds"].value == "0.389 ± 0.389"
    assert "Range over repeated splits" not in stats  # one repeat: nothing to range over


def test_range_over_repeated_splits_is_not_called_a_ci() -> None:
    run = _run({"patient_auroc_repeat_range": [0.71, 0.83], "patient_auroc_ci_repeats": [0.712, 0.829]})
    stats = {s.label: s for s in headline(run)}
    assert stats["Range over repeated splits"].value == "0.710 – 0.830"
    assert "Not a confidence interval" in stats["Range over repeated splits"].help
    assert not any("CI over repeats" in label for label in stats)


def test_population_sd_as_the_study() -> None:
    # Five folds' accuracies whose population SD is the study's kind of number.
    acc = np.array([0.70, 0.75, 0.80, 0.85, 0.78])
    per_fold = pd.DataFrame({"level": "patient", "part": "test", "acc": acc})
    row = summarize(per_fold, columns=("acc",)).iloc[0]
    assert (
        row["acc_std"]
        == pytest.approx(np.sqrt(((acc - acc.mean()) ** 2).mean()))
        == pytest.approx(0.0500400, abs=1e-6)
    )
    assert row["acc_std"] < acc.std(ddof=1)
    assert "population SD" in SD_LABEL


def test_small_folds_are_flagged_with_their_count() -> None:
    run = _run({})
    few = small_folds(run)
    assert list(few["fold"]) == ["fold 2"] and list(few["n"]) == [4] and few["auroc"].iloc[0] == 0.0
    text = small_fold_warning(run)
    assert text is not None and "fold 2 (4 test patients, AUROC 0%)" in text
    assert small_folds(run, limit=3).empty and small_fold_warning(run, level="segment") is None


def test_the_comparator_rule_is_named() -> None:
    assert comparator_rule({"comparator": "inner"}).startswith("comparator chosen by inner CV")
    assert comparator_rule({"comparator": "logistic"}) == "comparator fixed in advance (logistic)"
    assert "test AUROC" in comparator_rule({})
