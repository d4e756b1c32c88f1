"""Baselines: DeLong, nested CV on given folds, single-measure ROC, dose, and the run comparison."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from core.baseline import (
    BaselineConfig,
    compare_models,
    cross_validate_model,
    delong_test,
    dose_regression,
    feature_roc,
    injected_amounts,
    load_comparison,
    outer_folds,
    paired_comparison,
    structural_components,
)
from core.errors import RunError, TrainingError
from core.metrics import best_threshold

FAST = BaselineConfig(models=("logreg",), inner_folds=3, n_boot=200)


def test_delong_matches_a_hand_computed_example():
    # Four poor (1) then four well (0) patients; score B has a tie between a poor and a well patient.
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    a = np.array([0.9, 0.8, 0.6, 0.4, 0.7, 0.5, 0.3, 0.2])
    b = np.array([0.8, 0.5, 0.5, 0.3, 0.6, 0.5, 0.2, 0.1])
    # Structural components by hand: V10 = share of the 4 negatives each positive outscores
    # (ties 1/2), V01 = share of the 4 positives that outscore each negative.
    v10_a, v01_a = [1, 1, 3 / 4, 2 / 4], [2 / 4, 3 / 4, 1, 1]
    v10_b, v01_b = [1, 2.5 / 4, 2.5 / 4, 2 / 4], [1 / 4, 2 / 4, 1, 1]
    auroc_a, auroc_b = 13 / 16, 11 / 16  # means of the components

    def cov(u, v):  # sample covariance over 4 cases
        return sum((p - np.mean(u)) * (q - np.mean(v)) for p, q in zip(u, v, strict=True)) / 3

    var_a = cov(v10_a, v10_a) / 4 + cov(v01_a, v01_a) / 4  # = 0.34375 / 12
    var_b = cov(v10_b, v10_b) / 4 + cov(v01_b, v01_b) / 4  # = 0.5625 / 12
    cov_ab = cov(v10_a, v10_b) / 4 + cov(v01_a, v01_b) / 4  # = 0.375 / 12
    assert var_a + var_b - 2 * cov_ab == pytest.approx(0.15625 / 12)
    z = (auroc_a - auroc_b) / math.sqrt(0.15625 / 12)
    p = 2 * (1 - stats.norm.cdf(z))  # z = 1.0954…, p = 0.2733…

    auroc, v10, v01 = structural_components(y, np.vstack([a, b]))
    np.testing.assert_allclose(v10, [v10_a, v10_b])
    np.testing.assert_allclose(v01, [v01_a, v01_b])
    result = delong_test(y, a, b)
    assert (result.auroc_a, result.auroc_b) == pytest.approx((auroc_a, auroc_b))
    assert result.auroc_a == pytest.approx(roc_auc_score(y, a))
    assert result.covariance == pytest.approx(np.array([[var_a, cov_ab], [cov_ab, var_b]]))
    assert result.z == pytest.approx(z)
    assert result.p_value == pytest.approx(p)
    assert result.p_value == pytest.approx(0.2733, abs=1e-4)


def test_delong_is_symmetric_and_exact_for_identical_scores():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 60)
    a, b = y + rng.normal(0, 1, 60), y + rng.normal(0, 2, 60)
    ab, ba = delong_test(y, a, b), delong_test(y, b, a)
    assert ab.difference == pytest.approx(-ba.difference)
    assert ab.p_value == pytest.approx(ba.p_value)
    same = delong_test(y, a, 2 * a + 1)  # a monotone transform ranks the same
    assert same.difference == 0 and same.p_value == 1.0
    with pytest.raises(TrainingError, match="both classes"):
        delong_test(np.ones(5), a[:5], b[:5])


def test_bootstrap_difference_interval_brackets_the_observed_difference():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 80)
    strong, weak = y + rng.normal(0, 0.5, 80), y + rng.normal(0, 3, 80)
    low, high = paired_comparison(y, strong, weak, n_boot=500, seed=1)["bootstrap_ci"]
    observed = roc_auc_score(y, strong) - roc_auc_score(y, weak)
    assert low < observed < high and low > 0
    assert paired_comparison(y, strong, strong, n_boot=200)["bootstrap_ci"] == [0.0, 0.0]


def synthetic_patients(n: int = 40, *, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Patients whose outcome follows ``signal``; ``noise_*`` columns carry nothing."""
    rng = np.random.default_rng(seed)
    ids = [f"P{i:02d}" for i in range(1, n + 1)]
    labels = pd.Series(np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)], index=ids)
    features = pd.DataFrame(
        {
            "signal": labels.to_numpy() * 2.0 + rng.normal(0, 1.0, n),
            "noise_a": rng.normal(0, 1, n),
            "noise_b": rng.normal(5, 2, n),
        },
        index=ids,
    )
    features.loc[ids[3], "noise_a"] = np.nan  # undefined measures are imputed inside the pipeline
    return features, labels


