"""AppTest fixtures: the app points at the session's demo cohort and temp folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, demo_cohort_dir: Path) -> Path:
    monkeypatch.setenv("VOE_DEMO_DIR", str(demo_cohort_dir))
    monkeypatch.setenv("VOE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("VOE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(REPO)
    return tmp_path


@pytest.fixture
def app(app_env: Path) -> AppTest:
    """The app's entry script, run once on its default page."""
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Every background launch a page asks for, recorded and refused as busy (so it is queued)."""
    from core import jobs

    calls: list[dict] = []

    def record(**kwargs):
        calls.append(kwargs)
        raise jobs.JobError("recorded by the test")

    monkeypatch.setattr(jobs, "launch", record)
    return calls
