"""Where the tool keeps what it generates: the demo cohort, the array cache, the runs.

Everything defaults to folders under the current working directory (git-ignored in
the repository) and can be moved with environment variables, so tests and several
users on one machine never collide.

=================  ======================  =====================
what               default                 environment variable
=================  ======================  =====================
demo cohort        ``./demo_cohort``       ``VOE_DEMO_DIR``
array cache        ``./.cache/voe``        ``VOE_CACHE_DIR``
runs               ``./runs``              ``VOE_RUNS_DIR``
uploaded cohorts   ``./.cache/voe/uploads``  ``VOE_CACHE_DIR``
=================  ======================  =====================
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def demo_dir() -> Path:
    """Folder of the built-in demo cohort."""
    return Path(os.environ.get("VOE_DEMO_DIR", Path.cwd() / "demo_cohort")).resolve()


def cache_dir() -> Path:
    """Folder of the preprocessing cache (spectrogram arrays per recording)."""
    return Path(os.environ.get("VOE_CACHE_DIR", Path.cwd() / ".cache" / "voe")).resolve()


def uploads_dir() -> Path:
    """Folder where cohorts uploaded as zip files are unpacked (one sub-folder per upload)."""
    return cache_dir() / "uploads"


#: Environment variable that moves the run store.
RUNS_ENV = "VOE_RUNS_DIR"


def runs_dir() -> Path:
    """Folder that holds one sub-folder per training run (``$VOE_RUNS_DIR``, else ``./runs``)."""
    return Path(os.environ.get(RUNS_ENV) or Path.cwd() / "runs").resolve()


def ensure_demo_cohort(
    *, patients: int = 43, seed: int = 0, progress: Callable[[int, int], None] | None = None
) -> Path:
    """Return the demo cohort folder, generating it first if it is not there yet.

    The generator writes into a staging folder and renames it into place, so the folder
    exists with its truth file only when complete; an interrupted first launch is
    simply generated again.

    Parameters
    ----------
    progress : callable, optional
        ``progress(done, total)`` in patients while generating.
    """
    from core.demo import TRUTH_FILE, generate_cohort

    root = demo_dir()
    if not (root / TRUTH_FILE).is_file():
        generate_cohort(root, patients=patients, seed=seed, progress=progress)
    return root
