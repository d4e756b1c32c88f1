"""One model per vowel fused at patient level: the per-vowel sweep, the fusion math, refusals, the table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from core.config import SplitConfig
from core.errors import ConfigError, CoreError, RunError
from core.sweep import SweepSpec, configurations, sweep_runs
from core.vowel_fusion import (
    VowelFusionError,
    fuse_runs,
    fuse_tables,
    per_vowel_settings,
    sweep_vowel_groups,
)

REPO = Path(__file__).resolve().parents[1]


def test_per_vowel_settings_give_one_configuration_per_vowel_and_one_over_all() -> None:
    settings = per_vowel_settings("a, I,U")
    cohort = {"split.patients": "cohort"}  # every member: folds over the cohort's patients
    assert settings == {
        "vowel_A": {"preprocess.selection.vowels": ["A"], **cohort},
        "vowel_I": {"preprocess.selection.vowels": ["I"], **cohort},
        "vowel_U": {"preprocess.selection.vowels": ["U"], **cohort},
        "vowels_AIU": {"preprocess.selection.vowels": ["A", "I", "U"], **cohort},
    }
    grid = configurations(SweepSpec(settings=settings, repeats=1, common={"split.n_folds": 3}))
    assert [label for label, _ in grid] == [
        "quick-small_cnn-dual-vowel_A",
        "quick-small_cnn-dual-vowel_I",
        "quick-small_cnn-dual-vowel_U",
        "quick-small_cnn-dual-vowels_AIU",
    ]
    assert [c.preprocess.selection.vowels for _, c in grid] == [("A",), ("I",), ("U",), ("A", "I", "U")]
    assert {c.split for _, c in grid} == {SplitConfig(n_folds=3, patients="cohort")}  # one patient map
    for bad in ("A", "A,A", "A,O", ""):
        with pytest.raises(ConfigError, match="per-vowel"):
            per_vowel_settings(bad)


def _table(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["repeat", "fold", "part", "patient_id", "label", "prob"])


def test_fusion_averages_over_the_vowels_a_patient_has_and_thresholds_on_validation() -> None:
    # fold 0: val P1 (poor), P2 (well), P5 (poor, no /i/); test P3 (poor), P4 (well); train P6
    a = _table(
        [
            (0, 0, "val", "P1", 1, 0.8),
            (0, 0, "val", "P2", 0, 0.1),
            (0, 0, "val", "P5", 1, 0.3),
            (0, 0, "test", "P3", 1, 0.6),
            (0, 0, "test", "P4", 0, 0.7),
            (0, 0, "train", "P6", 0, 0.1),
        ]
    )
    i = _table(
        [
            (0, 0, "val", "P1", 1, 0.6),
            (0, 0, "val", "P2", 0, 0.1),
            (0, 0, "test", "P3", 1, 0.9),
            (0, 0, "test", "P4", 0, 0.9),
            (0, 0, "train", "P6", 0, 0.4),
        ]
    )
    patients, folds = fuse_tables({"A": a, "I": i}, threshold_steps=11)
    fused = patients.set_index("patient_id")
    assert fused.loc["P1", "prob"] == pytest.approx(0.7) and fused.loc["P2", "prob"] == pytest.approx(0.1)
    assert fused.loc["P5", "prob"] == pytest.approx(0.3) and fused.loc["P5", "n_vowels"] == 1
    assert fused.loc["P5", "vowels"] == "A" and fused.loc["P3", "vowels"] == "A+I"
    assert fused.loc["P3", "prob"] == pytest.approx(0.75) and fused.loc["P4", "prob"] == pytest.approx(0.8)
    assert "P6" not in fused.index  # train patients are not fused
    val = folds[folds["part"] == "val"].iloc[0]
    test = folds[folds["part"] == "test"].iloc[0]
    assert set(folds["level"]) == {"patient"}
    # val: poor 0.7 and 0.3 above well 0.1 -> AUROC 1; thresholds 0, .1, ..., 1: at 0 and 0.1 all three
    # are positive (tp 2, fp 1: F1 0.8), at 0.2 only the poor ones (F1 1): 0.2, the lowest of the best
    assert val["auroc"] == pytest.approx(1.0) and val["threshold"] == pytest.approx(0.2)
    assert (val["tp"], val["fp"], val["n"]) == (2, 0, 3)
    # test at the validation threshold 0.2: poor P3 0.75 below well P4 0.8 (AUROC 0), both positive
    assert test["auroc"] == pytest.approx(0.0) and test["threshold"] == pytest.approx(0.2)
    assert (test["tp"], test["fp"], test["tn"], test["fn"]) == (1, 1, 0, 0)
    assert test["specificity"] == 0.0 and test["acc"] == pytest.approx(0.5)


def test_fusion_refuses_a_patient_in_two_parts_of_one_fold() -> None:
    a = _table([(0, 0, "val", "P1", 1, 0.8), (0, 0, "test", "P2", 0, 0.3)])
    i = _table([(0, 0, "train", "P1", 1, 0.6), (0, 0, "test", "P2", 0, 0.1)])
    with pytest.raises(VowelFusionError, match="1 patient.*different parts.*repeat 0, fold 0") as info:
        fuse_tables({"A": a, "I": i})
    assert isinstance(info.value, CoreError) and isinstance(info.value, RunError)


# ------------------------------------------- real tiny runs (slow): tests/conftest.py demo_vowel_sweep


def _f1(table: pd.DataFrame, threshold: float) -> float:
    """F1 of the positive class by hand: 2 tp / (2 tp + fp + fn)."""
    predicted, poor = table["hand"].to_numpy() >= threshold, table["label"].to_numpy() == 1
    tp = int((predicted & poor).sum())
    wrong = int((predicted != poor).sum())
    return 2 * tp / (2 * tp + wrong) if 2 * tp + wrong else 0.0


@pytest.mark.slow
def test_fused_runs_match_a_hand_computation_on_their_prediction_tables(demo_vowel_sweep: dict) -> None:
    (base, members), *rest = sweep_vowel_groups(demo_vowel_sweep["sweep_dir"])
    assert not rest and base == "quick-small_cnn-dual" and list(members) == ["A", "I"]
    fusion = fuse_runs(members)
    a, i = (pd.read_csv(members[v] / "predictions_patients.csv") for v in ("A", "I"))
    # the demo patients all have both vowels: the two runs hold the same patient -> fold map
    keys = ["repeat", "fold", "part", "patient_id"]
    assert (
        a[keys]
        .sort_values(keys)
        .reset_index(drop=True)
        .equals(i[keys].sort_values(keys).reset_index(drop=True))
    )
    both = a.merge(i, on=[*keys, "label"], suffixes=("_a", "_i"))
    both = both[both["part"].isin(["val", "test"])]
    both["hand"] = (both["prob_a"] + both["prob_i"]) / 2
    got = fusion.patients.merge(both, on=keys)
    assert len(got) == len(both) == len(fusion.patients) and (got["n_vowels"] == 2).all()
    np.testing.assert_allclose(got["prob"], got["hand"], rtol=1e-12)
    assert fusion.folds["fold"].nunique() == 2 and set(fusion.folds["part"]) == {"val", "test"}
    for (fold, part), group in both.groupby(["fold", "part"]):
        row = fusion.folds[(fusion.folds["fold"] == fold) & (fusion.folds["part"] == part)].iloc[0]
        assert row["auroc"] == pytest.approx(roc_auc_score(group["label"], group["hand"]))
        assert row["n"] == len(group)
        val = both[(both["fold"] == fold) & (both["part"] == "val")]
        grid = np.linspace(0, 1, 201)
        assert row["threshold"] == pytest.approx(grid[int(np.argmax([_f1(val, t) for t in grid]))])
        predicted = group["hand"] >= row["threshold"]
        assert row["tp"] == int((predicted & (group["label"] == 1)).sum())
        assert row["fp"] == int((predicted & (group["label"] == 0)).sum())


@pytest.mark.slow
def test_sweep_table_and_cli_show_the_fused_row_with_validation_auroc(demo_vowel_sweep: dict) -> None:
    from core.sweep import sweep_table

    sweep_dir = demo_vowel_sweep["sweep_dir"]
    table = sweep_table(sweep_dir)
    fused_label = "fused per vowel (A+I) · quick-small_cnn-dual"
    assert list(table["configuration"]) == [
        "quick-small_cnn-dual-vowel_A",
        "quick-small_cnn-dual-vowel_I",
        "quick-small_cnn-dual-vowels_AI",
        fused_label,
    ]
    row = table.set_index("configuration").loc[fused_label]
    ((_, members),) = sweep_vowel_groups(sweep_dir)
    folds = fuse_runs(members).folds
    test = folds[folds["part"] == "test"]["auroc"].mean()
    val = folds[folds["part"] == "val"]["auroc"].mean()
    assert row["status"] == "complete" and row["repeats"] == 1 and row["folds"] == 2
    assert row["auroc_mean"] == pytest.approx(test) and row["val_auroc_mean"] == pytest.approx(val)
    assert 0.0 <= row["delong_p"] <= 1.0  # against the reference (vowel_A) on the same patients
    member_val = pd.read_csv(members["A"] / "folds.csv")
    member_val = member_val[(member_val["part"] == "val") & (member_val["level"] == "patient")]
    assert table.iloc[0]["val_auroc_mean"] == pytest.approx(member_val["auroc"].mean())
    assert sweep_table(sweep_dir, level="segment")["configuration"].tolist()[-1] != fused_label
    shown = demo_vowel_sweep["shown"]["table"]
    assert shown[-1]["configuration"] == fused_label
    assert shown[-1]["val_auroc_mean"] == pytest.approx(val) and shown[-1]["auroc_mean"] == pytest.approx(
        test
    )


@pytest.mark.slow
def test_fusion_refuses_runs_of_another_vowel_split_or_fold_map(
    demo_vowel_sweep: dict, tmp_path: Path
) -> None:
    ((_, members),) = sweep_vowel_groups(demo_vowel_sweep["sweep_dir"])
    entries = {entry["label"]: run_dir for entry, run_dir in sweep_runs(demo_vowel_sweep["sweep_dir"])}
    with pytest.raises(VowelFusionError, match=r"selects vowels \['A', 'I'\]; expected only 'I'"):
        fuse_runs({"A": members["A"], "I": entries["quick-small_cnn-dual-vowels_AI"]})
    with pytest.raises(VowelFusionError, match="two or more"):
        fuse_runs({"A": members["A"]})
    # a copy of the /i/ run that claims another split (3 folds): refused, naming what differs
    other = tmp_path / members["I"].name
    shutil.copytree(members["I"], other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["config"]["split"]["n_folds"] = 3
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(VowelFusionError, match="split settings differ"):
        fuse_runs({"A": members["A"], "I": other})
    manifest["config"]["split"]["n_folds"] = 2
    manifest["data"]["cohort_source"]["root"] = "/elsewhere"
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(VowelFusionError, match="cohorts differ"):
        fuse_runs({"A": members["A"], "I": other})
    # same manifest, but one validation patient of fold 0 moved to the test part
    manifest["data"]["cohort_source"]["root"] = json.loads((members["I"] / "manifest.json").read_text())[
        "data"
    ]["cohort_source"]["root"]
    (other / "manifest.json").write_text(json.dumps(manifest))
    table = pd.read_csv(other / "predictions_patients.csv")
    moved = table.index[(table["fold"] == 0) & (table["part"] == "val")][0]
    table.loc[moved, "part"] = "test"
    table.to_csv(other / "predictions_patients.csv", index=False)
    with pytest.raises(VowelFusionError, match="different parts of the same fold"):
        fuse_runs({"A": members["A"], "I": other})


@pytest.mark.slow
def test_sweep_table_names_a_refused_fusion_instead_of_failing(
    demo_vowel_sweep: dict, tmp_path: Path
) -> None:
    from core.sweep import sweep_table

    root = tmp_path / "runs"
    shutil.copytree(demo_vowel_sweep["root"], root)
    sweep_dir = root / "_sweeps" / demo_vowel_sweep["sweep_dir"].name
    ((_, members),) = sweep_vowel_groups(sweep_dir)
    table = pd.read_csv(members["I"] / "predictions_patients.csv")
    moved = table.index[(table["fold"] == 1) & (table["part"] == "test")][:2]
    table.loc[moved, "part"] = "val"
    table.to_csv(members["I"] / "predictions_patients.csv", index=False)
    shown = sweep_table(sweep_dir)
    row = shown.iloc[-1]
    assert row["configuration"] == "fused per vowel (A+I) · quick-small_cnn-dual"
    assert row["status"].startswith("not fused: cannot fuse: 2 patient(s) sit in different parts")
    assert row["auroc"] == "n/a" and np.isnan(row["val_auroc_mean"]) and np.isnan(row["delong_p"])
    assert (
        shown.iloc[:3]["auroc"].tolist()
        == sweep_table(demo_vowel_sweep["sweep_dir"]).iloc[:3]["auroc"].tolist()
    )


# ------------------------- a cohort where some patients lack /i/: folds over the cohort's patients


def _remove_vowel(cohort_dir: Path, patients: set[str], vowel: str = "I") -> None:
    """Delete the pre-op ``vowel`` recording (wav and voice report) of ``patients`` from a cohort copy."""
    from core.cohort import as_source

    cohort = as_source(cohort_dir).load()
    chosen = cohort.recordings[
        cohort.recordings["patient_id"].isin(patients)
        & (cohort.recordings["vowel"] == vowel)
        & (cohort.recordings["phase"] == "pre")
    ]
    assert len(chosen) == len(patients)
    for rid in chosen["recording_id"]:
        wav = cohort.audio_path(rid)
        wav.unlink()
        wav.with_suffix(".txt").unlink(missing_ok=True)


def _cohort_map(cohort_dir: Path, config) -> tuple[pd.DataFrame, list]:
    """The cohort's patient table and the folds over it (one row per patient)."""
    from core.cohort import as_source
    from core.splits import make_folds
    from core.training_data import cohort_patients

    patients = cohort_patients(as_source(cohort_dir).load().recordings, config)
    rows = patients.assign(label=patients["label"].astype("Int64"))
    return patients, make_folds(rows, config.split, patients=patients)


