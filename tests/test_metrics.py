"""Segment/patient metrics, the validation threshold sweep, summaries and confidence intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from core.metrics import (
    aggregate_patients,
    auroc,
    best_threshold,
    binary_cross_entropy,
    binary_metrics,
    bootstrap_ci,
    fold_metrics,
    percentile_ci,
    summarize,
)


@pytest.fixture
def scored() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    prob = np.clip(0.3 * y + rng.normal(0.35, 0.2, 200), 0, 1)
    return y, prob


def test_binary_metrics_agree_with_sklearn(scored) -> None:
    y, prob = scored
    m = binary_metrics(y, prob, threshold=0.45)
    predicted = (prob >= 0.45).astype(int)
    assert m["acc"] == pytest.approx(accuracy_score(y, predicted))
    assert m["precision"] == pytest.approx(precision_score(y, predicted))
    assert m["recall"] == pytest.approx(recall_score(y, predicted))
    assert m["specificity"] == pytest.approx(recall_score(1 - y, 1 - predicted))
    assert m["f1"] == pytest.approx(f1_score(y, predicted))
    assert m["auroc"] == pytest.approx(roc_auc_score(y, prob))
    assert m["tn"] + m["fp"] + m["fn"] + m["tp"] == 200


def test_best_threshold_is_the_f1_best_of_the_grid(scored) -> None:
    y, prob = scored
    grid = np.linspace(0, 1, 201)
    scores = [f1_score(y, (prob >= t).astype(int), zero_division=0) for t in grid]
    assert best_threshold(y, prob, steps=201) == pytest.approx(grid[int(np.argmax(scores))])


def test_best_threshold_takes_the_lowest_on_ties() -> None:
    y = np.array([0, 1, 1])
    prob = np.array([0.1, 0.6, 0.7])
    assert best_threshold(y, prob, steps=11) == pytest.approx(0.2)


def test_auroc_of_one_class_is_nan_and_bce_matches_formula() -> None:
    assert np.isnan(auroc(np.array([1, 1]), np.array([0.2, 0.9])))
    y, p = np.array([1, 0]), np.array([0.8, 0.4])
    smooth = np.array([1 - 0.025, 0.025])
    expected = -np.mean(smooth * np.log(p) + (1 - smooth) * np.log(1 - p))
    assert binary_cross_entropy(y, p, label_smoothing=0.05) == pytest.approx(expected)


def test_patient_probability_is_mean_median_or_max_of_segments() -> None:
    table = pd.DataFrame(
        {"patient_id": ["A", "A", "A", "B"], "label": [1, 1, 1, 0], "prob": [0.1, 0.2, 0.9, 0.4]}
    )
    for how, expected in (("mean", 0.4), ("median", 0.2), ("max", 0.9)):
        out = aggregate_patients(table, how=how).set_index("patient_id")
        assert out.loc["A", "prob"] == pytest.approx(expected)
        assert out.loc["A", "n_segments"] == 3


def test_fold_thresholds_come_from_validation_only() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for part, n in (("train", 40), ("val", 20), ("test", 20)):
        for i in range(n):
            label = i % 2
            rows.append(
                {
                    "part": part,
                    "patient_id": f"{part}{i // 2}",
                    "label": label,
                    "prob": 0.2 + 0.5 * label + rng.normal(0, 0.1),
                }
            )
    predictions = pd.DataFrame(rows)
    first = fold_metrics(predictions)
    shuffled = predictions.copy()
    test = shuffled["part"] == "test"
    shuffled.loc[test, "prob"] = rng.permutation(shuffled.loc[test, "prob"].to_numpy())
    second = fold_metrics(shuffled)
    assert np.array_equal(first["threshold"].to_numpy(), second["threshold"].to_numpy())
    assert set(first["level"]) == {"segment", "patient"}
    patient_test = first[(first["level"] == "patient") & (first["part"] == "test")].iloc[0]
    assert patient_test["n"] == 10


def test_summary_mean_and_std_over_folds() -> None:
    per_fold = pd.DataFrame(
        {"level": ["patient"] * 3, "part": ["test"] * 3, "auroc": [0.6, 0.8, 0.7], "acc": [0.5, 0.7, 0.9]}
    )
    out = summarize(per_fold, columns=("acc", "auroc")).iloc[0]
    assert out["auroc_mean"] == pytest.approx(0.7)
    # Population SD over folds, as the study computed its "± 6.47 %": sqrt(0.02 / 3), not sqrt(0.02 / 2).
    assert out["auroc_std"] == pytest.approx(np.sqrt(0.02 / 3)) and out["auroc_std"] == pytest.approx(
        0.0816497
    )
    assert out["folds"] == 3


def test_percentile_ci_over_repeats() -> None:
    values = np.linspace(0.5, 0.9, 41)
    low, high = percentile_ci(values)
    assert low == pytest.approx(np.percentile(values, 2.5))
    assert high == pytest.approx(np.percentile(values, 97.5))
    assert np.isnan(percentile_ci([])[0])


def test_bootstrap_ci_is_seeded_contains_estimate_and_narrows_with_more_patients() -> None:
    rng = np.random.default_rng(1)

    def patients(n: int) -> pd.DataFrame:
        y = np.arange(n) % 2
        return pd.DataFrame(
            {"patient_id": [f"P{i}" for i in range(n)], "label": y, "prob": 0.35 * y + rng.uniform(0, 0.6, n)}
        )

    small, large = patients(30), patients(300)
    a = bootstrap_ci(small, n_boot=300, seed=5)
    assert a == bootstrap_ci(small, n_boot=300, seed=5)
    assert a[0] <= auroc(small["label"], small["prob"]) <= a[1]
    b = bootstrap_ci(large, n_boot=300, seed=5)
    assert (b[1] - b[0]) < (a[1] - a[0])
