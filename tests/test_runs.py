"""Run store: manifest, atomic files, status of killed runs, resume, listing, loading; the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import runs
from core.errors import RunError, TrainingError
from tests.run_configs import tiny_config

REPO = Path(__file__).resolve().parents[1]


def new_run(tmp_path: Path, dataset, config) -> Path:
    from core.splits import make_folds

    folds = [f.key for f in make_folds(dataset.segments, config.split)]
    data = {"fingerprint": "abc", "cohort_dir": str(tmp_path / "cohort"), "n_segments": len(dataset)}
    return runs.create_run(
        config.to_dict(),
        name="unit test",
        config_hash=config.hash(),
        data=data,
        folds=folds,
        root=tmp_path / "runs",
    )


def test_manifest_is_written_atomically_with_provenance(tmp_path) -> None:
    config = tiny_config()
    run_dir = runs.create_run(
        config.to_dict(),
        name="a b/c",
        config_hash=config.hash(),
        data={"fingerprint": "f"},
        folds=["r0f0"],
        root=tmp_path,
    )
    assert run_dir.parent == tmp_path and run_dir.name.endswith("-a-b-c")
    manifest = runs.read_manifest(run_dir)
    assert manifest["status"] == "running" and manifest["pid"] == os.getpid()
    assert manifest["config_hash"] == config.hash() and manifest["packages"]["numpy"] == np.__version__
    runs.update_manifest(run_dir, weights="random")
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    assert runs.effective_status(manifest) == "running"


def test_runs_root_follows_argument_then_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(runs.RUNS_ENV, str(tmp_path / "env"))
    assert runs.runs_root() == tmp_path / "env"
    assert runs.runs_root(tmp_path / "arg") == tmp_path / "arg"


def test_a_run_whose_process_died_is_reported_failed(tmp_path) -> None:
    config = tiny_config()
    run_dir = runs.create_run(
        config.to_dict(), name="dead", config_hash="x", data={}, folds=["r0f0"], root=tmp_path
    )
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    runs.update_manifest(run_dir, pid=child.pid)
    assert runs.read_manifest(run_dir)["status"] == "running"
    assert runs.effective_status(runs.read_manifest(run_dir)) == "failed"
    assert runs.list_runs(tmp_path).iloc[0]["status"] == "failed"


def test_complete_run_files_summary_listing_and_models(tmp_path, synthetic_dataset) -> None:
    from core.run_lifecycle import execute_run

    dataset = synthetic_dataset(patients=8, per_patient=3, strength=90)
    config = tiny_config()
    run_dir = new_run(tmp_path, dataset, config)
    manifest = execute_run(run_dir, dataset, config)
    assert manifest["status"] == "complete" and manifest["folds_done"] == ["r0f0", "r0f1"]
    assert manifest["weights"] == "random" and "requested" in manifest["weights_reason"]
    for name in (
        "epochs.csv",
        "folds.csv",
        "predictions_segments.csv",
        "predictions_patients.csv",
        "progress.json",
    ):
        assert (run_dir / name).is_file(), name
    run = runs.load_run(run_dir.name, root=tmp_path / "runs")
    assert set(run.epochs["fold"]) == {0, 1} and not run.leaky
    test = run.segment_predictions[run.segment_predictions["part"] == "test"]
    assert sorted(test["segment_id"]) == list(range(len(dataset)))
    assert (
        "/" not in "".join(test["recording_id"])
        and "cohort" not in (run_dir / "predictions_segments.csv").read_text()
    )
    summary = runs.run_summary(run_dir)
    folds = run.folds[(run.folds["part"] == "test") & (run.folds["level"] == "patient")]
    assert summary["patient_auroc_mean"] == pytest.approx(folds["auroc"].mean())
    assert summary["status"] == "complete" and summary["folds_done"] == 2 and summary["weights"] == "random"
    low, high = summary["patient_auroc_ci_bootstrap"]
    assert 0 <= low <= high <= 1
    model = runs.load_fold_model(run_dir, 1)
    rows = test[test["fold"] == 1].sort_values("segment_id")
    prob = model.predict(dataset.mel[rows["segment_id"]], dataset.stft[rows["segment_id"]])
    np.testing.assert_allclose(prob, rows["prob"], atol=1e-4)
    listed = runs.list_runs(tmp_path / "runs")
    assert list(listed["run_id"]) == [run_dir.name]


def test_failed_fold_then_resume_trains_only_the_rest(tmp_path, synthetic_dataset) -> None:
    from core.run_lifecycle import execute_run

    dataset = synthetic_dataset(patients=8, per_patient=3)
    config = tiny_config()
    run_dir = new_run(tmp_path, dataset, config)
    with pytest.raises(TrainingError, match="on purpose"):
        execute_run(run_dir, dataset, config, fail_after=1)
    manifest = runs.read_manifest(run_dir)
    assert (
        manifest["status"] == "failed"
        and manifest["folds_done"] == ["r0f0"]
        and "on purpose" in manifest["error"]
    )
    first = pd.read_csv(run_dir / "folds.csv")
    events = []
    manifest = execute_run(run_dir, dataset, config, progress=events.append)
    assert manifest["status"] == "complete"
    assert {e.fold for e in events if e.kind == "fold_start"} == {"r0f1"}
    folds = pd.read_csv(run_dir / "folds.csv")
    assert len(folds) == 2 * len(first)
    pd.testing.assert_frame_equal(folds[folds["fold"] == 0].reset_index(drop=True), first)


def test_find_run_errors_name_the_problem(tmp_path) -> None:
    with pytest.raises(RunError, match="no run"):
        runs.find_run("nothing", root=tmp_path)


@pytest.mark.slow
def test_cli_quick_preset_end_to_end_on_a_reduced_demo_cohort(tmp_path) -> None:
    from core.demo import generate_cohort

    cohort = tmp_path / "cohort"
    generate_cohort(cohort, patients=10, seed=3)
    env = {**os.environ, "VOE_RUNS_DIR": str(tmp_path / "runs"), "VOE_CACHE_DIR": str(tmp_path / "cache")}
    command = [
        sys.executable,
        "-m",
        "core",
        "train",
        "--cohort",
        str(cohort),
        "--preset",
        "quick",
        "--name",
        "cli",
        "--folds",
        "2",
        "--set",
        "train.finetune_epochs=3",
        "--json",
    ]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    for key in (
        "run_dir",
        "status",
        "patient_auroc_mean",
        "patient_auroc_std",
        "segment_auroc_mean",
        "segment_auroc_std",
        "weights",
        "seconds",
    ):
        assert key in summary
    assert summary["status"] == "complete" and summary["weights"] == "random" and summary["n_folds"] == 2
    assert summary["oracle_patient_auroc"] is not None
    assert "fold 2 done" in done.stderr  # 1-based fold names (core.folds)
    listed = subprocess.run(
        [sys.executable, "-m", "core", "runs"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert Path(summary["run_dir"]).name in listed.stdout
    shown = subprocess.run(
        [sys.executable, "-m", "core", "runs", "show", Path(summary["run_dir"]).name, "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert (
        json.loads(shown.stdout.strip().splitlines()[-1])["patient_auroc_mean"]
        == summary["patient_auroc_mean"]
    )
    again = subprocess.run(
        [sys.executable, "-m", "core", "train", "--resume", Path(summary["run_dir"]).name],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 2 and "already complete" in again.stderr
