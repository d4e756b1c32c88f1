"""Patient-grouped folds, inner validation, repeats, the leaky split and the leakage guard."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import SplitConfig
from core.errors import ConfigError, TrainingError
from core.splits import Fold, assert_no_leakage, labelled_patients, make_folds, split_label


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


# --------------------------------------------------- split.patients: folds over the cohort's patients


def fold_digest(folds: list[Fold]) -> str:
    digest = hashlib.sha256()
    for fold in folds:
        for rows in (fold.train, fold.val, fold.test):
            digest.update(rows.astype("<i8").tobytes() + b"|")
    return digest.hexdigest()


def uneven_table() -> pd.DataFrame:
    """46 patients (17 well, 26 poor, 3 unlabelled), 1..11 segments each, rows shuffled."""
    per_patient = np.random.default_rng(7).integers(1, 12, size=46).tolist()
    table = segment_table([0] * 17 + [1] * 26 + [None] * 3, per_patient)
    return table.sample(frac=1, random_state=3).reset_index(drop=True)


def test_default_split_draws_exactly_the_folds_it_drew_before_the_cohort_option() -> None:
    segments = uneven_table()
    assert len(segments) == 308
    folds = make_folds(segments, SplitConfig(repeats=2))
    # sha256 of every fold's rows, computed by make_folds before split.patients existed
    assert fold_digest(folds) == "938c5d6f03b1520b55d81c1cb0cfda9a0f565f91df6205fa66b4f4b56e5da046"
    explicit = make_folds(segments, SplitConfig(repeats=2, patients="with_segments"), patients=segments[:0])
    assert fold_digest(explicit) == fold_digest(folds)  # the table is ignored unless asked for
    assert SplitConfig() == SplitConfig(patients="with_segments")


def part_map(segments: pd.DataFrame, fold: Fold) -> dict[str, str]:
    """patient -> part of one fold, from its segment rows; asserts a patient has one part."""
    parts = fold.part_of(len(segments))
    pairs = {(p, part) for p, part in zip(segments["patient_id"], parts, strict=True) if part}
    mapping = dict(pairs)
    assert len(mapping) == len(pairs)
    return mapping


def cohort_folds_fixture() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The study-like table, its patient table, and a copy without the rows of 6 patients."""
    full = study_like()
    patients = labelled_patients(full)[["patient_id", "label"]]
    gone = ["P00", "P05", "P16", "P20", "P31", "P42"]  # 3 well, 3 poor: no segment of this vowel
    return full, patients, full[~full["patient_id"].isin(gone)].reset_index(drop=True)


def test_cohort_folds_give_every_cohort_patient_the_part_it_has_on_the_full_table() -> None:
    full, patients, partial = cohort_folds_fixture()
    config = SplitConfig(n_folds=3, repeats=2, patients="cohort")
    on_full = make_folds(full, config, patients=patients)
    on_partial = make_folds(partial, config, patients=patients)
    # the full table holds every cohort patient: the cohort folds are its ordinary folds
    assert fold_digest(on_full) == fold_digest(make_folds(full, SplitConfig(n_folds=3, repeats=2)))
    missing = set(full["patient_id"]) - set(partial["patient_id"])
    assert len(missing) == 6
    for whole, part in zip(on_full, on_partial, strict=True):
        assert part.key == whole.key and not part.leaky
        assert_no_leakage(partial, part)
        whole_map, partial_map = part_map(full, whole), part_map(partial, part)
        assert set(whole_map) == set(patients["patient_id"])  # every cohort patient in one part
        assert partial_map == {p: side for p, side in whole_map.items() if p not in missing}
        rows = np.concatenate([part.train, part.val, part.test])
        assert np.array_equal(np.sort(rows), np.arange(len(partial)))  # every segment goes with its patient
        for side in ("train", "val", "test"):  # fold sizes in patients: those of the full table
            n_whole = sum(1 for v in whole_map.values() if v == side)
            n_partial = sum(1 for p, v in whole_map.items() if v == side and p in missing)
            assert sum(1 for v in partial_map.values() if v == side) == n_whole - n_partial
    # drawn over its own patients, the partial table gets other folds: the maps would disagree
    own = make_folds(partial, SplitConfig(n_folds=3, repeats=2))
    assert any(part_map(partial, a) != part_map(partial, b) for a, b in zip(own, on_partial, strict=True))