def fold_series(labels: pd.Series, k: int = 5, seed: int = 42) -> pd.Series:
    from sklearn.model_selection import StratifiedKFold

    folds = pd.Series(0, index=labels.index)
    for fold, (_, test) in enumerate(
        StratifiedKFold(k, shuffle=True, random_state=seed).split(labels, labels)
    ):
        folds.iloc[test] = fold
    return folds


def test_outer_folds_accepts_series_and_run_tables_and_refuses_leaky_ones():
    _, labels = synthetic_patients(20)
    folds = fold_series(labels)
    table = outer_folds(folds)
    assert list(table.columns) == ["repeat", "fold", "patient_id"] and len(table) == 20
    run_like = pd.DataFrame(
        {"repeat": 0, "fold": folds.to_numpy(), "part": "test", "patient_id": folds.index}
    )
    extra = run_like.assign(part="train")
    assert outer_folds(pd.concat([run_like, extra])).equals(table)
    leaky = pd.concat([run_like, run_like.assign(fold=(run_like["fold"] + 1) % 5)])
    with pytest.raises(TrainingError, match="two folds"):
        outer_folds(leaky)


def test_nested_cv_keeps_test_patients_out_and_learns_the_signal():
    features, labels = synthetic_patients(40)
    folds = fold_series(labels)
    result = cross_validate_model(features, labels, folds, model="logreg", config=FAST)
    predictions = result.predictions
    for fold, chosen in predictions.groupby("fold"):
        test_ids = set(folds[folds == fold].index)
        assert set(chosen.loc[chosen["part"] == "test", "patient_id"]) == test_ids
        assert not test_ids & set(chosen.loc[chosen["part"].isin(["train", "val"]), "patient_id"])
        # The threshold is the F1-best one on the inner out-of-fold ("val") probabilities.
        val = chosen[chosen["part"] == "val"]
        row = result.folds[(result.folds["fold"] == fold) & (result.folds["part"] == "test")]
        assert row["threshold"].item() == best_threshold(val["label"].to_numpy(), val["prob"].to_numpy())
    assert result.summary["patient_auroc_mean"] > 0.85
    low, high = result.summary["pooled_auroc_ci"]
    assert low <= result.summary["pooled_auroc"] <= high and low < 1
    assert result.importance.iloc[0]["feature"] == "signal" and result.importance.iloc[0]["importance"] > 0


@pytest.mark.slow
def test_every_model_runs_and_noise_alone_predicts_nothing():
    features, labels = synthetic_patients(40, seed=1)
    folds = fold_series(labels)
    config = BaselineConfig(models=("random_forest", "svm"), inner_folds=3, n_trees=25, n_boot=200)
    for model in config.models:
        result = cross_validate_model(features, labels, folds, model=model, config=config)
        assert result.summary["pooled_auroc"] > 0.8, model
        assert result.importance.iloc[0]["feature"] == "signal", model
    noise = cross_validate_model(features[["noise_a", "noise_b"]], labels, folds, model="logreg", config=FAST)
    assert noise.summary["pooled_auroc_ci"][0] <= 0.5 <= noise.summary["pooled_auroc_ci"][1]
    assert noise.summary["pooled_auroc"] < 0.75


