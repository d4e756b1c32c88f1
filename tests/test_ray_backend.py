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
from core.folds import FoldKey
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
def sequential_run(demo_runs_root: Path) -> Path:
    """The sequential run of :func:`small_config`: the session's demo run (same config, trained once)."""
    (run_dir,) = [p for p in demo_runs_root.iterdir() if (p / "manifest.json").is_file()]
    assert runs.read_manifest(run_dir)["config_hash"] == small_config().hash()
    return run_dir


@pytest.fixture(scope="module")
def ray_fault_run(ray_cluster, demo_cohort_dir, demo_cache_dir, tmp_path_factory):
    """The Ray run of :func:`small_config` with one worker killed after its first epoch.

    Returns the run folder, the fault marker's text and, for every progress event the
    driver emitted, the event and the ``progress.json`` written for it.
    """
    tmp = tmp_path_factory.mktemp("ray_fault")
    marker = tmp / "killed.txt"
    root = tmp / "runs"
    seen: list[tuple[object, dict]] = []

    def record(event) -> None:  # progress.json is written just before the callback
        (run_dir,) = root.iterdir()
        seen.append((event, runs.read_progress(run_dir)))

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(FAULT_ENV, str(marker))
        ray_dir = start_run(
            demo_cohort_dir,
            small_config(),
            name="fault",
            root=root,
            cache_dir=demo_cache_dir,
            backend="ray",
            progress=record,
        )
    return ray_dir, marker.read_text(), seen


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
    ray_fault_run, sequential_run
) -> None:
    """One worker dies after its first epoch; Ray retries its fold and the run matches the local one."""
    ray_dir, marker, _ = ray_fault_run
    assert marker.startswith("worker ")  # one worker did die after its first epoch
    _assert_same_run(ray_dir, sequential_run)
    model = runs.load_fold_model(ray_dir, 1)
    assert model.info.backbone == "small_cnn"


@pytest.mark.slow
def test_every_epoch_of_every_ray_fold_reaches_progress_json_while_it_trains(
    ray_fault_run, sequential_run
) -> None:
    """The workers' epoch events are written to progress.json as they come, shaped as the local backend's."""
    from dataclasses import asdict

    ray_dir, _, seen = ray_fault_run
    local_progress = runs.read_progress(sequential_run)  # the local run's last event (its last fold's end)
    local_epochs = pd.read_csv(sequential_run / "epochs.csv")
    for event, written in seen:  # each event was progress.json's content when it was emitted
        assert set(written) == set(local_progress)
        fields = {k: v for k, v in asdict(event).items() if k != "metrics"}
        assert {k: written[k] for k in fields} == fields and set(written["metrics"]) == set(event.metrics)
        assert written["n_folds"] == written["n_folds_total"] == 3
    epochs = [written for _, written in seen if written["kind"] == "epoch"]
    ends = [written for _, written in seen if written["kind"] == "fold_end"]
    assert [e["fold"] for e in ends] and sorted(e["fold"] for e in ends) == sorted(
        runs.read_manifest(ray_dir)["folds_done"]
    )
    history_keys = set(local_epochs.columns) - {"repeat", "fold"}
    for end in ends:
        fold = [e for e in epochs if e["fold"] == end["fold"]]
        key = FoldKey.parse(end["fold"])
        local = local_epochs[(local_epochs["repeat"] == key.repeat) & (local_epochs["fold"] == key.fold)]
        # every epoch the local run trained for this fold, in order (the killed attempt sent none)
        assert [(e["stage"], e["epoch"], e["epochs"]) for e in fold] == [
            (stage, int(n), 3) for stage, n in zip(local["stage"], local["stage_epoch"], strict=True)
        ]
        assert all(history_keys | {"finetune_epoch_s"} <= set(e["metrics"]) for e in fold)
        np.testing.assert_allclose([e["metrics"]["val_auroc"] for e in fold], local["val_auroc"], atol=1e-4)
        assert all(e["time"] < end["time"] for e in fold)
        # live, not in a burst at the fold's end: written as far apart as the epochs took (0.5 s polls)
        later = sum(e["metrics"]["seconds"] for e in fold[1:])
        assert fold[-1]["time"] - fold[0]["time"] >= 0.5 * later - 0.5
        assert max(e["fold_index"] for e in fold) <= end["fold_index"]  # folds finished before it
    assert runs.read_progress(ray_dir)["kind"] == "fold_end"


@pytest.mark.slow
def test_cli_trains_on_ray(ray_cluster, demo_cohort_dir, demo_cache_dir, tmp_path) -> None:
    """``train --backend ray --json`` ends "complete"; with RAY_ADDRESS it joins that cluster and keeps it."""
    import subprocess
    import sys

    address = ray_cluster.get_runtime_context().gcs_address
    env = {**os.environ, "RAY_ADDRESS": address}
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
            "train.finetune_epochs=1",
            "--set",
            "preprocess.spectrogram.image_size=32",
            "--backend",
            "ray",
            "--json",
            "--quiet",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--cache-dir",
            str(demo_cache_dir),
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
    assert runs.read_manifest(summary["run_dir"])["ray"]["address"] == address  # it joined this cluster
    assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2  # and did not shut it down


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
    results, epochs, cancelled_at = [], [], []

    def cancel(signum, frame):
        cancelled_at.append(time.perf_counter())
        raise RunCancelled("cancelled")

    def on_event(event) -> None:
        if event.kind != "epoch":
            return
        epochs.append(event.fold)
        if len(epochs) == 1:  # a task is training: the cancel signal comes while the driver waits on Ray
            signal.setitimer(signal.ITIMER_REAL, 0.3)

    previous = signal.signal(signal.SIGALRM, cancel)
    signal.alarm(120)  # in case no epoch ever arrives
    try:
        with pytest.raises(RunCancelled):
            train_folds(
                dataset,
                folds,
                config,
                on_result=lambda r, n: results.append(r),
                on_event=on_event,
                settings=RaySettings(num_cpus=2, object_store_mb=128),
            )
        returned = time.perf_counter()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert epochs and len(cancelled_at) == 1  # cancelled while a task was training
    assert results == [] and returned - cancelled_at[0] < 20
    deadline = time.time() + 30
    while time.time() < deadline and ray.available_resources().get("CPU", 0) < 2:
        time.sleep(0.5)
    assert ray.available_resources().get("CPU", 0) == 2  # no task holds a CPU any more
