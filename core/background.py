"""``python -m core ...`` started in the background by the dashboard, holding a lock it inherits.

The dashboard never trains or fits baselines in its own process. :func:`start_cli`
takes a file lock (:mod:`core.locks`), starts the CLI in a new session (so it survives
page reruns and can be cancelled as a group), hands the locked file to it and lets go of
its own copy: the lock then lives exactly as long as the subprocess, and a second start
from any page, session or terminal is refused with a :class:`JobError`. The job kinds
(:mod:`core.jobs` for training and sweeps, :mod:`core.baseline_jobs` for the acoustic
baseline) say which lock, which log and what note; polling, cancelling and waiting are
shared here.

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol, TypeVar

from core import locks
from core.errors import RunError
from core.run_health import process_alive

#: Subprocesses started by this process, so their exit status can be read (and zombies reaped).
CHILDREN: dict[int, subprocess.Popen] = {}
#: The repository root: the CLI runs from there, whatever the dashboard's working folder.
REPO = Path(__file__).resolve().parents[1]


class JobError(RunError):
    """A background job cannot be started, found or cancelled."""


class HasPid(Protocol):
    pid: int


J = TypeVar("J")


def start_cli(
    args: list[str],
    *,
    lock: Path,
    log: Path,
    note: dict[str, Any],
    refused: Callable[[dict[str, Any]], str],
    job: Callable[[int, list[str]], J],
    hand_down: bool = False,
) -> J:
    """Start ``python -m core <args>`` in a new session, holding ``lock`` for as long as it runs.

    Parameters
    ----------
    args : list of str
        The sub-command and its arguments.
    lock : path
        The lock file; taken here (waiting up to 1 s) and inherited by the subprocess.
    log : path
        File receiving the subprocess' stdout and stderr.
    note : dict
        The lock's note while the subprocess starts.
    refused : callable
        The :class:`JobError` message from the busy lock holder's note.
    job : callable
        Builds the job record from the subprocess' pid and its command line (without the
        interpreter); the record (a dataclass) becomes the lock's note.
    hand_down : bool
        Also name the inherited descriptor in :data:`core.locks.LOCK_FD_ENV` (the
        training CLI adopts it as its training lock).

    Raises
    ------
    JobError
        When the lock is held by another job.
    """
    argv = [sys.executable, "-m", "core", *args]
    file_lock = locks.FileLock(lock)
    try:
        file_lock.acquire(wait=1.0, note=note)
    except locks.LockBusy as exc:
        raise JobError(refused(exc.holder)) from None
    try:
        with open(log, "wb") as out:
            child = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                start_new_session=True,
                pass_fds=(file_lock.fd,),
                env={**os.environ, locks.LOCK_FD_ENV: str(file_lock.fd)} if hand_down else None,
            )
        CHILDREN[child.pid] = child
        record = job(child.pid, argv[1:])
        file_lock.write_note(asdict(record))  # type: ignore[call-overload]
    finally:
        file_lock.release()  # closes this process's copy; the child's inherited copy keeps the lock
    return record


def alive(pid: int) -> bool:
    """Whether the job's process still runs (a child of this process is polled, others probed)."""
    child = CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    return process_alive(pid)


def exit_code(pid: int) -> int | None:
    """The exit status of a finished child of this process; None while it runs or when not ours."""
    child = CHILDREN.get(pid)
    return None if child is None or alive(pid) else child.returncode


def log_tail(path: str | Path, lines: int = 5) -> str:
    """The last ``lines`` lines of a job's log (progress bars' carriage returns count as line ends)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])


def cancel(job: HasPid, *, timeout: float = 30.0) -> bool:
    """Ask the job to stop (SIGTERM to its process group) and wait up to ``timeout`` seconds.

    Returns
    -------
    stopped : bool
        True when the process is gone.
    """
    if not alive(job.pid):
        return True
    try:
        os.killpg(job.pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not alive(job.pid):
            return True
        time.sleep(0.2)
    return False


def wait_for(job: HasPid, *, timeout: float | None = None, poll: float = 0.5) -> None:
    """Block until the job's process ends (or ``timeout`` seconds pass)."""
    deadline = None if timeout is None else time.time() + timeout
    while alive(job.pid) and (deadline is None or time.time() < deadline):
        time.sleep(poll)


__all__ = ["CHILDREN", "JobError", "alive", "cancel", "exit_code", "log_tail", "start_cli", "wait_for"]
