"""Cohort page: the label-mapping form loads the real pd_vowels folder with its labels.csv."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]
PD_ROOT = Path(os.environ.get("VOE_PD_ROOT", REPO.parent / "shared" / "data" / "pd_vowels"))


@pytest.fixture
def pd_page(app: AppTest, pd_root: Path) -> AppTest:
    at = app.switch_page("pages/cohort.py").run()
    at.sidebar.radio(key="cohort_source").set_value("A folder on this machine").run()
    at.sidebar.text_input(key="cohort_folder").input(str(PD_ROOT)).run()
    assert not at.exception, at.exception
    return at


def _summary(at: AppTest) -> str:
    return next(m.value for m in at.markdown if " layout · " in m.value)


def test_label_sheet_form_loads_pd_vowels(pd_page: AppTest) -> None:
    at = pd_page
    # without a mapping the class folders load, one speaker per file
    assert _summary(at).startswith("**class_folders** layout · 81 patients · 81 recordings · 0 errors")
    at.radio(key="c_mode").set_value("A label sheet (CSV or Excel)").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="c_sheet").value == PD_ROOT.resolve() / "labels.csv"
    # the columns are pre-filled with the detected ones, the positive value inferred (HC is a control group)
    assert at.selectbox(key="c_col_path_labels.csv").value == "path"
    assert at.selectbox(key="c_col_patient_labels.csv").value == "participant_id"
    assert at.selectbox(key="c_col_label_labels.csv").value == "group"
    assert at.selectbox(key="c_col_vowel_labels.csv").value == "(none)"
    assert at.selectbox(key="c_positive_labels.csv_group").value == "PD"
    preview = at.dataframe[0].value
    assert preview[["value", "label", "patients", "files_found"]].values.tolist() == [
        ["HC", 0, 41, 41],
        ["PD", 1, 40, 40],
    ]
    at.button(key="c_apply").click().run()
    assert not at.exception, at.exception
    assert _summary(at) == (
        "**label_sheet** layout · 81 patients · 81 recordings · 0 errors · 1 warnings · "
        "HC = 0 (41 patients) · PD = 1 (40 patients)"
    )
    assert any("This mapping is in use" in c.value for c in at.caption)
    patients = next(d.value for d in at.dataframe if "patient_id" in d.value.columns)
    assert len(patients) == 81 and set(patients["outcome"]) == {"HC", "PD"}
    # the mapping travels with the cohort to the other pages
    overview = at.switch_page("pages/overview.py").run()
    assert not overview.exception, overview.exception
    assert {m.label: m.value for m in overview.metric}["Patients"] == "81"
    captions = [c.value for c in overview.sidebar.caption]
    assert "Labels: pd_vowels with labels from labels.csv, positive = PD (set on the Cohort page)" in captions


def test_positive_folder_is_chosen_in_the_form(pd_page: AppTest) -> None:
    at = pd_page
    at.selectbox(key="c_folder_positive").set_value("HC").run()
    at.button(key="c_apply").click().run()
    assert not at.exception, at.exception
    assert _summary(at).endswith("PD = 0 (40 patients) · HC = 1 (41 patients)")


def test_a_sweep_of_a_label_sheet_cohort_carries_its_mapping(pd_page: AppTest, launches: list[dict]) -> None:
    """The Train page's sweep hands the CLI the label sheet, so every run of the grid reads it."""
    from core.__main__ import build_parser
    from core.commands.cohort_options import cohort_source

    calls = launches
    at = pd_page
    at.radio(key="c_mode").set_value("A label sheet (CSV or Excel)").run()
    at.button(key="c_apply").click().run()
    at = at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    at.button(key="s_start").click().run()
    assert not at.exception, at.exception
    call = calls[0]
    assert call["command"] == "sweep"
    args = build_parser().parse_args(
        ["sweep", "--cohort", str(call["cohort"]), "--name", call["name"], *call["options"]]
    )
    source = cohort_source(args)
    assert source.labels == PD_ROOT.resolve() / "labels.csv" and source.positive == "PD"
    cohort = source.load()
    assert cohort.layout == "label_sheet" and len(cohort.patients) == 81
    assert cohort.class_names == ("HC", "PD")


def test_a_link_carries_the_label_mapping(pd_page: AppTest, app_env: Path) -> None:
    """The URL holds the folder and its label sheet; a new session opened from it reads the same cohort."""
    at = pd_page
    at.radio(key="c_mode").set_value("A label sheet (CSV or Excel)").run()
    at.button(key="c_apply").click().run()
    assert not at.exception, at.exception
    link = {key: (value[0] if isinstance(value, list) else value) for key, value in at.query_params.items()}
    assert link["cohort"] == str(PD_ROOT)
    assert Path(link["labels"]) == PD_ROOT.resolve() / "labels.csv" and link["positive"] == "PD"
    fresh = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    for key, value in link.items():
        fresh.query_params[key] = value
    fresh.run()
    assert not fresh.exception, fresh.exception
    assert {m.label: m.value for m in fresh.metric}["Patients"] == "81"
    captions = [c.value for c in fresh.sidebar.caption]
    assert "Labels: pd_vowels with labels from labels.csv, positive = PD (set on the Cohort page)" in captions
