"""What ``train`` and ``sweep`` do around their work: SIGTERM cancels, locks let go, the queue moves on.

Both commands hold the run store's training lock while they train (:mod:`core.locks`).
:func:`training_session` turns SIGTERM (the dashboard's Cancel) into
:class:`core.run_lifecycle.RunCancelled`, releases every lock the command took on the way
out, and then starts the oldest queued training (:mod:`core.run_queue`), whatever way
the command ended.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from typing import Any


def _on_sigterm(signum: int, frame: Any) -> None:
    from core.run_lifecycle import RunCancelled

    raise RunCancelled("cancelled")


@contextlib.contextmanager
def training_session(runs_dir: str | None) -> Iterator[contextlib.ExitStack]:
    """SIGTERM cancels the work inside; yields the stack that holds the command's locks.

    On the way out the locks are released, the previous SIGTERM handler comes back, and
    the next queued training of ``runs_dir`` starts (:func:`start_queued`).
    """
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    held = contextlib.ExitStack()
    try:
        yield held
    finally:
        held.close()
        signal.signal(signal.SIGTERM, previous)
        start_queued(runs_dir)


def start_queued(runs_dir: str | None) -> None:
    """Start the oldest queued run or sweep (:mod:`core.run_queue`): this training let go of the lock."""
    from core.run_queue import drain

    try:
        job = drain(runs_dir)
    except Exception as exc:  # the queue must never turn a finished run into an error
        print(f"warning: could not start the next queued training: {exc}", file=sys.stderr)
        return
    if job is not None:
        print(f"started the next queued training {job.name!r} (process {job.pid})", file=sys.stderr)


__all__ = ["start_queued", "training_session"]
