"""A run is shown beside its own cohort only; choices travel across pages and in the URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pages.shared.sidebar import FOLDER

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def other_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second synthetic cohort whose pseudonyms (P01 …) overlap the fixture run's."""
    from core.demo import generate_cohort

    out = tmp_path_factory.mktemp("other") / "cohort"
    generate_cohort(out, patients=6, seed=7)
    return out


@pytest.fixture
def with_run(app_env: Path, monkeypatch: pytest.MonkeyPatch, demo_runs_root: Path) -> Path:
    monkeypatch.setenv("VOE_RUNS_DIR", str(demo_runs_root))
    return demo_runs_root


def _app(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=180)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
def test_patient_page_refuses_a_run_of_another_cohort(with_run: Path, other_cohort: Path) -> None:
    at = _app()
    at.sidebar.radio(key="cohort_source").set_value(FOLDER).run()
    at.sidebar.text_input(key="cohort_folder").set_value(str(other_cohort)).run()
    assert not at.exception, at.exception
    at.switch_page("pages/patient.py").run()
    assert not at.exception, at.exception
    # the folder chosen on Overview is still chosen here
    assert at.sidebar.text_input(key="cohort_folder").value == str(other_cohort)
    message = at.error[0].value
    assert "was trained on the synthetic demo cohort" in message
    assert "it is a different cohort" in message and at.query_params["cohort"] == str(other_cohort)
    assert not at.metric  # no probability beside another cohort's facts

    at.sidebar.radio(key="cohort_source").set_value("Demo cohort (synthetic)").run()
    assert not at.exception, at.exception
    assert not at.error
    assert at.metric  # the run's own cohort: its probability is shown


@pytest.mark.slow
def test_run_and_patient_persist_across_pages_and_come_back_from_the_url(with_run: Path) -> None:
    from core.runs import list_runs

    run_id = list_runs(with_run)["run_id"].iloc[0]
    at = _app()
    at.switch_page("pages/patient.py").run()
    patients = at.selectbox(key="p_patient").options
    chosen = patients[-1]
    at.selectbox(key="p_patient").set_value(chosen).run()
    assert at.query_params["patient"] == chosen
    assert at.query_params["run"] == run_id
    assert at.query_params["cohort"] == "demo"

    at.switch_page("pages/results.py").run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="run_id").value == run_id
    at.switch_page("pages/patient.py").run()
    assert at.selectbox(key="p_patient").value == chosen

    # a fresh session opened from the link shows the same view
    link = _app({"cohort": "demo", "run": run_id, "patient": chosen})
    link.switch_page("pages/patient.py").run()
    assert not link.exception, link.exception
    assert link.selectbox(key="p_patient").value == chosen
    assert link.sidebar.selectbox(key="run_id").value == run_id
    assert any(m.value.endswith("synthetic data]") for m in link.markdown)  # the run's badge
    assert any(m.value.endswith("synthetic data]") for m in link.sidebar.markdown)  # the cohort's


@pytest.mark.slow
def test_patient_view_speaks_plainly_and_flags_a_disagreement(with_run: Path) -> None:
    from core import patient, patient_words
    from core.runs import list_runs, load_run

    run = load_run(list_runs(with_run)["run_dir"].iloc[0])
    disagreeing = [
        p for p in patient.patient_ids(run) if patient_words.disagreement(patient.patient_probability(run, p))
    ]
    assert disagreeing, "a 3-epoch run gets some patients wrong"
    at = _app({"cohort": "demo", "patient": disagreeing[0]})
    at.switch_page("pages/patient.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="p_patient").value == disagreeing[0]
    assert any("The prediction disagrees with what happened" in w.value for w in at.warning)
    shown = " ".join(
        [m.value for m in at.markdown]
        + [c.value for c in at.caption]
        + [d.value.to_csv() for d in at.dataframe]
    )
    for internal in ("fold_key", "r0f", "part test", "label 1", "label 0"):
        assert internal not in shown
    assert "fold " in shown and "cut-off" in shown
