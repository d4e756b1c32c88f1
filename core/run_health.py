"""Is a run really being trained? The per-run claim, the heartbeat and stale detection.

A process that trains a run holds the run's claim (an OS lock on ``<run>/.lock``, see
:mod:`core.locks`) for as long as it writes into the folder, and a background thread
refreshes ``<run>/heartbeat`` every :data:`HEARTBEAT_S` seconds. A second process
that wants to train the same run is refused with "run X is being trained by process
N"; nothing it could write reaches the folder.

The status shown for a run whose manifest still says "running":

- on the host that trains it: "running" exactly while the claim is held. The kernel
  drops the lock when the process dies (also by SIGKILL), so a killed run shows
  "failed" at once, whatever process may later reuse its id;
- elsewhere (another host), or for a folder written before claims existed: "failed"
  when its process id is gone on this host, or when no heartbeat came for
  :data:`STALE_AFTER_S` seconds (a reused process id cannot keep it "running").

Each "failed" verdict comes with a reason such as "the training process stopped
without finishing (no heartbeat since 2025-01-01 12:00:05)".

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core import locks
from core.atomic import atomic_write_text

#: Seconds between two heartbeats of a training process.
HEARTBEAT_S = 10.0
#: Seconds without a heartbeat after which a run that cannot be checked by its lock is stale.
STALE_AFTER_S = 120.0
#: Heartbeat file inside a run folder.
HEARTBEAT_FILE = "heartbeat"


def process_alive(pid: int) -> bool:
    """True when a process with this id exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


@contextlib.contextmanager
def claim(run_dir: str | Path) -> Iterator[None]:
    """Hold the run's claim for the block (nested claims by one thread share it).

    Raises
    ------
    core.locks.LockBusy
        "run X is being trained by process N" when another process (or thread) holds it.
    """
    run_dir = Path(run_dir)
    with locks.hold(
        run_dir / locks.RUN_LOCK,
        note={"run": run_dir.name, "what": "training"},
        wait=1.0,
        busy=f"run {run_dir.name} is being trained",
    ):
        yield


class Heartbeat:
    """A daemon thread writing ``<run>/heartbeat`` every ``interval`` seconds while active.

    Use as a context manager around the training of a run.
    """

    def __init__(self, run_dir: str | Path, *, interval: float = HEARTBEAT_S) -> None:
        self.path = Path(run_dir) / HEARTBEAT_FILE
        self.interval = float(interval)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        atomic_write_text(
            self.path, json.dumps({"time": time.time(), "pid": os.getpid(), "host": socket.gethostname()})
        )

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except OSError:
                continue  # a full disk must not kill training; staleness will show it

    def __enter__(self) -> Heartbeat:
        self.beat()
        self._thread = threading.Thread(
            target=self._loop, name=f"heartbeat-{self.path.parent.name}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 1)


def last_heartbeat(manifest: dict[str, Any], run_dir: str | Path | None = None) -> float:
    """Latest sign of life of a run (``time.time()`` seconds): heartbeat file, progress, manifest."""
    times = [float(manifest.get("heartbeat") or 0.0)]
    if run_dir is not None:
        for name in (HEARTBEAT_FILE, "progress.json"):
            try:
                times.append(float(json.loads((Path(run_dir) / name).read_text(encoding="utf-8"))["time"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
    return max(times)


def _when(seconds: float) -> str:
    if seconds <= 0:
        return "never"
    return dt.datetime.fromtimestamp(seconds).isoformat(sep=" ", timespec="seconds")


def run_state(
    manifest: dict[str, Any], run_dir: str | Path | None = None, *, now: float | None = None
) -> tuple[str, str]:
    """The status to show and why.

    Parameters
    ----------
    manifest : dict
    run_dir : path, optional
        The run folder; without it only the process id and the manifest's heartbeat
        can be checked.
    now : float, optional
        Current ``time.time()`` (tests).

    Returns
    -------
    status : str
        The manifest's status, except "failed" for a "running" run that nobody trains.
    reason : str
        The manifest's ``error`` for a finished run; for a stale run, what was seen.
    """
    status = manifest.get("status", "failed")
    if status != "running":
        return status, str(manifest.get("error", ""))
    now = time.time() if now is None else now
    beat = last_heartbeat(manifest, run_dir)
    stopped = f"the training process stopped without finishing (no heartbeat since {_when(beat)})"
    same_host = manifest.get("host") == socket.gethostname()
    lock_file = Path(run_dir) / locks.RUN_LOCK if run_dir is not None else None
    if same_host and lock_file is not None and lock_file.is_file():
        return ("running", "") if locks.holder(lock_file) is not None else ("failed", stopped)
    pid = int(manifest.get("pid", -1) or -1)
    if same_host and not process_alive(pid):
        return "failed", stopped
    if now - beat > STALE_AFTER_S:
        return "failed", stopped
    return "running", ""


__all__ = [
    "HEARTBEAT_FILE",
    "HEARTBEAT_S",
    "Heartbeat",
    "STALE_AFTER_S",
    "claim",
    "last_heartbeat",
    "process_alive",
    "run_state",
]
