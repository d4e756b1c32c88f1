"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def atomic_write(path: Path, write: Callable[[IO[Any]], None], *, binary: bool = False) -> None:
    """Write ``path`` through a temporary file in the same folder, then ``os.replace``.

    Parameters
    ----------
    path : Path
        Destination; its folder is created if needed.
    write : callable
        Receives the open temporary file (text UTF-8 with ``newline=""``, or binary).
    binary : bool
        Open the temporary file in binary mode.

    The temporary file is removed when ``write`` or the replace fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        mode = {"mode": "wb"} if binary else {"mode": "w", "newline": "", "encoding": "utf-8"}
        with os.fdopen(fd, **mode) as handle:
            write(handle)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; written files are as readable as any other
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda handle: handle.write(text))
