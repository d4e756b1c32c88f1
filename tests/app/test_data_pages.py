"""Overview and Cohort pages on the demo cohort."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def test_overview_shows_cohort_counts(app: AppTest) -> None:
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Patients"] == "43"
    assert int(metrics["Recordings"]) == 43 * 8


def test_cohort_page_filters_patients(app: AppTest) -> None:
    at = app.switch_page("pages/cohort.py").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert len(table) == 43
    assert set(table["patient_id"]) == {f"P{i:02d}" for i in range(1, 44)}
    at.multiselect(key="f_outcome").select("well").run()
    assert not at.exception, at.exception
    assert len(at.dataframe[0].value) == 17
    assert at.subheader[0].value.startswith("Patients (17 of 43)")


def test_folder_source_rejects_missing_folder(app: AppTest) -> None:
    at = app.switch_page("pages/cohort.py").run()
    at.sidebar.radio(key="cohort_source").set_value("A folder on this machine").run()
    at.sidebar.text_input(key="cohort_folder").input("/nonexistent/voices").run()
    assert not at.exception, at.exception
    assert any("does not exist" in e.value for e in at.error)


def test_upload_source_waits_for_a_zip(app: AppTest) -> None:
    at = app.switch_page("pages/cohort.py").run()
    at.sidebar.radio(key="cohort_source").set_value("Upload a zip file").run()
    assert not at.exception, at.exception
    assert any("upload one as a zip file" in i.value for i in at.info)
