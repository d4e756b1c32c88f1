"""The training queue: requests wait while the lock is held; a finished job starts the next one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core import jobs, locks, run_queue


def test_requests_queue_in_order_with_positions_and_can_be_removed(tmp_path: Path) -> None:
    a = run_queue.enqueue(
        tmp_path, command="train", cohort="c", name="a", preset="quick", options=["--folds", "2"]
    )
    b = run_queue.enqueue(tmp_path, command="sweep", cohort="c", name="b", preset="quick")
    assert [r.name for r in run_queue.pending(tmp_path)] == ["a", "b"]
    assert run_queue.position(tmp_path, a.id) == 1 and run_queue.position(tmp_path, b.id) == 2
    assert run_queue.pending(tmp_path)[0].options == ["--folds", "2"]
    assert run_queue.remove(tmp_path, a.id) and not run_queue.remove(tmp_path, a.id)
    assert run_queue.position(tmp_path, b.id) == 1 and run_queue.position(tmp_path, a.id) is None
    with pytest.raises(jobs.JobError, match="expected train or sweep"):
        run_queue.enqueue(tmp_path, command="rm", cohort="c", name="x", preset="quick")


def _wait(predicate, timeout: float = 240.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def test_busy_store_queues_and_each_finished_job_starts_the_next(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    root.mkdir()
    missing = tmp_path / "no-such-cohort"  # each job fails fast (no cohort) and then drains the queue
    holder = locks.FileLock(root / locks.TRAINING_LOCK).acquire(note={"what": "terminal run", "pid": 1})
    try:
        first = run_queue.submit(root, command="train", cohort=missing, name="first", preset="quick")
        second = run_queue.submit(root, command="train", cohort=missing, name="second", preset="quick")
        assert isinstance(first, run_queue.Request) and isinstance(second, run_queue.Request)
        assert run_queue.position(root, first.id) == 1 and run_queue.position(root, second.id) == 2
        assert run_queue.drain(root) is None  # still busy: nothing starts, nothing lost
        assert [r.id for r in run_queue.pending(root)] == [first.id, second.id]
    finally:
        holder.release()
    job = run_queue.drain(root)
    assert isinstance(job, jobs.Job) and job.name == "first"
    assert [r.id for r in run_queue.pending(root)] == [second.id]
    # the first job ends (its cohort is missing) and launches the second on its way out
    assert _wait(lambda: not run_queue.pending(root)), "the finished job did not start the queued one"
    assert _wait(lambda: jobs.active_job(root) is None)
    logs = sorted(root.glob(".train-*.log"))
    assert len(logs) == 2
    texts = [p.read_text() for p in logs]
    assert any("started the next queued training 'second'" in t for t in texts)
    assert all("no-such-cohort" in t for t in texts)
