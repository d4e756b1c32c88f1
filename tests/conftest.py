"""Shared fixtures: the real Saarbruecken subset and the generated demo cohort."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
SVD_ROOT = Path(os.environ.get("VOE_SVD_ROOT", REPO.parent / "shared" / "data" / "svd_subset"))


@pytest.fixture(scope="session")
def svd_root() -> Path:
    """Folder of 162 real SVD recordings (``Datasets/<class>/<session>-<vowel>_<pitch>.wav``)."""
    if not (SVD_ROOT / "Datasets").is_dir():
        pytest.skip(f"Saarbruecken subset not found at {SVD_ROOT}")
    return SVD_ROOT


@pytest.fixture(scope="session")
def demo_cohort_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo cohort (43 patients, seed 0), generated once per test session."""
    from core.demo import generate_cohort

    out = tmp_path_factory.mktemp("demo") / "cohort"
    generate_cohort(out, patients=43, seed=0)
    return out
