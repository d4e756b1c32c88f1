"""The training queue: runs and sweeps asked for while another trains wait their turn.

A request is one JSON file in ``<runs root>/_queue/`` (written atomically; the file name
starts with the time it was queued, so names sort oldest first). :func:`submit`
launches a request at once when the run store's training lock is free
(:func:`core.jobs.launch`) and queues it otherwise. :func:`drain` starts the oldest
request: the training CLI calls it when it ends (after releasing the lock), and the
Train page calls it whenever it finds no training running, so a request queued in the
moment a job ended is started too. A request is claimed by renaming its file (atomic),
so two drains never launch the same request; when the lock turns out to be busy after
all, the claim is put back and the request keeps its place.

Requests hold what ``python -m core train``/``sweep`` needs: the command, the cohort
folder, run name, preset or whole config, and options (no personal data). This module imports neither
TensorFlow nor Keras.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core import jobs, runs
from core.atomic import atomic_write_text

QUEUE = "_queue"


@dataclass(frozen=True)
class Request:
    """A queued training.

    Attributes
    ----------
    id : str
        File stem: ``<queued time>-<random>``; sorts oldest first.
    command : {"train", "sweep"}
    cohort, name, preset : str
    options : list of str
        Extra CLI arguments.
    cache_dir : str
        "" for the default.
    queued : float
        ``time.time()`` when queued.
    config : dict, optional
        A whole experiment config for ``train --config FILE`` (the Train page's settings);
        None for the preset plus ``options``.
    """

    id: str
    command: str
    cohort: str
    name: str
    preset: str
    options: list[str] = field(default_factory=list)
    cache_dir: str = ""
    queued: float = 0.0
    config: dict[str, Any] | None = None


def queue_dir(runs_dir: str | Path | None = None) -> Path:
    """The queue folder of a run store."""
    return runs.runs_root(runs_dir) / QUEUE


def enqueue(
    runs_dir: str | Path | None,
    *,
    command: str,
    cohort: str | Path,
    name: str,
    preset: str,
    options: list[str] | None = None,
    cache_dir: str | Path | None = None,
    config: dict[str, Any] | None = None,
) -> Request:
    """Append a request to the queue and return it (``config``: see :attr:`Request.config`)."""
    if command not in ("train", "sweep"):
        raise jobs.JobError(f"queue command {command!r}; expected train or sweep")
    now = time.time()
    request = Request(
        id=f"{now:017.6f}-{uuid.uuid4().hex[:8]}",
        command=command,
        cohort=str(cohort),
        name=name,
        preset=preset,
        options=list(options or []),
        cache_dir=str(cache_dir or ""),
        queued=now,
        config=config,
    )
    folder = queue_dir(runs_dir)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / f"{request.id}.json", json.dumps(asdict(request)))
    return request


def pending(runs_dir: str | Path | None = None) -> list[Request]:
    """Queued requests, oldest first (claimed or unreadable files are skipped)."""
    folder = queue_dir(runs_dir)
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out.append(Request(**json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError):
            continue
    return out


def position(runs_dir: str | Path | None, request_id: str) -> int | None:
    """1-based place of a request in the queue, or None when it is no longer queued."""
    for index, request in enumerate(pending(runs_dir), start=1):
        if request.id == request_id:
            return index
    return None


def remove(runs_dir: str | Path | None, request_id: str) -> bool:
    """Take a request off the queue; False when it was not queued (started or removed)."""
    try:
        (queue_dir(runs_dir) / f"{request_id}.json").unlink()
    except FileNotFoundError:
        return False
    return True


def _launch(request: Request, runs_dir: str | Path | None) -> jobs.Job:
    return jobs.launch(
        cohort=request.cohort,
        name=request.name,
        preset=request.preset,
        runs_dir=runs_dir,
        options=request.options,
        cache_dir=request.cache_dir or None,
        command=request.command,
        config=request.config,
    )


def submit(runs_dir: str | Path | None, **request: object) -> jobs.Job | Request:
    """Launch now when no training runs, else queue; return the :class:`core.jobs.Job` or :class:`Request`.

    Earlier requests go first: with a non-empty queue the new request is queued and the
    oldest one is drained.
    """
    queued = enqueue(runs_dir, **request)  # type: ignore[arg-type]
    if jobs.active_job(runs_dir) is None:
        job = drain(runs_dir)
        if job is not None and position(runs_dir, queued.id) is None:
            return job
    return queued


def drain(runs_dir: str | Path | None = None) -> jobs.Job | None:
    """Start the oldest queued request when the training lock is free; None when nothing started."""
    folder = queue_dir(runs_dir)
    for request in pending(runs_dir):
        path = folder / f"{request.id}.json"
        claimed = folder / f"{request.id}.taken-{os.getpid()}"
        try:
            path.rename(claimed)
        except FileNotFoundError:
            continue  # another drain took it
        try:
            job = _launch(request, runs_dir)
        except jobs.JobError:
            claimed.rename(path)  # busy after all: keep its place
            return None
        claimed.unlink(missing_ok=True)
        return job
    return None


__all__ = ["QUEUE", "Request", "drain", "enqueue", "pending", "position", "queue_dir", "remove", "submit"]
