"""Downloads of ImageNet weights from Keras' origin into the Keras cache.

:func:`fetch` downloads a backbone's no-top ImageNet file from the URL Keras itself uses
(``KERAS_ORIGINS`` in :mod:`core.models.weights`), checks the md5 Keras publishes for it
and stores it in the Keras cache under Keras' file name, where ``weights="imagenet"``
finds it too. ``VOE_WEIGHTS_URL`` replaces Keras' origin by one base URL
(``<base>/<file name>``): tests serve files from a loopback server, labs a local mirror.

Offline, a download fails fast (5 s connect timeout). The file is written through a
temporary file in the cache folder and renamed only when it is complete and its md5
matches: an interrupted or corrupted download leaves nothing behind and raises
:class:`core.errors.WeightsError`. :func:`ensure_imagenet` is what training calls
before its first fold; :func:`fetch_in_background` is the Train page's Fetch button.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.atomic import atomic_write
from core.errors import ConfigError, WeightsError
from core.models.backbones import BackboneSpec, get_backbone
from core.models.weights import (
    KERAS_ORIGINS,
    WeightsStatus,
    keras_cache_dir,
    record_fetch_failure,
    weights_status,
)

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0
STALE_PART_S = 600.0  # a live download rewrites its temporary file far more often than this

Progress = Callable[[int, int | None], None]


def origin_url(spec: BackboneSpec) -> str:
    """URL of the backbone's no-top ImageNet file (``VOE_WEIGHTS_URL`` overrides the base)."""
    if spec.name not in KERAS_ORIGINS:
        raise ConfigError(f"{spec.label} has no ImageNet weights (it is trained from scratch)")
    base = os.environ.get("VOE_WEIGHTS_URL") or KERAS_ORIGINS[spec.name][0]
    return base.rstrip("/") + "/" + spec.weights_file


def download_text(label: str, done: float, total: float | None) -> tuple[float, str]:
    """Fraction (0..1, 0 when the size is unknown) and one line for a download's progress bar."""
    fraction = min(1.0, done / total) if total else 0.0
    size = f" of {total / 1e6:.1f}" if total else ""
    return fraction, f"downloading ImageNet weights for {label}: {done / 1e6:.1f}{size} MB"


def fetch(
    name: str,
    *,
    progress: Progress | None = None,
    timeout: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
) -> WeightsStatus:
    """Download a backbone's ImageNet file from Keras' origin into the Keras cache.

    Parameters
    ----------
    name : str
        Registry name.
    progress : callable, optional
        ``progress(bytes_done, bytes_total_or_None)`` after every chunk.
    timeout : (float, float)
        Connect and read timeouts in seconds.

    Returns
    -------
    WeightsStatus
        State "cached".

    Raises
    ------
    WeightsError
        Offline, HTTP error, interrupted download or md5 different from Keras' published
        one; nothing is left in the cache.
    """
    import requests

    spec = get_backbone(name)
    url = origin_url(spec)
    expected = KERAS_ORIGINS[spec.name][1]
    target = keras_cache_dir() / spec.weights_file
    _remove_stale_parts(target)

    def write(handle: Any, response: Any) -> None:
        total = int(response.headers.get("Content-Length") or 0) or None
        md5, done = hashlib.md5(), 0
        for chunk in response.iter_content(chunk_size=1 << 20):
            handle.write(chunk)
            md5.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        if total is not None and done != total:
            raise WeightsError(
                f"download of {spec.weights_file} from {url} stopped after {done} of {total} bytes; "
                "nothing was kept"
            )
        if md5.hexdigest() != expected:
            raise WeightsError(
                f"{spec.weights_file} from {url} has md5 {md5.hexdigest()}, not Keras' published {expected}; "
                "the file was not kept"
            )

    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            response.raise_for_status()
            atomic_write(target, lambda handle: write(handle, response), binary=True)
    except requests.RequestException as exc:
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        raise WeightsError(
            f"cannot download {spec.weights_file} from {url} ({reason}); nothing was kept"
        ) from None
    record_fetch_failure(spec.name, "")
    return weights_status(spec.name)


def _remove_stale_parts(target: Path) -> None:
    """Delete temporary files of downloads killed outright (no exception handler ran) long ago."""
    for part in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            if time.time() - part.stat().st_mtime > STALE_PART_S:
                part.unlink()
        except OSError:
            pass  # another process finished or removed it


def ensure_imagenet(name: str, *, progress: Progress | None = None) -> str:
    """Make a backbone's ImageNet weights available, fetching them when missing.

    Returns
    -------
    str
        "" when a file is ready (cached, imported or just fetched), otherwise why not
        (also remembered for :func:`resolve_weights`'s reason).
    """
    status = weights_status(name)
    if status.state in ("cached", "imported", "none"):
        return ""
    try:
        fetch(name, progress=progress)
    except WeightsError as exc:
        record_fetch_failure(status.backbone, str(exc))
        return str(exc)
    return ""


class FetchJob:
    """A download running in a background thread (the Train page's Fetch button).

    Attributes
    ----------
    backbone : str
    done, total : int, int or None
        Bytes received and expected.
    error : str
        Why the download failed ("" while running or after success).
    finished : bool
    """

    def __init__(self, backbone: str) -> None:
        self.backbone = backbone
        self.done, self.total = 0, None
        self.error = ""
        self.finished = False
        self._thread = threading.Thread(target=self._run, name=f"fetch-{backbone}", daemon=True)

    def _progress(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total

    def _run(self) -> None:
        try:
            fetch(self.backbone, progress=self._progress)
        except Exception as exc:  # shown on the page; the thread must not die silently
            self.error = str(exc)
        finally:
            self.finished = True

    def progress(self) -> tuple[float, str]:
        """Fraction done and one line, as :func:`download_text`."""
        return download_text(self.backbone, self.done, self.total)


_JOBS: dict[str, FetchJob] = {}
_JOBS_LOCK = threading.Lock()


def fetch_in_background(name: str) -> FetchJob:
    """Start (or return the running) background download of a backbone's ImageNet file."""
    spec = get_backbone(name)
    origin_url(spec)  # no ImageNet weights: fail here, on the caller's thread
    with _JOBS_LOCK:
        job = _JOBS.get(spec.name)
        if job is None or job.finished:
            job = _JOBS[spec.name] = FetchJob(spec.name)
            job._thread.start()
        return job


def fetch_jobs() -> dict[str, FetchJob]:
    """Background downloads of this process by backbone (running and finished)."""
    with _JOBS_LOCK:
        return dict(_JOBS)


__all__ = [
    "CONNECT_TIMEOUT_S",
    "FetchJob",
    "download_text",
    "ensure_imagenet",
    "fetch",
    "fetch_in_background",
    "fetch_jobs",
    "origin_url",
]
