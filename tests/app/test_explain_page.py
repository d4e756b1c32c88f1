"""Explain page on the fixture run: maps, ΔCAM, occlusion, masking."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest


@pytest.fixture
def explain_page(app_env: Path, monkeypatch: pytest.MonkeyPatch, demo_runs_root: Path) -> AppTest:
    monkeypatch.setenv("VOE_RUNS_DIR", str(demo_runs_root))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "streamlit_app.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/explain.py").run()
    assert not at.exception, at.exception
    return at


def test_explain_page_draws_maps_occlusion_and_masking(explain_page: AppTest, demo_runs_root: Path) -> None:
    at = explain_page
    titles = [s.value for s in at.subheader]
    assert titles[:3] == [
        "In plain words",
        "Occlusion: what happens when a band or a time chunk is hidden",
        "Branch masking per fold",
    ]
    assert "P(poor) =" in at.caption[0].value or any("P(poor) =" in c.value for c in at.caption)
    # One 1-based fold naming, and segments named by recording and window, never by row number.
    assert list(at.selectbox(key="e_fold").options) == ["fold 1", "fold 2", "fold 3"]
    segment = at.selectbox(key="e_segment")
    assert all("· window " in o and not o.startswith("segment ") for o in segment.options)
    assert any(c.value.startswith(segment.options[segment.index].split(" · P(")[0]) for c in at.caption)
    masking = at.dataframe[0].value
    assert {"mel mean |Δp|", "STFT mean |Δp|", "mel mean Δp (poor)", "mel mean Δp (all; study)"} <= set(
        masking.columns
    )
    # Every fold of the run, in order; only the shown fold is computed on first view.
    assert list(masking["Fold"]) == ["fold 1", "fold 2", "fold 3"]
    assert list(masking["Computed"]) == [True, False, False]
    assert masking["mel mean |Δp|"].iloc[0] >= abs(masking["mel mean Δp (all; study)"].iloc[0])
    assert any("intact − with the branch's image masked" in c.value for c in at.caption)

    # Another fold: the segment box holds only that fold's segments, the masking rows stay in order.
    at.selectbox(key="e_fold").set_value("r0f1").run()
    assert not at.exception, at.exception
    box = at.selectbox(key="e_segment")
    shown = box.options[box.index].split(" · P(")[0]  # the box's label names the segment the maps show
    assert any(c.value.startswith(shown) for c in at.caption)
    assert list(at.dataframe[0].value["Computed"]) == [True, True, False]
    # A segment that runs into the zero padding of a short clip says so; a whole one does not.
    from core.explain import load_fold

    segments = load_fold(demo_runs_root / at.session_state["e_run"], "r0f1").segments
    padded = bool(segments.iloc[int(at.session_state["e_segment"])]["padded"])
    assert any("zero padding" in w.value for w in at.warning) == padded
    at.radio(key="e_method").set_value("eigencam").run()
    assert not at.exception, at.exception
    at.segmented_control(key="e_cell").set_value("TN").run()
    assert not at.exception, at.exception
    at.segmented_control(key="e_scope").set_value("fold").run()
    assert not at.exception, at.exception
