"""Explanations of a real stored run: the fold API, the cache, and ``python -m core explain``.

One tiny run (demo cohort, small CNN, 64 px, 2 folds, 1 epoch) is trained once for the
module; everything else reads it.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import tensorflow  # noqa: F401  (a hard requirement: imported plainly, never skipped)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(demo_cohort_dir, tmp_path_factory):
    from core.config import preset, with_overrides
    from core.run_lifecycle import start_run

    root = tmp_path_factory.mktemp("runs")
    cache = tmp_path_factory.mktemp("cache")
    config = with_overrides(
        preset("quick"),
        {"split.n_folds": 2, "train.finetune_epochs": 1, "preprocess.spectrogram.image_size": 64},
    )
    run_dir = start_run(demo_cohort_dir, config, name="tiny", root=root, cache_dir=cache)
    return run_dir, root, cache


@pytest.fixture(scope="module")
def fold(tiny_run):
    from core.explain.fold import FoldExplainer, load_fold

    run_dir, _, cache = tiny_run
    return FoldExplainer(load_fold(run_dir, 1, cache_dir=cache))


def test_fold_data_matches_the_run(fold, tiny_run):
    from core.runs import load_run

    data = fold.data
    run = load_run(tiny_run[0])
    preds = run.segment_predictions
    test = preds[(preds["fold"] == 1) & (preds["part"] == "test")]
    assert sorted(data.predictions["segment_id"]) == sorted(test["segment_id"])
    assert data.mel.shape[1:] == (64, 64, 3)
    # The rebuilt images give the stored test probabilities back.
    ids = data.predictions["segment_id"].to_numpy()[:8]
    prob = data.model.predict(np.asarray(data.mel[ids]), np.asarray(data.stft[ids]))
    np.testing.assert_allclose(prob, data.predictions["prob"].to_numpy()[:8], atol=1e-5)
    assert not set(data.train_ids) & set(data.predictions["segment_id"])


def test_cases_maps_and_cache(fold):
    cases = fold.cases(k=3)
    assert set(cases["cell"]) <= {"TP", "TN", "FP", "FN"} and (cases.groupby("cell").size() <= 3).all()
    ids = cases["segment_id"].drop_duplicates().to_numpy()[:4]
    maps = fold.maps("gradcam", ids)
    assert maps["heatmap_mel"].shape == (len(ids), 64, 64) and maps["delta"].shape == (len(ids), 64, 64)
    assert maps["delta"].min() >= -1 and maps["delta"].max() <= 1
    np.testing.assert_array_equal(maps["segment_id"], ids)
    stored = fold.store.entries(fold.fold)
    assert (stored["name"] == "maps_gradcam").sum() >= len(ids)
    files = sorted(fold.store.fold_dir(fold.fold).glob("maps_gradcam-*.npz"))
    stamps = [f.stat().st_mtime_ns for f in files]
    again = fold.maps("gradcam", ids[::-1])  # cached, in the order asked
    np.testing.assert_array_equal(again["segment_id"], ids[::-1])
    np.testing.assert_array_equal(again["heatmap_stft"][::-1], maps["heatmap_stft"])
    assert [f.stat().st_mtime_ns for f in files] == stamps


def test_one_segment_occlusion_needs_no_fold_table(tiny_run):
    from core.explain.fold import FoldExplainer, load_fold

    run_dir, _, cache = tiny_run
    fresh = FoldExplainer(load_fold(run_dir, 0, cache_dir=cache))
    segment = int(fresh.data.predictions["segment_id"].iloc[0])
    alone = fresh.segment_occlusion(segment)
    assert alone.shape[0] == 2 * 20 and set(alone["segment_id"]) == {segment}
    names = set(fresh.store.entries(fresh.fold)["name"])
    assert "occlusion_segment" in names and "occlusion" not in names  # the fold was not computed
    summary = fresh.occlusion_summary(segment_id=segment)
    assert (summary["n_segments"] == 1).all()
    full = fresh.occlusion()
    from_fold = full[full["segment_id"] == segment].reset_index(drop=True)
    np.testing.assert_allclose(alone["delta"].to_numpy(), from_fold["delta"].to_numpy(), atol=1e-6)
    pd.testing.assert_frame_equal(fresh.segment_occlusion(segment), from_fold, check_dtype=False)


def test_a_scope_occludes_only_its_own_segments(tiny_run, tmp_path):
    from core.explain.fold import FoldExplainer, load_fold
    from core.explain.store import ExplainStore

    run_dir, _, cache = tiny_run
    data = load_fold(run_dir, 0, cache_dir=cache)
    ex = FoldExplainer(data, store=ExplainStore(tmp_path / "a"))
    preds = data.predictions
    patient = preds["patient_id"].value_counts().index[0]
    ids = preds.loc[preds["patient_id"] == patient, "segment_id"].to_numpy(dtype=int)
    calls: list[tuple[int, int]] = []
    summary = ex.occlusion_summary(
        patient_id=patient, on_segments=lambda done, total: calls.append((done, total))
    )
    assert calls[-1] == (len(ids), len(ids)) and (summary["n_segments"] == len(ids)).all()
    entries = ex.store.entries(ex.fold)
    assert set(entries["name"]) == {"occlusion_segment"} and len(entries) == len(ids)
    # Occluded in one batched group, a segment gives what it gives alone.
    alone = FoldExplainer(data, store=ExplainStore(tmp_path / "b")).segment_occlusion(int(ids[-1]))
    grouped = ex.occlusion_of([int(ids[-1])])
    np.testing.assert_allclose(grouped["delta"].to_numpy(), alone["delta"].to_numpy(), atol=1e-6)
    # The fold's table then occludes only the other segments, and agrees with the patient's rows.
    calls.clear()
    full = ex.occlusion(on_segments=lambda done, total: calls.append((done, total)))
    assert calls[-1][1] == preds.shape[0] - len(ids)
    assert sorted(full["segment_id"].unique()) == sorted(preds["segment_id"])
    mine = ex.occlusion_of(ids[::-1])
    assert mine["segment_id"].drop_duplicates().tolist() == ids[::-1].tolist()


def test_masking_occlusion_and_summary(fold):
    masking = fold.masking()
    assert masking.shape[0] == fold.data.predictions.shape[0]
    row = fold.masking_summary().iloc[0]
    assert row["mel_branch_mean"] == pytest.approx(masking["delta_mel"].mean())
    mean_based = fold.masking(baseline="mean")
    assert not np.allclose(mean_based["prob_mel_masked"], masking["prob_mel_masked"])
    occlusion = fold.occlusion()
    n = fold.data.predictions.shape[0]
    assert occlusion.shape[0] == n * 2 * 20
    assert occlusion["low_hz"].dropna().min() == 0.0 and occlusion["high_hz"].max() == 8000.0
    patient = fold.data.predictions["patient_id"].iloc[0]
    by_patient = fold.occlusion_summary(patient_id=patient)
    segments = (fold.data.predictions["patient_id"] == patient).sum()
    assert (by_patient["n_segments"] == segments).all() and by_patient["scope"].iloc[
        0
    ] == f"patient {patient}"
    whole = fold.occlusion_summary()
    assert (whole["n_segments"] == n).all()
    summary = fold.summary(patient_id=patient)
    assert f"over {segments} segments" in summary.text
    assert summary.facts["prob"] == pytest.approx(
        fold.data.predictions.loc[fold.data.predictions["patient_id"] == patient, "prob"].mean()
    )


def test_faithfulness_table(fold):
    ids = fold.cases(k=3)["segment_id"].to_numpy()[:2]
    mel, stft = np.asarray(fold.data.mel[ids]), np.asarray(fold.data.stft[ids])
    before = fold.data.model.predict(mel, stft)
    table = fold.faithfulness("gradcam", ids, steps=5, random_orders=1)
    # The randomisation check permuted the model's weights and put them back.
    np.testing.assert_array_equal(fold.data.model.predict(mel, stft), before)
    assert table.shape[0] == 2 * len(ids)
    assert {"deletion_auc", "insertion_auc", "deletion_gain", "spearman"} <= set(table.columns)
    assert table[["deletion_auc", "insertion_auc"]].apply(lambda c: c.between(0, 1)).all().all()
    overview = fold.faithfulness_overview(["gradcam", "saliency"], ids, steps=5, random_orders=1)
    assert overview.shape[0] == 4 and set(overview["method"]) == {"gradcam", "saliency"}
    gradcam = overview[overview["method"] == "gradcam"].set_index("branch")
    mel_rows = table[table["branch"] == "mel"]
    assert gradcam.loc["mel", "deletion_gain"] == pytest.approx(mel_rows["deletion_gain"].mean())
    assert gradcam.loc["mel", "spearman_randomised"] == pytest.approx(
        mel_rows["spearman"].mean(), nan_ok=True
    )


def test_cli_precomputes_into_the_run_folder(tiny_run, capsys):
    from core.__main__ import main

    run_dir, root, cache = tiny_run
    code = main(
        [
            "explain",
            "--run",
            run_dir.name,
            "--runs-dir",
            str(root),
            "--cache-dir",
            str(cache),
            "--fold",
            "0",
            "--k",
            "2",
            "--methods",
            "gradcam,eigencam",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["folds"][0]["fold"] == "r0f0" and out["folds"][0]["methods"] == ["gradcam", "eigencam"]
    folder = run_dir / "explain" / "fold0"
    names = {p.name.split("-")[0] for p in folder.glob("*.csv")} | {
        p.name.split("-")[0] for p in folder.glob("*.npz")
    }
    assert {"cases", "maps_gradcam", "maps_eigencam", "masking", "occlusion"} <= names
    masking = pd.read_csv(next(folder.glob("masking-*.csv")))
    assert out["folds"][0]["masking"]["mel_branch_mean"] == pytest.approx(masking["delta_mel"].mean())
    from core.explain import cached_masking_table

    table = cached_masking_table(run_dir)
    assert "r0f0" in set(table["fold_key"])
    row = table[table["fold_key"] == "r0f0"].iloc[0]
    assert row["mel_branch_mean"] == pytest.approx(masking["delta_mel"].mean())
    assert main(["explain", "--run", run_dir.name, "--runs-dir", str(root), "--fold", "7"]) == 2
