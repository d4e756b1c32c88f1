"""Patient-grouped folds, inner validation, repeats, the leaky split and the leakage guard."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import SplitConfig
from core.errors import TrainingError
from core.splits import Fold, assert_no_leakage, labelled_patients, make_folds


def segment_table(labels: list[int | None], per_patient: list[int]) -> pd.DataFrame:
    rows = []
    for p, (label, n) in enumerate(zip(labels, per_patient, strict=True)):
        rows += [{"patient_id": f"P{p:02d}", "label": label} for _ in range(n)]
    table = pd.DataFrame(rows)
    table["label"] = table["label"].astype("Int64")
    return table


def study_like() -> pd.DataFrame:
    """43 patients, 17 well / 26 poor, 10 segments each (the study's cohort shape)."""
    return segment_table([0] * 17 + [1] * 26, [10] * 43)


def test_patient_folds_cover_every_patient_once_with_stratified_tests() -> None:
    segments = study_like()
    folds = make_folds(segments, SplitConfig())
    assert len(folds) == 5 and all(not f.leaky for f in folds)
    test_patients = [set(segments["patient_id"].to_numpy()[f.test]) for f in folds]
    assert sum(len(t) for t in test_patients) == 43
    assert set().union(*test_patients) == set(segments["patient_id"])
    labels = segments["label"].to_numpy()
    for fold in folds:
        poor_share = labels[fold.test].mean()
        assert abs(poor_share - 26 / 43) < 0.15
        assert len(fold.train) + len(fold.val) + len(fold.test) == len(segments)


def test_inner_validation_is_15_percent_of_train_patients_with_both_classes() -> None:
    segments = study_like()
    patients = segments["patient_id"].to_numpy()
    labels = segments["label"].to_numpy()
    for fold in make_folds(segments, SplitConfig(val_ratio=0.15)):
        n_val = len(set(patients[fold.val]))
        n_outer_train = len(set(patients[np.concatenate([fold.train, fold.val])]))
        assert n_val == round(0.15 * n_outer_train)
        assert set(labels[fold.val]) == {0, 1}


def test_same_seed_same_folds_and_repeats_use_new_seeds() -> None:
    segments = study_like()
    a = make_folds(segments, SplitConfig(seed=42))
    b = make_folds(segments, SplitConfig(seed=42))
    assert all(
        np.array_equal(x.test, y.test) and np.array_equal(x.val, y.val) for x, y in zip(a, b, strict=True)
    )
    repeated = make_folds(segments, SplitConfig(seed=42, repeats=3))
    assert len(repeated) == 15
    assert [f.seed for f in repeated[::5]] == [42, 43, 44]
    assert [f.key for f in repeated[:2]] == ["r0f0", "r0f1"]
    assert not np.array_equal(repeated[0].test, repeated[5].test)


def test_unlabelled_segments_are_left_out() -> None:
    segments = segment_table([0, 1, None, 0, 1, 0, 1, 0, 1, 0, 1, 0], [3] * 12)
    folds = make_folds(segments, SplitConfig(n_folds=2, val_ratio=0.3))
    unlabelled = set(np.flatnonzero(segments["label"].isna().to_numpy()))
    for fold in folds:
        assert unlabelled.isdisjoint(np.concatenate([fold.train, fold.val, fold.test]))


def test_leaky_split_is_labelled_and_mixes_patients() -> None:
    segments = study_like()
    folds = make_folds(segments, SplitConfig(kind="segment_leaky"))
    assert all(f.leaky for f in folds)
    patients = segments["patient_id"].to_numpy()
    assert set(patients[folds[0].train]) & set(patients[folds[0].test])
    with pytest.raises(TrainingError, match="are in both"):
        assert_no_leakage(segments, folds[0])


def test_guard_rejects_a_patient_on_two_sides() -> None:
    segments = segment_table([0, 1, 0, 1], [2, 2, 2, 2])
    fold = Fold(0, 0, 42, train=np.array([0, 2, 4]), val=np.array([6]), test=np.array([1, 3, 5, 7]))
    with pytest.raises(TrainingError, match="P00"):
        assert_no_leakage(segments, fold)


def test_too_few_patients_of_a_class_is_an_error() -> None:
    segments = segment_table([0, 0, 1, 1, 1, 1, 1, 1], [2] * 8)
    with pytest.raises(TrainingError, match="at least n_folds=5"):
        make_folds(segments, SplitConfig())


def test_mixed_labels_within_a_patient_is_an_error() -> None:
    segments = segment_table([0, 1], [2, 2])
    segments.loc[0, "label"] = 1
    with pytest.raises(TrainingError, match="two different labels"):
        labelled_patients(segments)


@settings(max_examples=40, deadline=None, database=None)
@given(
    n_well=st.integers(5, 14),
    n_poor=st.integers(5, 14),
    per_patient=st.lists(st.integers(1, 6), min_size=28, max_size=28),
    seed=st.integers(0, 10_000),
    n_folds=st.integers(2, 5),
    val_ratio=st.floats(0.1, 0.4),
)
def test_property_patient_folds_never_leak(n_well, n_poor, per_patient, seed, n_folds, val_ratio) -> None:
    labels = [0] * n_well + [1] * n_poor
    segments = segment_table(labels, per_patient[: len(labels)])
    folds = make_folds(segments, SplitConfig(n_folds=n_folds, seed=seed, val_ratio=val_ratio))
    patients = segments["patient_id"].to_numpy()
    tested = []
    for fold in folds:
        assert_no_leakage(segments, fold)
        rows = np.concatenate([fold.train, fold.val, fold.test])
        assert np.array_equal(np.sort(rows), np.arange(len(segments)))
        tested += list(set(patients[fold.test]))
    assert sorted(tested) == sorted(set(patients))


def test_splits_metrics_runs_and_jobs_import_without_tensorflow() -> None:
    code = (
        "import sys, core.splits, core.metrics, core.runs, core.jobs; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
