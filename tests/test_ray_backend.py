"""The Ray backend: the same run as the sequential trainer, retries of a killed worker, cancel."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import ray
import tensorflow  # noqa: F401  (a hard requirement: imported plainly, never skipped)

from core import runs  # noqa: E402
from core.backends.ray_backend import FAULT_ENV, RaySettings, ray_session  # noqa: E402
from core.config import preset, with_overrides
from core.run_lifecycle import start_run  # noqa: E402


def small_config():
    """Quick preset, 64 px images, 3 patient folds, 3 fine-tune epochs (as the demo_runs_root fixture)."""
    return with_overrides(
        preset("quick"),
        {"split.n_folds": 3, "train.finetune_epochs": 3, "preprocess.spectrogram.image_size": 64},
    )


@pytest.fixture(scope="module")
def ray_cluster():
    """One small local Ray cluster for the module (2 CPUs, no dashboard, 128 MB store), shut down after."""
    with ray_session(RaySettings(num_cpus=2, object_store_mb=128)) as module:
        yield module
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def sequential_run(tmp_path_factory, demo_cohort_dir):
    root = tmp_path_factory.mktemp("runs_local")
    cache = tmp_path_factory.mktemp("cache_local")
    return start_run(demo_cohort_dir, small_config(), name="local", root=root, cache_dir=cache), cache


def _predictions(run_dir: Path) -> pd.DataFrame:
    table = pd.read_csv(run_dir / "predictions_segments.csv")
    return table.sort_values(["repeat", "fold", "segment_id"]).reset_index(drop=True)


def _patient_auroc(run_dir: Path) -> pd.Series:
    folds = runs.fold_table(run_dir)
    test = folds[(folds["part"] == "test") & (folds["level"] == "patient")]
    return test.set_index(["repeat", "fold"])["auroc"].sort_index()


def _assert_same_run(ray_dir: Path, local_dir: Path) -> None:
    manifest = runs.read_manifest(ray_dir)
    assert manifest["status"] == "complete"
    assert manifest["backend"] == "ray"
    assert sorted(manifest["folds_done"]) == sorted(runs.read_manifest(local_dir)["folds_done"])
    a, b = _patient_auroc(ray_dir), _patient_auroc(local_dir)
    assert list(a.index) == list(b.index) and len(a) == 3
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-4)
    pa, pb = _predictions(ray_dir), _predictions(local_dir)
    assert pa[["repeat", "fold", "segment_id", "part", "label"]].equals(
        pb[["repeat", "fold", "segment_id", "part", "label"]]
    )
    np.testing.assert_allclose(pa["prob"], pb["prob"], atol=1e-4)
    summary_a, summary_b = runs.run_summary(ray_dir), runs.run_summary(local_dir)
    assert summary_a["patient_auroc_mean"] == pytest.approx(summary_b["patient_auroc_mean"], abs=1e-4)
    epochs = pd.read_csv(ray_dir / "epochs.csv")
    assert len(epochs) == len(pd.read_csv(local_dir / "epochs.csv"))
    assert runs.read_progress(ray_dir)["kind"] == "fold_end"
    for key in manifest["folds_done"]:  # the bytes the worker made are the model the run store checks
        assert (ray_dir / "models" / f"{key}.keras").stat().st_size == manifest["model_files"][key]["bytes"]


@pytest.mark.slow
def test_a_ray_run_with_a_worker_killed_mid_fold_equals_the_sequential_run(
    ray_cluster, sequential_run, demo_cohort_dir, tmp_path, monkeypatch
) -> None:
    """One worker dies after its first epoch; Ray retries its fold and the run matches the local one."""
    local_dir, cache = sequential_run
    marker = tmp_path / "killed.txt"
    monkeypatch.setenv(FAULT_ENV, str(marker))
    ray_dir = start_run(
        demo_cohort_dir, small_config(), name="fault", root=tmp_path / "runs", cache_dir=cache, backend="ray"
    )
    assert marker.read_text().startswith("worker ")  # one worker did die after its first epoch
    _assert_same_run(ray_dir, local_dir)
    model = runs.load_fold_model(ray_dir, 1)
    assert model.info.backbone == "small_cnn"


@pytest.mark.slow
def test_cli_trains_on_ray(demo_cohort_dir, tmp_path) -> None:
    """``train --backend ray --json`` ends "complete" (its own local cluster, shut down at exit)."""
    import subprocess
    import sys

    env = {**os.environ, "VOE_RAY_NUM_CPUS": "2", "VOE_RAY_OBJECT_STORE_MB": "128"}
    env.pop("RAY_ADDRESS", None)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "train",
            "--cohort",
            str(demo_cohort_dir),
            "--preset",
            "quick",
            "--name",
            "cli",
            "--folds",
            "2",
            "--set",
            "train.finetune_epochs=2",
            "--set",
            "preprocess.spectrogram.image_size=64",
            "--backend",
            "ray",
            "--json",
            "--quiet",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["status"] == "complete" and summary["folds_done"] == 2
    assert 0.0 <= summary["patient_auroc_mean"] <= 1.0


@pytest.mark.slow
def test_cancel_stops_the_running_and_pending_tasks(ray_cluster, synthetic_dataset) -> None:
    """SIGTERM's handler raises RunCancelled in the driver: every task is cancelled, the CPUs come back."""
    import signal
    import time

    from core.backends.ray_backend import train_folds
    from core.config import SplitConfig
    from core.run_lifecycle import RunCancelled
    from core.splits import make_folds

    dataset = synthetic_dataset()
    config = with_overrides(
        preset("quick"),
        {
            "split.n_folds": 3,
            "split.val_ratio": 0.25,
            "train.finetune_epochs": 5000,
            "train.patience": 10_000,
            "train.batch_size": 8,
        },
    )
    folds = make_folds(dataset.segments, SplitConfig(n_folds=3, val_ratio=0.25))
    results = []

    def cancel(signum, frame):
        raise RunCancelled("cancelled")

    previous = signal.signal(signal.SIGALRM, cancel)
    signal.alarm(20)
    start = time.perf_counter()
    try:
        with pytest.raises(RunCancelled):
            train_folds(
                dataset,
                folds,
                config,
                on_result=lambda r, n: results.append(r),
                settings=RaySettings(num_cpus=2, object_store_mb=128),
            )
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert results == [] and time.perf_counter() - start < 40
    deadline = time.time() + 30
    while time.time() < deadline and ray.available_resources().get("CPU", 0) < 2:
        time.sleep(0.5)
    assert ray.available_resources().get("CPU", 0) == 2  # no task holds a CPU any more
