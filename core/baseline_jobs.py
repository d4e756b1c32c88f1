"""The acoustic baseline of a run as a background job: ``python -m core baseline --run RUN`` in a subprocess.

Like training (:mod:`core.jobs`), the dashboard never computes the baseline in its own
process: :func:`launch` starts the CLI through :func:`core.background.start_cli`, writing
its progress lines to a log in the run folder, and the page polls :func:`status`. The job does not take the
training lock (a baseline only reads a finished run); it takes the run's own baseline
lock (``<run>/.baseline.lock``), handed to the subprocess so that it lives exactly as long
as the job, and a second launch for the same run, from any page or session, is refused.

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import background, locks
from core.background import JobError

LOCK_NAME = ".baseline.lock"
LOG_NAME = "baseline-job.log"


@dataclass(frozen=True)
class BaselineJob:
    """A launched baseline subprocess.

    Attributes
    ----------
    pid : int
    run_dir : str
        The CNN run whose folds the baseline reuses (it writes ``<run_dir>/baseline/``).
    log : str
        File receiving the subprocess' stdout and stderr (its progress lines).
    started : float
        ``time.time()`` at launch.
    argv : list of str
    """

    pid: int
    run_dir: str
    log: str
    started: float
    argv: list[str]


def active_baseline(run_dir: str | Path) -> dict[str, Any] | None:
    """The note of the baseline job running for this run now (from any session), or None."""
    return locks.holder(Path(run_dir) / LOCK_NAME)


def launch(
    run_dir: str | Path, *, options: list[str] | None = None, cache_dir: str | Path | None = None
) -> BaselineJob:
    """Start ``python -m core baseline --run RUN`` in the background.

    Parameters
    ----------
    run_dir : path
        A finished CNN run.
    options : list of str, optional
        Extra ``baseline`` arguments, e.g. ``["--models", "logreg", "--n-boot", "500"]``.
    cache_dir : path, optional
        Feature cache.

    Raises
    ------
    JobError
        When a baseline job already runs for this run.
    """
    run_dir = Path(run_dir).resolve()
    args = ["baseline", "--run", str(run_dir), "--json", *(options or [])]
    args += ["--cache-dir", str(cache_dir)] if cache_dir is not None else []
    log = run_dir / LOG_NAME
    return background.start_cli(
        args,
        lock=run_dir / LOCK_NAME,
        log=log,
        note={"what": f"baseline of {run_dir.name}"},
        refused=lambda holder: f"the acoustic baseline of run {run_dir.name} is already being computed",
        job=lambda pid, argv: BaselineJob(pid, str(run_dir), str(log), time.time(), argv),
    )


def status(job: BaselineJob) -> dict[str, Any]:
    """What the page shows while polling.

    Returns
    -------
    state : dict
        ``alive`` (bool), ``status`` ("running", "complete" or "failed"), ``exit_code``
        (None while running), ``log_tail`` (last progress lines).
    """
    alive = background.alive(job.pid)
    code = background.exit_code(job.pid)
    done = Path(job.run_dir) / "baseline" / "summary.json"
    finished = done.is_file() and done.stat().st_mtime >= job.started - 1
    state = "running" if alive else "complete" if finished and code in (0, None) else "failed"
    return {
        "alive": alive,
        "status": state,
        "exit_code": code,
        "log_tail": background.log_tail(job.log, lines=4),
    }


def wait(job: BaselineJob, *, timeout: float | None = None, poll: float = 0.5) -> dict[str, Any]:
    """Block until the job ends (or ``timeout``); return its last :func:`status`."""
    background.wait_for(job, timeout=timeout, poll=poll)
    return status(job)


def cancel(job: BaselineJob, *, timeout: float = 30.0) -> bool:
    """Stop the job (SIGTERM to its process group); True when it is gone."""
    return background.cancel(job, timeout=timeout)


__all__ = ["LOCK_NAME", "BaselineJob", "JobError", "active_baseline", "cancel", "launch", "status", "wait"]