@pytest.mark.slow
def test_per_vowel_sweep_fuses_when_some_patients_lack_a_vowel(demo_cohort_dir: Path, tmp_path: Path) -> None:
    from core.config import hyperparameter_table, preset, with_overrides
    from core.results import compare_runs
    from core.run import load_run
    from core.run_lifecycle import prepare_run
    from core.runs import list_runs
    from core.splits import make_folds
    from core.sweep import sweep_table
    from core.sweep_training import run_sweep
    from core.training_data import load_training_data

    cohort_dir = tmp_path / "cohort"
    shutil.copytree(demo_cohort_dir, cohort_dir)
    common = {"split.n_folds": 2, "train.finetune_epochs": 2, "preprocess.spectrogram.image_size": 32}
    settings = per_vowel_settings("A,I")
    del settings["vowels_AI"]  # the two one-vowel members are what is fused
    configs = {v: with_overrides(preset("quick"), {**common, **settings[f"vowel_{v}"]}) for v in "AI"}
    patients, folds = _cohort_map(cohort_dir, configs["I"])
    ids, labels = patients["patient_id"].to_numpy(), patients["label"].to_numpy()
    first, second = folds
    # without /i/: 3 test patients of fold 0 (not in fold 1's validation part), one of fold 0's
    # validation patients of a class it has two or more of, 2 test patients of fold 1 (not in fold
    # 0's validation part): every validation part keeps both classes
    val_class = 0 if (labels[first.val] == 0).sum() >= 2 else 1
    lacking = {*[p for p in ids[first.test] if p not in set(ids[second.val])][:3]}
    lacking.add(ids[first.val][labels[first.val] == val_class][0])
    lacking |= set([p for p in ids[second.test] if p not in set(ids[first.val])][:2])
    assert len(lacking) == 6
    _remove_vowel(cohort_dir, lacking)

    sweep_dir = run_sweep(
        cohort_dir,
        SweepSpec(settings=settings, repeats=1, common={**common, "train.curves": "fast"}),
        name="gaps",
        root=tmp_path / "runs",
        cache_dir=tmp_path / "cache",
    )
    ((base, members),) = sweep_vowel_groups(sweep_dir)
    fusion = fuse_runs(members)  # drawn over each run's own patients, this was refused
    a, i = (pd.read_csv(members[v] / "predictions_patients.csv") for v in "AI")
    assert set(a["patient_id"]) == set(ids) and set(i["patient_id"]) == set(ids) - lacking
    keys = ["repeat", "fold", "patient_id"]
    both = a.merge(i, on=keys, suffixes=("_a", "_i"))
    assert len(both) == len(i) and (both["part_a"] == both["part_i"]).all()  # one patient -> part map
    for fold_no, fold in enumerate(folds):  # ... the map drawn over the cohort's patients
        expected = dict(zip(ids, fold.part_of(len(ids)), strict=True))
        got = a[a["fold"] == fold_no].set_index("patient_id")["part"]
        assert got.to_dict() == expected
    fused = fusion.patients.set_index(["fold", "patient_id"])
    alone = fused[fused["n_vowels"] == 1]
    assert set(alone.index.get_level_values("patient_id")) == lacking and (alone["vowels"] == "A").all()
    assert set(alone["part"]) == {"val", "test"}
    a_fused = a[a["part"].isin(["val", "test"])].set_index(["fold", "patient_id"])["prob"]
    np.testing.assert_allclose(alone["prob"], a_fused.loc[alone.index], rtol=1e-12)
    two = both[both["part_a"].isin(["val", "test"])].set_index(["fold", "patient_id"])
    np.testing.assert_allclose(fused.loc[two.index, "prob"], (two["prob_a"] + two["prob_i"]) / 2, rtol=1e-12)
    assert len(fusion.patients) == int(a["part"].isin(["val", "test"]).sum())
    assert set(fusion.folds["part"]) == {"val", "test"} and fusion.folds["auroc"].notna().all()
    row = sweep_table(sweep_dir).set_index("configuration").loc[f"fused per vowel (A+I) · {base}"]
    assert row["status"] == "complete" and row["folds"] == 2
    member = load_run(members["I"])  # the Results page and the report say how the folds were drawn
    assert member.config.split.patients == "cohort" and member.config.hash() == member.info.config_hash
    assert compare_runs([member])["split"].tolist() == ["patient (cohort folds)"]
    listed = list_runs(Path(members["I"]).parent).set_index("run_dir").loc[str(members["I"])]
    assert listed["split"] == "patient (cohort folds)"  # the run list says so too
    (split_row,) = [r for r in hyperparameter_table(member.config) if r["name"] == "SPLIT"]
    assert split_row["value"] == "patients (folds over the cohort's patients)"
    # the old way: the /i/ run's own patients give other folds, which fuse_tables refuses
    data, _ = load_training_data(cohort_dir, configs["I"], cache_dir=tmp_path / "cache")
    segments = data.segments
    own = make_folds(segments, with_overrides(configs["I"], {"split.patients": "with_segments"}).split)
    old_i = i.copy()
    for fold_no, fold in enumerate(own):
        parts = dict(zip(segments["patient_id"], fold.part_of(len(segments)), strict=True))
        chosen = old_i["fold"] == fold_no
        old_i.loc[chosen, "part"] = old_i.loc[chosen, "patient_id"].map(parts)
    assert (old_i["part"] != i["part"]).any()
    with pytest.raises(VowelFusionError, match="different parts of the same fold"):
        fuse_tables({"A": a, "I": old_i})
    # every well (or poor) validation patient of fold 0 without /i/: that vowel's run is refused
    # before it trains, naming the fold and the part; no run folder is made
    gone = set(ids[first.val][labels[first.val] == 1 - val_class])
    _remove_vowel(cohort_dir, gone)
    before = sorted((tmp_path / "runs").iterdir())
    with pytest.raises(CoreError, match=r"fold r0f0: its validation part holds .* expected both classes"):
        prepare_run(
            cohort_dir, configs["I"], name="refused", root=tmp_path / "runs", cache_dir=tmp_path / "cache"
        )
    assert sorted((tmp_path / "runs").iterdir()) == before
