"""Where the folds of a run are trained: ``local`` (this process, one after another) or ``ray``.

The local backend is :func:`core.training.train_fold` in a loop; the Ray backend
(:mod:`core.backends.ray_backend`) is imported only when chosen, so Ray never slows the
start of the CLI or the dashboard.
"""

from __future__ import annotations

from core.errors import ConfigError

#: Backends a run can be trained with.
BACKENDS: tuple[str, ...] = ("local", "ray")


def check_backend(name: str) -> str:
    """Return ``name`` when it is a known backend.

    Raises
    ------
    ConfigError
        For any other name, listing the known ones.
    """
    if name not in BACKENDS:
        raise ConfigError(f"backend {name!r}; expected one of {BACKENDS}")
    return name