def test_cohort_folds_need_a_table_that_agrees_with_the_segments() -> None:
    full, patients, partial = cohort_folds_fixture()
    config = SplitConfig(n_folds=3, patients="cohort")
    with pytest.raises(TrainingError, match="needs the cohort's labelled patient table"):
        make_folds(partial, config)
    with pytest.raises(TrainingError, match=r"patients \['P01'\] have segments but are not in"):
        make_folds(partial, config, patients=patients[patients["patient_id"] != "P01"])
    relabelled = patients.assign(label=np.where(patients["patient_id"] == "P02", 1, patients["label"]))
    with pytest.raises(TrainingError, match=r"patients \['P02'\] carry another label"):
        make_folds(partial, config, patients=relabelled)
    with pytest.raises(TrainingError, match="twice"):
        make_folds(partial, config, patients=pd.concat([patients, patients[:1]]))
    with pytest.raises(ConfigError, match="expected split.kind='patient'"):
        SplitConfig(kind="segment_leaky", patients="cohort").validate()
    with pytest.raises(ConfigError, match="expected with_segments or cohort"):
        SplitConfig(patients="all").validate()
    assert [split_label(c) for c in (SplitConfig(), SplitConfig(patients="cohort"))] == [
        "patient",
        "patient (cohort folds)",
    ]
    assert split_label(SplitConfig(kind="segment_leaky")) == "segment-level (leaky)"


def test_cohort_folds_refuse_a_fold_whose_validation_or_test_part_lacks_this_runs_segments() -> None:
    full, patients, _ = cohort_folds_fixture()
    config = SplitConfig(n_folds=3, patients="cohort")
    fold = make_folds(full, config, patients=patients)[1]
    ids, labels = full["patient_id"].to_numpy(), full["label"].to_numpy()
    val_well = sorted(set(ids[fold.val][labels[fold.val] == 0]))
    # every well validation patient of fold r0f1 lacks the vowel: validation holds one class
    no_val_well = full[~full["patient_id"].isin(val_well)].reset_index(drop=True)
    n_poor = int((labels[fold.val] == 1).sum())
    n_val_poor = len(set(ids[fold.val][labels[fold.val] == 1]))
    with pytest.raises(
        TrainingError,
        match=rf"fold r0f1: its validation part holds 0 segment\(s\) of label 0 and {n_poor} of label 1 "
        rf"\({n_val_poor} patient\(s\)\) in this run; expected both classes",
    ):
        make_folds(no_val_well, config, patients=patients)
    # every test patient of fold r0f2 lacks it: nothing to test
    last = make_folds(full, config, patients=patients)[2]
    no_test = full[~full["patient_id"].isin(set(ids[last.test]))].reset_index(drop=True)
    with pytest.raises(TrainingError, match="fold r0f2: its test part holds 0 segment.*at least one segment"):
        make_folds(no_test, config, patients=patients)
    # a test part of one class is allowed (its AUROC is NaN, core.metrics); folds stay the same
    test_well = set(ids[last.test][labels[last.test] == 0])
    one_class = full[~full["patient_id"].isin(test_well)].reset_index(drop=True)
    kept = make_folds(one_class, config, patients=patients)[2]
    assert set(one_class["label"].to_numpy()[kept.test]) == {1}


@settings(max_examples=30, deadline=None, database=None)
@given(
    n_well=st.integers(5, 14),
    n_poor=st.integers(5, 14),
    gone=st.sets(st.integers(0, 27), max_size=8),
    seed=st.integers(0, 10_000),
    n_folds=st.integers(2, 4),
)
def test_property_cohort_folds_keep_each_patients_part_or_refuse(n_well, n_poor, gone, seed, n_folds) -> None:
    full = segment_table([0] * n_well + [1] * n_poor, [3] * (n_well + n_poor))
    patients = labelled_patients(full)[["patient_id", "label"]]
    missing = {f"P{p:02d}" for p in gone}
    partial = full[~full["patient_id"].isin(missing)].reset_index(drop=True)
    config = SplitConfig(n_folds=n_folds, seed=seed, val_ratio=0.3, patients="cohort")
    on_full = make_folds(full, SplitConfig(n_folds=n_folds, seed=seed, val_ratio=0.3))  # not checked
    try:
        on_partial = make_folds(partial, config, patients=patients)
    except TrainingError as exc:  # refused only when a part really lacks what training needs
        assert "expected both classes" in str(exc) or "expected at least one segment" in str(exc)
        return
    for whole, part in zip(on_full, on_partial, strict=True):
        assert_no_leakage(partial, part)
        expected = {p: v for p, v in part_map(full, whole).items() if p not in missing}
        assert part_map(partial, part) == expected
        for rows in (part.train, part.val):
            assert set(partial["label"].to_numpy()[rows]) == {0, 1}
        assert len(part.test) > 0


def test_splits_metrics_runs_and_jobs_import_without_tensorflow() -> None:
    code = (
        "import sys, core.splits, core.metrics, core.runs, core.jobs; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