def test_too_few_patients_of_a_class_is_a_clear_error():
    features, labels = synthetic_patients(12)
    labels[:] = 1
    labels.iloc[:2] = 0
    with pytest.raises(TrainingError, match="one class"):
        cross_validate_model(
            features,
            labels,
            fold_series(labels.iloc[2:].reindex(labels.index).fillna(0), k=2),
            model="logreg",
            config=FAST,
        )


def test_feature_roc_reports_direction_cutoff_and_interval():
    features, labels = synthetic_patients(40, seed=2)
    features["reversed"] = -features["signal"]
    features["perfect"] = labels.to_numpy() * 10.0 + np.arange(40) * 0.01
    table = feature_roc(features, labels, n_boot=300).set_index("feature")
    assert table.loc["perfect", "auroc"] == 1.0 and table.loc["perfect", "direction"] == "higher"
    assert table.loc["perfect", ["sensitivity", "specificity"]].tolist() == [1.0, 1.0]
    assert (features.loc[labels == 1, "perfect"] >= table.loc["perfect", "cutoff"]).all()
    assert table.loc["reversed", "auroc"] == pytest.approx(table.loc["signal", "auroc"])
    assert table.loc["reversed", "direction"] == "lower"
    assert table.loc["signal", "ci_low"] < table.loc["signal", "auroc"] <= table.loc["signal", "ci_high"]
    assert table.loc["signal", "p_mannwhitney"] < 1e-4 < table.loc["noise_b", "p_mannwhitney"]
    assert table.loc["noise_a", "n"] == 39
    assert table.index[0] == "perfect"


def test_injected_amounts_add_both_sides():
    patients = pd.DataFrame(
        {"patient_id": ["P1", "P2", "P3"], "amount_r": [1.0, None, 0.3], "amount_l": [None, 0.8, 0.5]}
    )
    assert injected_amounts(patients).tolist()[:3] == pytest.approx([1.0, 0.8, 0.8])
    patients.loc[2, ["amount_r", "amount_l"]] = None
    assert math.isnan(injected_amounts(patients)["P3"])


def test_dose_regression_beats_the_mean_when_the_amount_follows_a_measure():
    features, labels = synthetic_patients(40, seed=5)
    rng = np.random.default_rng(500)  # not the features' seed, or "unrelated" amounts would copy a feature
    amounts = pd.Series(0.5 + 0.1 * features["noise_b"] + rng.normal(0, 0.02, 40), index=features.index)
    result = dose_regression(features, amounts, fold_series(labels), n_boot=300)
    summary = result.summary
    assert summary["n"] == 40 and len(result.predictions) == 40
    assert summary["mae_ml"] < 0.5 * summary["mean_baseline_mae_ml"]
    assert summary["mae_difference_ci"][1] < 0
    unrelated = dose_regression(
        features, pd.Series(rng.normal(0.8, 0.1, 40), index=features.index), fold_series(labels), n_boot=300
    )
    assert unrelated.summary["mae_difference_ci"][1] > 0  # no evidence that it beats the mean


def test_compare_models_pairs_each_baseline_with_the_cnn():
    features, labels = synthetic_patients(40, seed=6)
    folds = fold_series(labels)
    rng = np.random.default_rng(6)
    cnn = pd.DataFrame(
        {
            "repeat": 0,
            "fold": folds.to_numpy(),
            "part": "test",
            "patient_id": folds.index,
            "label": labels.to_numpy(),
            "prob": np.clip(labels * 0.3 + rng.uniform(0, 0.7, 40), 0, 1),
        }
    )
    features = features.rename(columns={"signal": "hnr_db"})
    from core.baseline.models import FEATURE_SETS

    for column in FEATURE_SETS["praat"]:
        if column not in features:
            features[column] = rng.normal(0, 1, 40)
    comparison = compare_models(
        features,
        labels,
        folds,
        config=BaselineConfig(models=("logreg",), features="praat", inner_folds=3, n_boot=200),
        cnn=cnn,
    )
    summary = comparison.summary
    assert summary["best_model"] == "logreg" and set(summary["models"]) == {"logreg"}
    entry = summary["models"]["logreg"]
    assert 0 <= entry["delong_p"] <= 1 and entry["n_paired"] == 40
    assert summary["delong_p"] == entry["delong_p"]
    assert summary["cnn_pooled_auroc"] == pytest.approx(roc_auc_score(labels, cnn["prob"]))
    assert set(comparison.predictions["model"]) == {"logreg", "cnn"}
    assert comparison.feature_roc["feature"].iloc[0] == "hnr_db"


