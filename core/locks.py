"""Operating-system file locks: one training at a time, and one process per run.

A lock is ``fcntl.flock`` on a small file. The kernel releases it when its holder
exits in any way (return, exception, SIGKILL, power loss of the process), so a lock is
never stale and no pid file has to be trusted: a process id that the system reused
for another program holds no lock. The file itself stays and carries a JSON note of
the last holder (pid, host, what it is doing) for messages.

=========================  =====================================  ======================
lock                       file                                   held by
=========================  =====================================  ======================
training (one at a time)   ``<runs root>/.training.lock``         ``train``, ``train
                                                                  --resume``, a job the
                                                                  dashboard launched
run claim                  ``<run folder>/.lock``                 the process training
                                                                  that run
=========================  =====================================  ======================

The dashboard takes the training lock itself and hands its open file to the training
subprocess (``pass_fds`` plus :data:`LOCK_FD_ENV`), so there is no moment at which two
launches can both see the lock free. Locks conflict between open files, so two
threads of one process that each open the file also exclude each other; nested holds
of the same lock by one thread are counted instead (see :func:`hold`).

This module imports neither TensorFlow nor Keras and works on POSIX systems.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import RunError

#: Name of the training lock under the runs root.
TRAINING_LOCK = ".training.lock"
#: Name of a run's claim file inside its folder.
RUN_LOCK = ".lock"
#: Environment variable naming an inherited, already locked descriptor of the training lock.
LOCK_FD_ENV = "VOE_TRAINING_LOCK_FD"


class LockBusy(RunError):
    """A lock is held by another process (or another thread of this one).

    Attributes
    ----------
    holder : dict
        The holder's note (``pid``, ``host``, ``what``, ...); empty when unreadable.
    """

    def __init__(self, message: str, holder: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.holder = holder or {}


class FileLock:
    """An exclusive ``flock`` on ``path``, with a JSON note of its holder.

    Parameters
    ----------
    path : Path
        The lock file (created if missing; its folder must exist).
    fd : int, optional
        An already open and locked descriptor of ``path`` to adopt (inherited from a
        parent process).
    """

    def __init__(self, path: str | Path, *, fd: int | None = None) -> None:
        self.path = Path(path)
        self.fd = fd

    @property
    def held(self) -> bool:
        return self.fd is not None

    def acquire(self, *, wait: float = 0.0, note: dict[str, Any] | None = None) -> FileLock:
        """Take the lock, retrying for up to ``wait`` seconds; write ``note`` into the file.

        Raises
        ------
        LockBusy
            When another holder keeps it for longer than ``wait``.
        """
        if self.fd is not None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    holder = read_note(self.path)
                    raise LockBusy(f"{self.path.name} is held by {describe(holder)}", holder) from None
                time.sleep(0.05)
        self.fd = fd
        if note is not None:
            self.write_note(note)
        return self

    def write_note(self, note: dict[str, Any]) -> None:
        """Replace the file's note (only while holding the lock)."""
        if self.fd is None:
            raise RunError(f"{self.path.name}: write_note needs the lock")
        data = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(), **note})
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data.encode("utf-8"), 0)

    def release(self) -> None:
        """Give the lock back (closing the descriptor releases it)."""
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def read_note(path: str | Path) -> dict[str, Any]:
    """The JSON note of a lock file's last holder, or an empty dict."""
    try:
        note = json.loads(Path(path).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return note if isinstance(note, dict) else {}


def holder(path: str | Path) -> dict[str, Any] | None:
    """The note of the process holding the lock now, or None when nobody holds it.

    Probes with a shared, non-blocking lock that is given back at once (a
    claimant retrying for a moment, see :meth:`FileLock.acquire`, is not disturbed).
    A holder whose note cannot be read yet is returned as ``{}``.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return read_note(path)
    finally:
        os.close(fd)
    return None


def describe(note: dict[str, Any]) -> str:
    """``process 1234`` (``on host`` when elsewhere) for messages."""
    pid = note.get("pid", "?")
    host = note.get("host")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    return f"process {pid}{where}"


_HELD: dict[tuple[str, int], tuple[FileLock, int]] = {}
_HELD_LOCK = threading.Lock()


@contextlib.contextmanager
def hold(path: str | Path, *, note: dict[str, Any], wait: float = 1.0, busy: str = "") -> Iterator[FileLock]:
    """Hold the lock on ``path`` for the block; nested holds by the same thread share it.

    Parameters
    ----------
    path : Path
    note : dict
        Written into the lock file for messages (no personal data: run ids, names).
    wait : float
        Seconds to retry before giving up (covers a concurrent :func:`holder` probe).
    busy : str
        Message prefix of the :class:`LockBusy` raised when it is held elsewhere;
        `` by process N`` is appended.

    Raises
    ------
    LockBusy
    """
    key = (str(Path(path).resolve()), threading.get_ident())
    with _HELD_LOCK:
        entry = _HELD.get(key)
        if entry is not None:
            _HELD[key] = (entry[0], entry[1] + 1)
    if entry is None:
        lock = FileLock(path)
        try:
            lock.acquire(wait=wait, note=note)
        except LockBusy as exc:
            if not busy:
                raise
            raise LockBusy(f"{busy} by {describe(exc.holder)}", exc.holder) from None
        with _HELD_LOCK:
            _HELD[key] = (lock, 1)
    try:
        yield _HELD[key][0]
    finally:
        with _HELD_LOCK:
            lock, count = _HELD[key]
            if count > 1:
                _HELD[key] = (lock, count - 1)
            else:
                del _HELD[key]
                lock.release()


def inherited_training_lock(path: str | Path) -> FileLock | None:
    """The training lock handed down by the launching process, if :data:`LOCK_FD_ENV` names it.

    The descriptor is checked to be ``path`` (same file) and to hold the lock; otherwise
    it is ignored and None returned.
    """
    raw = os.environ.pop(LOCK_FD_ENV, "")
    if not raw.isdigit():
        return None
    fd = int(raw)
    try:
        same = os.path.samestat(os.fstat(fd), os.stat(path))
        if same:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # our own open file: succeeds at once
    except OSError:
        return None
    return FileLock(path, fd=fd) if same else None


@contextlib.contextmanager
def training_lock(runs_root: str | Path, *, what: str) -> Iterator[FileLock]:
    """Hold the one training lock of a run store for the block.

    An inherited lock (launched by the dashboard) is adopted; otherwise it is taken.

    Raises
    ------
    LockBusy
        "training run 'X' is already in progress (process N); ..." when another training
        holds it.
    """
    root = Path(runs_root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / TRAINING_LOCK
    lock = inherited_training_lock(path)
    if lock is None:
        lock = FileLock(path)
        try:
            lock.acquire(wait=1.0, note={"what": what, "runs_dir": str(root)})
        except LockBusy as exc:
            raise busy_training(exc.holder) from None
    try:
        yield lock
    finally:
        lock.release()


def busy_training(note: dict[str, Any]) -> LockBusy:
    """The error for a training refused because another one holds the lock."""
    name = note.get("name") or note.get("what") or "?"
    return LockBusy(
        f"training run {name!r} is already in progress ({describe(note)}); "
        "wait for it to finish or cancel it before starting another",
        note,
    )


__all__ = [
    "FileLock",
    "LOCK_FD_ENV",
    "LockBusy",
    "RUN_LOCK",
    "TRAINING_LOCK",
    "busy_training",
    "describe",
    "hold",
    "holder",
    "inherited_training_lock",
    "read_note",
    "training_lock",
]
