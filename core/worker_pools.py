"""Worker process pools that are safe beside TensorFlow, Streamlit and test runners.

Two hazards meet here. Forking a process that holds TensorFlow's threads can deadlock the
child, so such a process must ``spawn`` its workers. A spawned worker re-runs the parent's
``__main__`` module, and under Streamlit or Streamlit's AppTest that is a page script: the
worker would import TensorFlow and the dashboard, and anything it starts in turn could hang.
:func:`process_pool` covers both: ``spawn`` when TensorFlow is loaded, ``fork`` otherwise,
and :func:`plain_main` hides the parent's main module while workers start.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import types
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor


def tensorflow_loaded() -> bool:
    """Whether this process has imported TensorFlow (then it must not fork)."""
    return "tensorflow" in sys.modules


@contextlib.contextmanager
def plain_main() -> Iterator[None]:
    """Hide this process's ``__main__`` while spawned workers start.

    ``ProcessPoolExecutor`` starts workers on demand inside ``submit``, so every submit that
    may start one belongs inside this block.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def process_pool(workers: int, *, spawn: bool | None = None) -> ProcessPoolExecutor:
    """A process pool started the safe way for this process.

    Parameters
    ----------
    workers : int
        Number of worker processes (at least 1).
    spawn : bool, optional
        Force ``spawn`` (True) or ``fork`` (False); by default ``spawn`` exactly when
        TensorFlow is loaded here.

    Returns
    -------
    pool : ProcessPoolExecutor
        Submit to it inside :func:`plain_main` when it spawns.
    """
    use_spawn = tensorflow_loaded() if spawn is None else spawn
    context = multiprocessing.get_context("spawn" if use_spawn else "fork")
    return ProcessPoolExecutor(max_workers=max(1, int(workers)), mp_context=context)


__all__ = ["plain_main", "process_pool", "tensorflow_loaded"]
