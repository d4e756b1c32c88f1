"""The Results page launches the acoustic baseline as a background job and shows its result (AppTest)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_run(app_env: Path, monkeypatch: pytest.MonkeyPatch, demo_runs_root: Path) -> Path:
    """A private copy of the fixture run (the baseline writes into the run folder)."""
    from core.runs import list_runs

    source = Path(list_runs(demo_runs_root)["run_dir"].iloc[0])
    root = app_env / "runs"
    shutil.copytree(source, root / source.name, ignore=shutil.ignore_patterns("explain", "baseline"))
    monkeypatch.setenv("VOE_RUNS_DIR", str(root))
    return root / source.name


@pytest.mark.slow
def test_the_baseline_button_launches_a_job_and_its_result_appears(own_run: Path) -> None:
    from core import baseline_jobs
    from core.baseline.comparison import load_comparison

    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/results.py").run()
    assert not at.exception, at.exception
    assert any("has not been run for this run yet" in i.value for i in at.info)
    at.multiselect(key="r_baseline_models").set_value(["logreg"])
    at.button(key="r_baseline_run").click().run()
    assert not at.exception, at.exception
    job = at.session_state["baseline_job"]
    assert job.argv[:4] == ["-m", "core", "baseline", "--run"] and "logreg" in job.argv
    assert baseline_jobs.active_baseline(own_run) is not None  # its lock is held while it runs
    with pytest.raises(baseline_jobs.JobError, match="already being computed"):
        baseline_jobs.launch(own_run)
    state = baseline_jobs.wait(job, timeout=600)
    assert state["status"] == "complete", state["log_tail"]
    assert baseline_jobs.active_baseline(own_run) is None

    at.run()
    assert not at.exception, at.exception
    comparison = load_comparison(own_run)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["CNN patient AUROC"] == f"{comparison.summary['cnn_patient_auroc_mean']:.3f}"
    assert any(label.startswith("Baseline comparator") for label in metrics)
    assert "r_baseline_run" not in [b.key for b in at.button]