def make_fake_run(cohort_dir: Path, root: Path) -> Path:
    """A finished run folder without TensorFlow: patient folds from core.splits, noisy probabilities."""
    from core import runs
    from core.cohort import load_cohort
    from core.config import preset
    from core.metrics import fold_metrics
    from core.splits import make_folds

    cohort = load_cohort(cohort_dir)
    config = preset("quick")
    patients = cohort.patients[["patient_id", "outcome"]].rename(columns={"outcome": "label"})
    folds = make_folds(patients, config.split)
    rng = np.random.default_rng(0)
    prob = 1 / (1 + np.exp(-(patients["label"].to_numpy() * 1.5 + rng.normal(0, 1, len(patients)))))
    run_dir = runs.create_run(
        config.to_dict(),
        name="fake",
        config_hash=config.hash(),
        root=root,
        data={"fingerprint": cohort.fingerprint(), "cohort_dir": str(cohort_dir)},
        folds=[f.key for f in folds],
    )
    predictions, metrics = [], []
    for fold in folds:
        table = pd.DataFrame(
            {
                "repeat": fold.repeat,
                "fold": fold.fold,
                "part": fold.part_of(len(patients)),
                "patient_id": patients["patient_id"],
                "label": patients["label"],
                "prob": prob,
            }
        )
        table = table[table["part"] != ""]
        predictions.append(table.assign(n_segments=10))
        metrics.append(fold_metrics(table).assign(repeat=fold.repeat, fold=fold.fold, best_epoch=1))
    runs.atomic_write_csv(run_dir / "predictions_patients.csv", pd.concat(predictions))
    runs.atomic_write_csv(run_dir / "folds.csv", pd.concat(metrics))
    runs.update_manifest(run_dir, status="complete", folds_done=[f.key for f in folds])
    return run_dir


