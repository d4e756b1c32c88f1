"""Patient, Present and Predict pages on the fixture run (AppTest).

AppTest cannot upload a file, so the Predict page is checked in its empty state here and
its core path in tests/test_predict.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]


def open_page(name: str) -> AppTest:
    """The page through the app's navigation when it is registered there, else on its own."""
    path = f"pages/{name}.py"
    if path in (REPO / "streamlit_app.py").read_text(encoding="utf-8"):
        at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=180)
        at.run()
        at.switch_page(path)
    else:
        at = AppTest.from_file(str(REPO / path), default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def with_run(app_env: Path, monkeypatch: pytest.MonkeyPatch, demo_runs_root: Path) -> Path:
    monkeypatch.setenv("VOE_RUNS_DIR", str(demo_runs_root))
    return demo_runs_root


@pytest.fixture
def stored(with_run: Path):
    from core.runs import list_runs, load_run

    return load_run(list_runs(with_run)["run_dir"].iloc[0]).patient_predictions


@pytest.mark.slow
def test_patient_page_shows_the_stored_probability_and_why(with_run: Path, stored) -> None:
    at = open_page("patient")
    assert any("not a diagnosis" in i.value for i in at.info)
    test = stored[stored["part"] == "test"].set_index("patient_id")["prob"]
    first = at.selectbox(key="p_patient").value
    metric = at.metric[0]
    assert metric.value == f"{test[first]:.2f}"
    facts = at.table[0].value
    assert facts.loc["Patient"].iloc[0] == first
    assert len(at.get("audio")) == 8  # four vowels before and after
    assert any(
        m.value.startswith('<div class="voe-calm"><p>The model predicts') and f"patient {first}" in m.value
        for m in at.markdown
    )
    assert len(at.get("plotly_chart")) == 3  # the spread and two Grad-CAM overlays
    assert "the closest to this patient's mean" in at.caption[-1].value

    other = sorted(set(test.index) - {first})[-1]
    at.selectbox(key="p_patient").set_value(other).run()
    assert not at.exception, at.exception
    assert at.metric[0].value == f"{test[other]:.2f}"

    validated = sorted(stored.loc[stored["part"] == "val", "patient_id"].unique())[0]
    at.selectbox(key="p_patient").set_value(validated).run()
    at.toggle(key="p_validation").set_value(True).run()
    assert not at.exception, at.exception
    mine = stored[(stored["patient_id"] == validated) & stored["part"].isin(["test", "val"])]
    assert at.metric[0].value == f"{mine['prob'].mean():.2f}"
    assert any(f"{len(mine)} models did not train on this patient" in m.value for m in at.markdown)


@pytest.mark.slow
def test_present_page_steps_through_the_slides(with_run: Path) -> None:
    at = open_page("present")

    def counter() -> str:
        return next(m.value for m in at.markdown if m.value.startswith("**Slide "))

    def title() -> str:
        return next(m.value for m in at.markdown if m.value.startswith('<div class="voe-slide">'))

    assert counter().startswith("**Slide 1 of 9**")
    assert at.button(key="present_prev").disabled and not at.button(key="present_next").disabled
    assert len(at.get("download_button")) == 1
    at.button(key="present_next").click().run()
    assert counter().startswith("**Slide 2 of 9**") and "<h2>Cohort</h2>" in title()
    assert len(at.get("plotly_chart")) == 1 and len(at.table) == 1  # balance and durations
    for _ in range(2):
        at.button(key="present_next").click().run()
    assert "<h2>Model and protocol</h2>" in title()
    assert "BACKBONE" in set(at.table[0].value["name"])
    at.button(key="present_prev").click().run()
    assert counter().startswith("**Slide 3 of 9**")
    for _ in range(6):
        at.button(key="present_next").click().run()
        assert not at.exception, at.exception
    assert counter().startswith("**Slide 9 of 9**") and at.button(key="present_next").disabled
    assert "<h2>Caveats</h2>" in title()


def test_predict_page_waits_for_a_recording(with_run: Path) -> None:
    at = open_page("predict")
    assert any("not a diagnosis" in w.value for w in at.warning)
    assert any("Upload a recording or record one" in i.value for i in at.info)
    assert any("sustained vowel /a/" in m.value and "3 fold models" in m.value for m in at.markdown)
    assert not at.dataframe  # no checks before a recording


@pytest.mark.parametrize("name", ["patient", "present", "predict"])
def test_pages_without_runs_point_to_training(app_env: Path, name: str) -> None:
    assert f"pages/{name}.py" in (REPO / "streamlit_app.py").read_text(encoding="utf-8")
    at = open_page(name)
    assert any("No trained run yet" in i.value for i in at.info)
