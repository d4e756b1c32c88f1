"""The single-patient view on the real demo run: stored predictions, facts, recordings, explanation."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pandas as pd
import pytest

from core import patient
from core.errors import RunError


@pytest.fixture(scope="module")
def run(demo_runs_root):
    from core.run import load_run
    from core.runs import list_runs

    return load_run(list_runs(demo_runs_root)["run_dir"].iloc[0])


@pytest.fixture(scope="module")
def cohort(demo_cohort_dir):
    from core.cohort import load_cohort

    return load_cohort(demo_cohort_dir)


def test_every_patient_has_exactly_its_stored_test_predictions(run):
    stored = run.patient_predictions
    folds = run.folds
    ids = patient.patient_ids(run)
    assert ids == sorted(stored.loc[stored["part"] == "test", "patient_id"].unique())
    for patient_id in ids:
        table = patient.fold_predictions(run, patient_id)
        mine = stored[(stored["patient_id"] == patient_id) & (stored["part"] == "test")].sort_values(
            ["repeat", "fold"]
        )
        np.testing.assert_allclose(table["prob"], mine["prob"])
        assert (table["part"] == "test").all()
        assert list(table["n_segments"]) == list(mine["n_segments"])
        for row in table.itertuples():
            expected = folds[
                (folds["repeat"] == row.repeat)
                & (folds["fold"] == row.fold)
                & (folds["level"] == "patient")
                & (folds["part"] == "test")
            ]["threshold"].iloc[0]
            assert row.threshold == expected
            assert row.predicted == ("poor" if row.prob >= expected else "well")
            assert row.fold_key == f"r{row.repeat}f{row.fold}"


def test_the_model_that_tested_a_patient_never_trained_on_them(run):
    segments = run.segment_predictions
    for patient_id in patient.patient_ids(run)[:8]:
        for row in patient.fold_predictions(run, patient_id).itertuples():
            fold = segments[
                (segments["repeat"] == row.repeat)
                & (segments["fold"] == row.fold)
                & (segments["patient_id"] == patient_id)
            ]
            assert set(fold["part"]) == {"test"}


def test_probability_mean_and_spread_include_validation_models_on_request(run):
    stored = run.patient_predictions
    with_val = stored[stored["part"] == "val"]["patient_id"].unique()
    patient_id = sorted(with_val)[0]
    test_only = patient.patient_probability(run, patient_id)
    both = patient.patient_probability(run, patient_id, include_validation=True)
    mine = stored[(stored["patient_id"] == patient_id) & stored["part"].isin(["test", "val"])]
    assert both.n_models == len(mine) > test_only.n_models
    assert both.mean == pytest.approx(mine["prob"].mean())
    assert both.sd == pytest.approx(mine["prob"].std(ddof=0))
    assert (both.low, both.high) == (pytest.approx(mine["prob"].min()), pytest.approx(mine["prob"].max()))
    assert list(both.table["part"]) == ["test"] + ["val"] * (len(mine) - 1)
    assert both.n_poor == int((both.table["prob"] >= both.table["threshold"]).sum())
    assert both.label == int(mine["label"].iloc[0])
    assert f"{both.mean:.2f}" in both.text and f"{both.n_models} fold models" in both.text
    assert "no spread" in test_only.text


def test_unknown_patient_is_a_clear_error(run, cohort):
    with pytest.raises(RunError, match="P99"):
        patient.fold_predictions(run, "P99")
    with pytest.raises(RunError, match="P99"):
        patient.patient_facts(cohort, "P99")


def test_facts_are_the_cohort_row_and_pseudonymous(cohort):
    row = cohort.patients.iloc[6]
    facts = dict(zip(*patient.patient_facts(cohort, row["patient_id"]).T.values, strict=True))
    assert facts["Patient"] == row["patient_id"]
    assert facts["Age (years)"] == f"{row['age']:.0f}"
    assert facts["Recorded outcome"] == {0: "well", 1: "poor"}[int(row["outcome"])]
    assert facts["Recordings"] == str(int(row["n_recordings"]))
    raw = set(cohort._identifiers)
    assert raw and not any(
        value in raw or any(r in value for r in raw if len(r) > 3) for value in facts.values()
    )


def test_recordings_pre_op_first_in_vowel_order(cohort):
    patient_id = cohort.patients["patient_id"].iloc[0]
    table = patient.patient_recordings(cohort, patient_id)
    assert len(table) == (cohort.recordings["patient_id"] == patient_id).sum()
    assert list(table["phase"]) == ["pre"] * 4 + ["post"] * 4
    assert list(table["vowel"][:4]) == ["A", "I", "U", "E"]
    assert "source" not in table.columns


def test_typical_segment_is_nearest_the_mean():
    segments = pd.DataFrame({"segment_id": [4, 5, 6, 7], "prob": [0.1, 0.5, 0.45, 0.9]})
    assert patient.typical_segment(segments) == 5  # mean 0.4875: 0.5 is 0.0125 away, 0.45 is 0.0375
    ties = pd.DataFrame({"segment_id": [9, 5, 3, 7], "prob": [0.2, 0.4, 0.6, 0.8]})
    assert patient.typical_segment(ties) == 3  # 0.4 and 0.6 are equally near 0.5: the lower id


def test_run_dataset_refuses_another_cohort(run, cohort):
    manifest = {**run.manifest, "data": {**run.manifest["data"], "fingerprint": "0" * 16}}
    with pytest.raises(RunError, match="another cohort"):
        dataclasses.replace(run, manifest=manifest).dataset(cohort=cohort)


@pytest.mark.slow
def test_patient_view_explains_with_the_fold_that_held_the_patient_out(run, cohort, tmp_path):
    from core.explain.store import ExplainStore
    from core.run import load_run

    # A private copy, so explanations cached by other tests cannot change which path is taken.
    copy = shutil.copytree(
        run.path, tmp_path / "runs" / run.path.name, ignore=shutil.ignore_patterns("explain")
    )
    run = load_run(copy)
    patient_id = patient.patient_ids(run)[3]
    probability = patient.patient_probability(run, patient_id)
    key = patient.explain_fold(run, patient_id)
    threshold = probability.table.loc[probability.table["fold_key"] == key, "threshold"].iloc[0]
    explainer = patient.fold_explainer(run, key, cohort=cohort, cache_dir=tmp_path / "cache")
    explanation = patient.explain_patient(explainer, patient_id, threshold=float(threshold))
    row = probability.table.iloc[0]
    assert explanation.fold_key == row["fold_key"] and explanation.threshold == row["threshold"]
    stored = run.segment_predictions
    mine = stored[
        (stored["repeat"] == row["repeat"])
        & (stored["fold"] == row["fold"])
        & (stored["patient_id"] == patient_id)
        & (stored["part"] == "test")
    ].sort_values("segment_id")
    np.testing.assert_allclose(explanation.segments.sort_values("segment_id")["prob"], mine["prob"])
    # The summary judges the patient's mean segment probability, i.e. the stored patient probability.
    assert explanation.summary.facts["prob"] == pytest.approx(row["prob"], abs=1e-6)
    assert f"patient {patient_id}" in explanation.summary.text
    distance = (mine["prob"] - mine["prob"].mean()).abs()
    assert explanation.segment_id == int(mine["segment_id"].iloc[int(np.argmin(distance.to_numpy()))])
    size = run.manifest["config"]["preprocess"]["spectrogram"]["image_size"]
    for image, heat in (
        (explanation.mel, explanation.heatmap_mel),
        (explanation.stft, explanation.heatmap_stft),
    ):
        assert image.shape == heat.shape == (size, size) and image.dtype == np.uint8
        assert 0.0 <= heat.min() and heat.max() <= 1.0
    assert explanation.delta.min() >= -1.0 and explanation.delta.max() <= 1.0
    # No fold-wide table was cached, so only this patient's segments were computed and stored.
    assert explanation.source == "computed for this patient"
    names = set(ExplainStore(run.path).entries()["name"])
    assert {"patient_masking", "patient_occlusion", "maps_gradcam"} <= names
    facts, recordings = (
        patient.patient_facts(cohort, patient_id),
        patient.patient_recordings(cohort, patient_id),
    )
    assert facts["value"].iloc[0] == patient_id and len(recordings) == 8
