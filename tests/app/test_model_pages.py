"""Train and Results pages: settings, the study's tables and the plots of a finished run."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest


@pytest.fixture
def app_with_run(app_env: Path, monkeypatch: pytest.MonkeyPatch, demo_runs_root: Path) -> AppTest:
    monkeypatch.setenv("VOE_RUNS_DIR", str(demo_runs_root))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "streamlit_app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_train_page_shows_the_study_hyperparameters(app: AppTest) -> None:
    at = app.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    values = dict(zip(table["name"], table["value"], strict=True))
    assert values["BACKBONE"] == "small_cnn (random)"
    at.radio(key="t_preset").set_value("seed").run()
    assert not at.exception, at.exception
    values = dict(zip(at.dataframe[0].value["name"], at.dataframe[0].value["value"], strict=True))
    assert values["EPOCHS_WARMUP"] == "20"
    assert values["EPOCHS_FINETUNE"] == "60"
    assert values["LR_FINETUNE"] == "1e-05"
    at.radio(key="t_split").set_value("segment_leaky").run()
    assert any("leaky" in w.value for w in at.warning)


def test_results_page_shows_fold_tables_and_reacts_to_level(app_with_run: AppTest) -> None:
    at = app_with_run.switch_page("pages/results.py").run()
    assert not at.exception, at.exception
    test_table = at.dataframe[0].value
    assert list(test_table["Fold"]) == ["Fold 1", "Fold 2", "Fold 3", "Mean ± Std"]
    assert test_table["AUROC (%)"].iloc[0].endswith("%")
    assert test_table["Best epoch"].iloc[0].isdigit()
    assert " ± " in test_table["AUROC (%)"].iloc[-1]
    at.segmented_control(key="r_level").set_value("segment").run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == "Test (segment level)"
    at.slider(key="r_shift").set_value(0.2).run()
    assert not at.exception, at.exception


def test_results_page_without_runs_points_to_training(app: AppTest) -> None:
    at = app.switch_page("pages/results.py").run()
    assert not at.exception, at.exception
    assert any("No trained run yet" in i.value for i in at.info)


def test_overview_shows_headline_metrics_of_the_run(app_with_run: AppTest) -> None:
    metrics = {m.label: m.value for m in app_with_run.metric}
    auroc, _, std = metrics["Patient AUROC (test, mean ± std)"].partition(" ± ")
    assert 0.0 <= float(auroc) <= 1.0 and float(std) >= 0.0
    assert metrics["Folds"] == "3 of 3"


def test_overview_offers_the_one_click_demo_run(app: AppTest) -> None:
    assert any(b.label == "Train the demo run (quick preset)" for b in app.button)
