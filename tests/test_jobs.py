"""Background training jobs: one at a time, stale locks, status polling, cancel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import jobs, runs

REPO = Path(__file__).resolve().parents[1]


def test_a_second_launch_while_one_runs_is_refused(tmp_path) -> None:
    # a terminal's ``python -m core train`` holds the same OS lock as a launched job
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from core.locks import training_lock\n"
            "with training_lock(sys.argv[1], what='busy'):\n    print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(jobs.JobError, match=f"'busy' is already in progress \\(process {holder.pid}\\)"):
            jobs.launch(cohort=tmp_path, name="second", runs_dir=tmp_path)
        busy = jobs.active_job(tmp_path)
        assert busy.name == "busy" and busy.pid == holder.pid
    finally:
        holder.kill()
        holder.wait()
    # the kernel dropped the killed holder's lock: nothing is stale, the file may stay
    assert jobs.active_job(tmp_path) is None and (tmp_path / jobs.LOCK_NAME).exists()


def test_a_lock_file_of_a_dead_process_does_not_block(tmp_path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    job = {
        "pid": child.pid,
        "name": "gone",
        "runs_dir": str(tmp_path),
        "log": "",
        "started": time.time(),
        "argv": [],
    }
    (tmp_path / jobs.LOCK_NAME).write_text(json.dumps(job))
    assert jobs.active_job(tmp_path) is None
    # a live process id written into the file (e.g. reused) holds nothing either
    job["pid"] = os.getpid()
    (tmp_path / jobs.LOCK_NAME).write_text(json.dumps(job))
    assert jobs.active_job(tmp_path) is None


def test_a_job_that_fails_to_start_releases_the_lock_and_shows_its_log(tmp_path) -> None:
    job = jobs.launch(cohort=tmp_path / "missing", name="bad", runs_dir=tmp_path)
    state = jobs.wait(job, timeout=120)
    assert not state["alive"] and state["status"] == "failed" and state["run_dir"] is None
    assert "error" in state["log_tail"].lower()
    assert jobs.active_job(tmp_path) is None


@pytest.mark.slow
def test_launch_poll_and_cancel_a_real_run(tmp_path) -> None:
    from core.demo import generate_cohort

    cohort = tmp_path / "cohort"
    generate_cohort(cohort, patients=10, seed=4)
    job = jobs.launch(
        cohort=cohort,
        name="cancel me",
        runs_dir=tmp_path / "runs",
        cache_dir=tmp_path / "cache",
        options=["--folds", "2", "--set", "train.finetune_epochs=200", "--set", "train.patience=200"],
    )
    with pytest.raises(jobs.JobError):
        jobs.launch(cohort=cohort, name="refused", runs_dir=tmp_path / "runs")
    deadline = time.time() + 300
    while time.time() < deadline and jobs.status(job)["progress"].get("kind") != "epoch":
        time.sleep(0.5)
    state = jobs.status(job)
    assert state["alive"] and state["status"] == "running" and state["progress"]["stage"] == "finetune"
    metrics = state["progress"]["metrics"]
    assert metrics["finetune_epoch_s"] > 0
    fraction, text = jobs.progress_text(state)
    assert 0 <= fraction < 1 and "fold 1 of 2 · finetune epoch" in text and "left" in text
    assert jobs.cancel(job, timeout=60)
    final = jobs.status(job)
    assert final["status"] == "cancelled"
    assert runs.read_manifest(final["run_dir"])["status"] == "cancelled"
    assert jobs.active_job(tmp_path / "runs") is None


def test_time_left_counts_every_planned_epoch_at_this_folds_pace() -> None:
    pace = {"finetune_epoch_s": 5.0, "warmup_epoch_s": 0.05}
    # 50 fine-tune epochs left in this fold, then two whole folds of 20 + 60 epochs
    left = jobs.time_left(pace, stage="finetune", epoch=10, warmup=20, finetune=60, folds_after=2)
    assert left == pytest.approx(50 * 5.0 + 2 * (20 * 0.05 + 60 * 5.0))
    assert jobs.time_left(pace, stage="finetune", epoch=60, warmup=20, finetune=60, folds_after=0) == 0
    # warm-up epochs on cached features say nothing about fine-tuning
    assert (
        jobs.time_left(
            {"warmup_epoch_s": 0.05}, stage="warmup", epoch=3, warmup=20, finetune=60, folds_after=4
        )
        is None
    )
    assert jobs.time_left({}, stage="finetune", epoch=1, warmup=20, finetune=60, folds_after=4) is None
