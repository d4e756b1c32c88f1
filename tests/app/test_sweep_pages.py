"""Sweep section of the Train page and the sweep table of the Results page."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]


def test_train_page_sweep_section_queues_a_parseable_sweep(app: AppTest, launches: list[dict]) -> None:
    from core.__main__ import build_parser
    from core.commands.sweep import build_spec
    from core.sweep import configurations

    calls = launches
    at = app.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    at.multiselect(key="s_inputs").set_value(["dual", "mel"]).run()
    at.number_input(key="s_repeats").set_value(3).run()
    assert any("2 configuration(s) × 3 repeat(s) × 5 folds = 30" in c.value for c in at.caption)
    at.button(key="s_start").click().run()  # the launch is refused (busy): the sweep waits in the queue
    assert not at.exception, at.exception
    assert any("Sweep 'sweep' queued at position 1." in m.value for m in at.success)
    assert at.dataframe[0].value["name"].tolist() == ["sweep"]  # the queue, above the form
    call = calls[0]  # the page tries the queue again on each rerun while nothing trains: same request
    assert all(c == call for c in calls)
    assert call["command"] == "sweep" and call["preset"] == "quick"
    args = build_parser().parse_args(
        [
            "sweep",
            "--cohort",
            str(call["cohort"]),
            "--name",
            call["name"],
            "--preset",
            call["preset"],
            *call["options"],
        ]
    )
    labels = [label for label, _ in configurations(build_spec(args))]
    assert labels == ["quick-small_cnn-dual", "quick-small_cnn-mel"]
    assert args.repeats == 3 and args.backend == "local"


@pytest.mark.slow
def test_results_page_shows_the_sweep_table(
    app_env: Path, monkeypatch: pytest.MonkeyPatch, demo_sweep_root: Path
) -> None:
    monkeypatch.setenv("VOE_RUNS_DIR", str(demo_sweep_root))
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    at.run()
    at = at.switch_page("pages/results.py").run()
    assert not at.exception, at.exception
    table = at.dataframe[-1].value
    assert list(table["configuration"]) == ["quick-small_cnn-dual", "quick-small_cnn-mel"]
    assert table["auroc"].iloc[0].count("(") == 1 and list(table["repeats"]) == [2, 2]
    at.selectbox(key="r_sweep_ref").set_value("quick-small_cnn-mel").run()
    assert not at.exception, at.exception
    table = at.dataframe[-1].value
    assert table["delong_p"].isna().tolist() == [False, True]


def test_train_page_queues_a_per_vowel_sweep(app: AppTest, launches: list[dict]) -> None:
    from core.__main__ import build_parser
    from core.commands.sweep import build_spec
    from core.sweep import configurations

    at = app.switch_page("pages/train.py").run()
    at.multiselect(key="s_vowels").set_value(["A"]).run()
    assert at.button(key="s_start").disabled  # one vowel alone is not a per-vowel sweep
    at.multiselect(key="s_vowels").set_value(["A", "I", "U", "E"]).run()
    assert any("5 configuration(s) × 2 repeat(s) × 5 folds = 50" in c.value for c in at.caption)
    at.button(key="s_start").click().run()
    assert not at.exception, at.exception
    call = launches[0]
    assert call["options"][:2] == ["--per-vowel", "A,I,U,E"]
    args = build_parser().parse_args(
        ["sweep", "--cohort", str(call["cohort"]), "--name", call["name"], "--preset", call["preset"]]
        + call["options"]
    )
    grid = configurations(build_spec(args))
    assert [label for label, _ in grid] == [
        "quick-small_cnn-dual-vowel_A",
        "quick-small_cnn-dual-vowel_I",
        "quick-small_cnn-dual-vowel_U",
        "quick-small_cnn-dual-vowel_E",
        "quick-small_cnn-dual-vowels_AIUE",
    ]
    assert grid[-1][1].preprocess.selection.vowels == ("A", "I", "U", "E")


@pytest.mark.slow
def test_results_page_shows_the_fused_per_vowel_row(
    app_env: Path, monkeypatch: pytest.MonkeyPatch, demo_vowel_sweep: dict
) -> None:
    from core.sweep import sweep_table

    monkeypatch.setenv("VOE_RUNS_DIR", str(demo_vowel_sweep["root"]))
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    at.run()
    at = at.switch_page("pages/results.py").run()
    assert not at.exception, at.exception
    table = at.dataframe[-1].value
    expected = sweep_table(demo_vowel_sweep["sweep_dir"])
    assert table["configuration"].iloc[-1] == "fused per vowel (A+I) · quick-small_cnn-dual"
    assert table["val_auroc_mean"].tolist() == pytest.approx(expected["val_auroc_mean"].tolist())
    assert table["auroc"].tolist() == expected["auroc"].tolist()
    assert any("fused per vowel" in c.value and "inner validation" in c.value for c in at.caption)