@pytest.mark.slow
def test_cli_writes_the_comparison_into_the_run_folder(demo_cohort_dir, tmp_path, capsys):
    from core.__main__ import main

    run_dir = make_fake_run(demo_cohort_dir, tmp_path / "runs")
    code = main(
        [
            "baseline",
            "--run",
            run_dir.name,
            "--runs-dir",
            str(tmp_path / "runs"),
            "--models",
            "logreg",
            "--inner-folds",
            "3",
            "--n-boot",
            "200",
            "--jobs",
            "2",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--json",
            "--quiet",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 <= summary["patient_auroc_mean"] <= 1
    assert set(summary["models"]) == {"logreg"} and 0 <= summary["delong_p"] <= 1
    assert summary["n_patients"] == 43 and summary["cnn_patient_auroc_mean"] is not None
    assert summary["dose"]["n"] == 43 and summary["dose"]["mae_ml"] > 0
    stored = load_comparison(run_dir)
    assert stored is not None and stored.summary["best_model"] == "logreg"
    assert set(stored.folds["model"]) == {"logreg", "cnn"}
    assert len(stored.features) == 43 and stored.feature_roc["auroc"].between(0.5, 1).all()
    # Folder names of the demo carry fake hospital IDs: none may reach the run folder.
    hospital_ids = {p.name[:8] for p in demo_cohort_dir.iterdir() if p.is_dir()}
    written = "".join(f.read_text(encoding="utf-8") for f in (run_dir / "baseline").iterdir())
    assert not any(h in written for h in hospital_ids)


def test_a_leaky_run_or_a_run_without_predictions_is_refused(tmp_path):
    from core import runs
    from core.baseline import compare_with_run, run_folds
    from core.config import preset, with_overrides

    config = with_overrides(preset("quick"), {"split.kind": "segment_leaky"})
    leaky = runs.create_run(
        config.to_dict(), name="leaky", config_hash=config.hash(), data={}, folds=["r0f0"], root=tmp_path
    )
    with pytest.raises(RunError, match="leaky"):
        compare_with_run(leaky, runs_root=tmp_path)
    with pytest.raises(RunError, match="no patient predictions"):
        run_folds(pd.DataFrame(), run_name="empty")
    assert load_comparison(leaky) is None


def test_resampled_aurocs_equal_sklearn_on_each_resample():
    from core.baseline.compare import resampled_aurocs

    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 30)
    score = np.round(y + rng.normal(0, 1, 30), 1)  # rounding makes ties
    draws = rng.integers(0, 30, size=(50, 30))
    draws[0] = np.flatnonzero(y == 1)[0]  # a resample of one class
    expected = [roc_auc_score(y[d], score[d]) if np.unique(y[d]).size == 2 else np.nan for d in draws]
    np.testing.assert_allclose(resampled_aurocs(y, score, draws), expected)


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
@pytest.mark.parametrize("model", ["svm", "logreg", "random_forest"])
def test_importance_equals_scikit_learns_on_the_whole_pipeline_and_skips_a_dropped_column(model):
    """Permuting after impute/scale with the midrank AUROC gives scikit-learn's own numbers."""
    from sklearn.inspection import permutation_importance

    from core.baseline.importance import fold_importance
    from core.baseline.models import baseline_pipeline

    features, labels = synthetic_patients(60, seed=3)
    rng = np.random.default_rng(3)
    for k in range(6):  # a few more noise measures, one of them with ties
        features[f"extra_{k}"] = rng.normal(0, 1, len(features)).round(1 if k == 0 else 6)
    train, test = features.index[::2], features.index[1::2]
    features["never_in_training"] = np.nan
    features.loc[test[:4], "never_in_training"] = 1.0  # only test patients have it: the imputer drops it
    pipeline, _ = baseline_pipeline(model, seed=0, n_trees=25)
    pipeline.fit(features.loc[train], labels.loc[train].to_numpy())
    x_test, y_test = features.loc[test], labels.loc[test].to_numpy()

    table = fold_importance(model, pipeline, x_test, y_test, features.columns, seed=7)
    assert list(table["feature"]) == list(features.columns)
    values = table.set_index("feature")["importance"]
    assert values["never_in_training"] == 0.0  # the model never saw it
    if model == "svm":
        expected = permutation_importance(
            pipeline, x_test, y_test, scoring="roc_auc", n_repeats=10, random_state=7
        ).importances_mean
        np.testing.assert_allclose(values.to_numpy(), expected, atol=1e-12)
        assert values.idxmax() == "signal" and values["signal"] > 0.1
    else:
        fitted = pipeline.named_steps["model"]
        own = fitted.coef_[0] if model == "logreg" else fitted.feature_importances_
        np.testing.assert_array_equal(values.drop("never_in_training").to_numpy(), own)
        assert values.abs().idxmax() == "signal"


def test_midrank_auroc_equals_roc_auc_score_with_ties():
    from core.baseline.delong import midrank_auroc

    rng = np.random.default_rng(11)
    for n in (5, 17, 80):
        y = np.r_[0, 1, rng.integers(0, 2, n - 2)]
        scores = rng.normal(y * 0.7, 1.0).round(1)  # rounded: many ties across the classes
        assert midrank_auroc(y, scores) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
        assert midrank_auroc(y, -scores) == pytest.approx(1 - roc_auc_score(y, scores), abs=1e-12)
