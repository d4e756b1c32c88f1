"""One training at a time, one process per run, and honest "running" statuses.

The locks are real OS locks held by real processes: a holder is a Python subprocess,
killed with SIGKILL where a crash is simulated.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from core import locks, run_health, runs
from core.config import preset, with_overrides
from core.locks import LockBusy
from tests.run_configs import tiny_config

REPO = Path(__file__).resolve().parents[1]


def hold_in_subprocess(code: str, *args: str) -> subprocess.Popen:
    """Start a Python process that takes a lock, prints "held" and sleeps."""
    child = subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


CLAIM = (
    "import sys, time\nfrom core.run_health import claim\n"
    "with claim(sys.argv[1]):\n    print('held', flush=True); time.sleep(120)"
)


def new_run(root: Path, name: str = "locked") -> Path:
    config = tiny_config()
    return runs.create_run(
        config.to_dict(),
        name=name,
        config_hash=config.hash(),
        data={"fingerprint": "f"},
        folds=["r0f0", "r0f1"],
        root=root,
    )


def test_a_claimed_run_refuses_a_second_trainer_and_a_killed_one_shows_failed_with_a_reason(tmp_path) -> None:
    from core.run_lifecycle import resume_run

    run_dir = new_run(tmp_path)
    runs.update_manifest(run_dir, status="failed")
    child = hold_in_subprocess(CLAIM, str(run_dir))
    try:
        runs.update_manifest(run_dir, status="running", pid=child.pid)
        assert runs.effective_status(runs.read_manifest(run_dir), run_dir) == "running"
        with pytest.raises(LockBusy, match=f"run {run_dir.name} is being trained by process {child.pid}"):
            resume_run(run_dir)
        assert runs.read_manifest(run_dir)["status"] == "running"  # the refused resume wrote nothing
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    summary = runs.run_summary(run_dir)
    assert summary["status"] == "failed"
    assert summary["error"].startswith(
        "the training process stopped without finishing (no heartbeat since 20"
    )


def test_a_reused_process_id_does_not_keep_a_run_running(tmp_path) -> None:
    run_dir = new_run(tmp_path)
    # the claim file exists (the run was trained) but nobody holds it; the manifest's pid is
    # alive because another program got it: this very test process
    locks.FileLock(run_dir / locks.RUN_LOCK).acquire().release()
    runs.update_manifest(run_dir, pid=os.getpid())
    assert run_health.run_state(runs.read_manifest(run_dir), run_dir)[0] == "failed"
    # a folder without a claim file (older runs, another host): the heartbeat decides
    (run_dir / locks.RUN_LOCK).unlink()
    manifest = runs.read_manifest(run_dir)
    assert run_health.run_state(manifest, run_dir)[0] == "running"
    later = manifest["heartbeat"] + run_health.STALE_AFTER_S + 1
    status, reason = run_health.run_state(manifest, run_dir, now=later)
    assert status == "failed" and "no heartbeat since" in reason


def test_the_heartbeat_thread_beats_while_a_run_trains(tmp_path) -> None:
    run_dir = new_run(tmp_path)
    with run_health.Heartbeat(run_dir, interval=0.05):
        first = json.loads((run_dir / run_health.HEARTBEAT_FILE).read_text())["time"]
        time.sleep(0.3)
        second = json.loads((run_dir / run_health.HEARTBEAT_FILE).read_text())["time"]
    assert second > first
    assert run_health.last_heartbeat(runs.read_manifest(run_dir), run_dir) >= second


def test_two_trainers_of_one_run_at_once_exactly_one_trains(tmp_path, synthetic_dataset) -> None:
    from core.run_lifecycle import execute_run
    from core.splits import make_folds

    dataset = synthetic_dataset(patients=8, per_patient=3)
    config = tiny_config()
    folds = [f.key for f in make_folds(dataset.segments, config.split)]
    run_dir = runs.create_run(
        config.to_dict(),
        name="race",
        config_hash=config.hash(),
        data={"fingerprint": "f"},
        folds=folds,
        root=tmp_path,
    )
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def train() -> None:
        start.wait()
        try:
            execute_run(run_dir, dataset, config)
            outcomes.append("trained")
        except LockBusy as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=train) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert sorted(outcomes)[1] == "trained", outcomes
    assert sorted(outcomes)[0] == f"run {run_dir.name} is being trained by process {os.getpid()}"
    manifest = runs.read_manifest(run_dir)
    assert manifest["status"] == "complete" and sorted(manifest["folds_done"]) == folds
    table = pd.read_csv(run_dir / "folds.csv")
    assert len(table) == len(table.drop_duplicates(["repeat", "fold", "level", "part"])) == 2 * 2 * 3


def test_a_cli_training_is_refused_while_another_holds_the_training_lock(tmp_path) -> None:
    code = (
        "import sys, time\nfrom core.locks import training_lock\n"
        "with training_lock(sys.argv[1], what='first'):\n    print('held', flush=True); time.sleep(120)"
    )
    child = hold_in_subprocess(code, str(tmp_path))
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "core",
                "train",
                "--cohort",
                str(tmp_path),
                "--name",
                "second",
                "--preset",
                "quick",
                "--runs-dir",
                str(tmp_path),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        child.kill()
        child.wait()
    assert done.returncode == 2
    assert f"training run 'first' is already in progress (process {child.pid})" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == [locks.TRAINING_LOCK]


def test_nested_holds_of_one_thread_share_the_lock_other_threads_are_refused(tmp_path) -> None:
    path = tmp_path / "x.lock"
    errors: list[str] = []
    with locks.hold(path, note={"what": "outer"}), locks.hold(path, note={"what": "inner"}):
        other = threading.Thread(target=lambda: _try_hold(path, errors))
        other.start()
        other.join()
        assert locks.holder(path)["what"] == "outer"
    assert errors == [f"busy by process {os.getpid()}"]
    assert locks.holder(path) is None


def _try_hold(path: Path, errors: list[str]) -> None:
    try:
        with locks.hold(path, note={}, wait=0.2, busy="busy"):
            errors.append("held twice")
    except LockBusy as exc:
        errors.append(str(exc))


@pytest.mark.slow
def test_two_cli_trainings_and_two_cli_resumes_at_once(tmp_path) -> None:
    from core.demo import generate_cohort
    from core.errors import TrainingError
    from core.run_lifecycle import start_run

    cohort = tmp_path / "cohort"
    generate_cohort(cohort, patients=10, seed=5)
    root = tmp_path / "runs"
    env = {**os.environ, "VOE_CACHE_DIR": str(tmp_path / "cache")}
    command = [
        sys.executable,
        "-m",
        "core",
        "train",
        "--cohort",
        str(cohort),
        "--preset",
        "quick",
        "--folds",
        "2",
        "--set",
        "train.finetune_epochs=2",
        "--runs-dir",
        str(root),
        "--quiet",
    ]
    both = [
        subprocess.Popen(
            [*command, "--name", f"twin{i}"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in both]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    assert "is already in progress" in next(err for code, err in results if code == 2)
    assert len([d for d in root.iterdir() if (d / runs.MANIFEST).is_file()]) == 1

    config = with_overrides(preset("quick"), {"split.n_folds": 3, "train.finetune_epochs": 2})
    with pytest.raises(TrainingError, match="on purpose"):
        start_run(cohort, config, name="half", root=root, cache_dir=tmp_path / "cache", fail_after=1)
    half = sorted(root.glob("*-half"))[0]
    resume = [
        sys.executable,
        "-m",
        "core",
        "train",
        "--resume",
        half.name,
        "--runs-dir",
        str(root),
        "--quiet",
    ]
    both = [
        subprocess.Popen(resume, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=600), p.stderr.read(), p.pid) for p in both]
    assert sorted(code for code, _, _ in results) == [0, 2], results
    code, err, _ = next(r for r in results if r[0] == 2)
    winner = next(pid for code, _, pid in results if code == 0)
    assert f"run {half.name} is being trained by process {winner}" in err
    manifest = runs.read_manifest(half)
    assert manifest["status"] == "complete" and len(manifest["folds_done"]) == 3
    table = pd.read_csv(half / "epochs.csv")
    assert not table.duplicated(["repeat", "fold", "epoch"]).any()
