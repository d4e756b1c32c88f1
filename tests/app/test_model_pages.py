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
    assert list(test_table["Fold"]) == [
        "Fold 1",
        "Fold 2",
        "Fold 3",
        "Mean ± SD over folds (population SD, as the study)",
    ]
    labels = [m.label for m in at.metric]
    # The pooled AUROC sits beside its own bootstrap CI; the mean over folds is labelled as such.
    assert labels[:3] == [
        "Pooled patient AUROC (all test folds)",
        "95 % CI of the pooled AUROC (bootstrap)",
        "Patient AUROC, mean ± SD over folds",
    ]
    assert not any("95 % CI over repeats" in label for label in labels)
    assert test_table["AUROC (%)"].iloc[0].endswith("%")
    assert test_table["Best epoch"].iloc[0].isdigit()
    assert " ± " in test_table["AUROC (%)"].iloc[-1]
    from core.curves import curves_caption

    assert curves_caption("full") in [c.value for c in at.caption]  # the demo run drew full curves
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
    auroc, _, std = metrics["Patient AUROC, mean ± SD over folds"].partition(" ± ")
    assert 0.0 <= float(auroc) <= 1.0 and float(std) >= 0.0
    assert metrics["Folds"] == "3 of 3"


def test_overview_offers_the_one_click_demo_run(app: AppTest) -> None:
    assert any(b.label == "Train the demo run (quick preset)" for b in app.button)


@pytest.fixture
def weights_origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Loopback origin serving a locally made EfficientNetB0 file; its md5 stands in for Keras' own."""
    import functools
    import hashlib
    import http.server
    import threading

    from core.models import weights as store

    served = tmp_path / "origin"
    served.mkdir()
    body = hashlib.sha256(b"weights").digest() * 40_000  # 1.28 MB: several progress steps
    (served / "efficientnetb0_notop.h5").write_bytes(body)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("VOE_WEIGHTS_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setitem(store.KERAS_ORIGINS, "efficientnetb0", ("", hashlib.md5(body).hexdigest()))
    yield hashlib.sha256(body).hexdigest()
    server.shutdown()
    server.server_close()


def weights_states(at: AppTest) -> dict[str, str]:
    table = next(d.value for d in at.dataframe if "state" in d.value.columns)
    return dict(zip(table["label"], table["state"], strict=True))


def test_train_page_shows_weights_states_and_fetches_in_the_background(
    app: AppTest, weights_origin: str
) -> None:
    import time

    at = app.switch_page("pages/train.py").run()
    at.radio(key="t_preset").set_value("seed").run()
    assert not at.exception, at.exception
    states = weights_states(at)
    assert len(states) == 6 and states["EfficientNetB0"] == "missing"
    assert states["Small CNN (from scratch)"] == "none"
    assert any("training fetches it first" in c.value for c in at.caption)
    at.button(key="t_fetch").click().run()
    assert not at.exception, at.exception
    deadline = time.time() + 60
    while weights_states(at)["EfficientNetB0"] != "cached" and time.time() < deadline:
        time.sleep(0.5)
        at.run()
    assert weights_states(at)["EfficientNetB0"] == "cached"
    table = next(d.value for d in at.dataframe if "state" in d.value.columns)
    assert table.set_index("label").loc["EfficientNetB0", "sha256"] == weights_origin[:16]
    assert not any(b.key == "t_fetch" for b in at.button)


def test_train_page_shows_why_a_fetch_failed(
    app: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    # VOE_WEIGHTS_URL stays conftest's closed loopback port: the download fails at once
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    at = app.switch_page("pages/train.py").run()
    at.radio(key="t_preset").set_value("seed").run()
    at.button(key="t_fetch").click().run()
    deadline = time.time() + 30
    while not at.error and time.time() < deadline:
        time.sleep(0.5)
        at.run()
    assert any(
        "cannot download efficientnetb0_notop.h5" in e.value and "random initialisation" in e.value
        for e in at.error
    )
    assert weights_states(at)["EfficientNetB0"] == "missing"


def test_train_page_hands_the_cli_its_settings_as_one_config_file(
    app: AppTest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from core import jobs
    from core.__main__ import build_parser
    from core.commands.train import build_config
    from core.config import preset, with_overrides

    calls = []
    real_launch = jobs.launch

    def record(**kwargs):
        calls.append(kwargs)
        raise jobs.JobError("recorded by the test")

    monkeypatch.setattr(jobs, "launch", record)
    at = app.switch_page("pages/train.py").run()
    at.number_input(key="t_folds_quick").set_value(3).run()
    at.number_input(key="t_finetune_quick").set_value(4).run()
    at.radio(key="t_inputs").set_value("mel").run()
    at.button(key="t_start").click().run()  # refused (busy): the run waits in the queue
    assert not at.exception, at.exception
    assert any("Train 'demo' queued at position 1." in m.value for m in at.success)
    call = calls[0]
    wanted = with_overrides(
        preset("quick"), {"split.n_folds": 3, "train.finetune_epochs": 4, "model.inputs": "mel"}
    )
    assert call["command"] == "train" and call["config"] == wanted.to_dict()
    assert not any(flag in call["options"] for flag in ("--folds", "--set", "--inputs", "--preset"))
    # what the CLI receives: --config FILE, read back into the same settings
    job = real_launch(
        **{**call, "cohort": tmp_path / "missing", "runs_dir": tmp_path / "runs", "name": "page"}
    )
    jobs.wait(job, timeout=120)
    assert build_config(build_parser().parse_args(job.argv[2:])) == wanted


def test_train_page_offers_all_four_vowels_and_spectrogram_augmentation(app: AppTest, launches: list) -> None:
    from core.config import preset, with_overrides

    at = app.switch_page("pages/train.py").run()
    assert at.multiselect(key="t_vowels_quick").value == ["A"]
    assert at.radio(key="t_spec_augment_quick").value == "off"
    at.multiselect(key="t_vowels_quick").set_value([]).run()
    assert any("selection.vowels" in e.value for e in at.error)  # no vowel: a clear error, nothing queued
    at.multiselect(key="t_vowels_quick").set_value(["A", "I", "U", "E"]).run()
    at.radio(key="t_spec_augment_quick").set_value("mask+mix").run()
    values = dict(zip(at.dataframe[0].value["name"], at.dataframe[0].value["value"], strict=True))
    assert values["spec_augment"] == "mask+mix: 1 × 0.2 / 0.15, α 0.2"
    at.button(key="t_start").click().run()
    assert not at.exception, at.exception
    wanted = with_overrides(
        preset("quick"),
        {"preprocess.selection.vowels": ["A", "I", "U", "E"], "train.spec_augment": "mask+mix"},
    )
    assert launches[0]["config"] == wanted.to_dict()
