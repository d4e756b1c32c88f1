"""The typed Run on the real demo run: manifest, fold keys, predictions, thresholds, models, dataset."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from core.config import ExperimentConfig
from core.errors import RunError
from core.folds import FoldKey


@pytest.fixture(scope="module")
def run(demo_runs_root):
    from core.run import load_run
    from core.runs import list_runs

    return load_run(list_runs(demo_runs_root)["run_dir"].iloc[0])


@pytest.fixture(scope="module")
def cohort(demo_cohort_dir):
    from core.cohort import load_cohort

    return load_cohort(demo_cohort_dir)


def test_the_manifest_is_parsed_once_into_types(run) -> None:
    info = run.info
    assert info is run.info  # parsed once
    assert run.config == ExperimentConfig.from_dict(run.manifest["config"])
    assert run.config.hash() == info.config_hash == run.manifest["config_hash"]
    assert info.folds_done == (FoldKey(0, 0), FoldKey(0, 1), FoldKey(0, 2)) == run.fold_keys
    assert info.folds == info.folds_done and run.repeats == 1
    assert info.fingerprint == run.manifest["data"]["fingerprint"] and len(info.fingerprint) > 8
    assert run.class_names == ("well", "poor") and info.status == "complete" == run.status


def test_fold_names_only_finished_folds(run) -> None:
    assert run.fold(1) == FoldKey(0, 1) == run.fold("r0f1") == run.fold(FoldKey(0, 1))
    with pytest.raises(RunError, match="r0f7 is not finished"):
        run.fold(7)
    with pytest.raises(RunError, match="expected e.g. 'r0f2'"):
        run.fold("fold 1")


def test_predictions_and_thresholds_per_fold(run) -> None:
    stored = run.segment_predictions
    tested = []
    for key in run.fold_keys:
        test = run.predictions("segment", fold=key, part="test")
        manual = stored[(stored["fold"] == key.fold) & (stored["part"] == "test")]
        pd.testing.assert_frame_equal(test, manual)
        tested.extend(test["segment_id"])
        row = run.folds[
            (run.folds["fold"] == key.fold)
            & (run.folds["level"] == "patient")
            & (run.folds["part"] == "test")
        ]
        assert run.threshold(key, level="patient") == float(row["threshold"].iloc[0])
    # Patient folds: every segment is tested exactly once.
    assert sorted(tested) == sorted(stored["segment_id"].unique())
    patients = run.predictions("patient", part="val")
    assert set(patients["part"]) == {"val"} and "n_segments" in patients
    assert list(run.thresholds(level="segment").columns) == ["repeat", "fold", "threshold"]
    empty = dataclasses.replace(run, folds=run.folds.iloc[0:0])
    with pytest.raises(RunError, match="no patient-level threshold for fold r0f0"):
        empty.threshold(0, level="patient")


def test_the_dataset_is_the_runs_and_built_once(run, cohort, tmp_path) -> None:
    fresh = dataclasses.replace(run)  # its own dataset memo
    own = fresh.dataset(cache_dir=tmp_path / "cache")
    assert fresh.dataset(cache_dir=tmp_path / "cache") is own
    # A loaded cohort that is the run's gives the same dataset (and the same memo entry).
    assert fresh.dataset(cohort=cohort, cache_dir=tmp_path / "cache") is own
    given = dataclasses.replace(run).dataset(cohort=cohort, cache_dir=tmp_path / "cache")
    pd.testing.assert_frame_equal(given.segments, own.segments)
    np.testing.assert_array_equal(given.mel, own.mel)
    assert len(own.segments) == run.segment_predictions["segment_id"].nunique()
    manifest = {**run.manifest, "data": {**run.manifest["data"], "fingerprint": "0" * 16}}
    with pytest.raises(RunError, match="another cohort"):
        dataclasses.replace(run, manifest=manifest).dataset(cohort=cohort)


def test_a_fold_model_reproduces_its_stored_probabilities(run, cohort, tmp_path) -> None:
    key = run.fold(2)
    dataset = run.dataset(cohort=cohort, cache_dir=tmp_path / "cache")
    rows = run.predictions("segment", fold=key, part="test").sort_values("segment_id")
    ids = rows["segment_id"].to_numpy()
    prob = run.model(key).predict(dataset.mel[ids], dataset.stft[ids])
    np.testing.assert_allclose(prob, rows["prob"], atol=1e-4)


def test_compare_runs_spreads_are_the_studys_population_sd(run) -> None:
    """The Compare runs table and the run's own summary use one SD: over test folds, ddof=0."""
    from core.results import compare_runs, per_fold

    table = compare_runs([run], level="patient")
    test = per_fold(run, level="patient", part="test")
    assert table["folds"].iloc[0] == len(test) == 3
    assert table["auroc_std"].iloc[0] == pytest.approx(float(np.std(test["auroc"].to_numpy())))
    assert table["auroc_std"].iloc[0] == pytest.approx(run.summary["patient_auroc_std"], abs=1e-9)
    assert table["auroc_mean"].iloc[0] == pytest.approx(run.summary["patient_auroc_mean"], abs=1e-9)


def test_learning_curves_leave_out_what_fast_curves_did_not_compute(run) -> None:
    """With train.curves=fast the test part is NaN: no rows, so no legend entry without a line."""
    from core.figures import learning_curves as curves_figure
    from core.results import learning_curves

    full = learning_curves(run)
    assert set(full["part"]) == {"train", "val", "test"} and full["value"].notna().all()
    epochs = run.epochs.copy()
    epochs[[c for c in epochs.columns if c.startswith("test_")]] = np.nan
    fast = learning_curves(dataclasses.replace(run, epochs=epochs))
    assert set(fast["part"]) == {"train", "val"}
    kept = full[full["part"] != "test"].reset_index(drop=True)
    pd.testing.assert_frame_equal(fast, kept)
    figure = curves_figure(fast[fast["metric"] == "auroc"], label="AUROC")
    assert len(figure.data) == 2 * 3 and not any("test" in trace.name for trace in figure.data)
