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
