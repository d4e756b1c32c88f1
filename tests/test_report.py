"""Lab-meeting slides of the demo run, their HTML export, and ``python -m core report``."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from core import report


@pytest.fixture
def run(demo_runs_root, tmp_path):
    """A private copy of the demo run without cached explanations (other tests may add some)."""
    from core.runs import list_runs, load_run

    source = list_runs(demo_runs_root)["run_dir"].iloc[0]
    copy = shutil.copytree(
        source, tmp_path / "runs" / source.split("/")[-1], ignore=shutil.ignore_patterns("explain")
    )
    return load_run(copy)


@pytest.fixture(scope="module")
def cohort(demo_cohort_dir):
    from core.cohort import load_cohort

    return load_cohort(demo_cohort_dir)


def _slide(deck: list[report.Slide], title: str) -> report.Slide:
    return next(s for s in deck if s.title.startswith(title))


def test_slides_carry_the_runs_own_tables(run, cohort):
    from core.cohort.summary import duration_table
    from core.config import hyperparameter_table
    from core.results import study_table

    deck = report.slides(run, cohort)
    assert [s.title for s in deck][:4] == [
        "Predicting voice outcome after injection laryngoplasty (synthetic data)",
        "Cohort",
        "Preprocessing",
        "Model and protocol",
    ]
    durations = _slide(deck, "Cohort").tables[0].frame
    pd.testing.assert_frame_equal(durations, report.readable_durations(duration_table(cohort)))
    assert list(durations.columns[-3:]) == ["shortest (ms)", "longest (ms)", "mean (ms)"]
    raw = duration_table(cohort)["mean_ms"].iloc[-1]
    assert durations["mean (ms)"].iloc[-1] == f"{raw:.1f}" and "," not in durations.to_csv(sep=";")
    config = run.config
    pd.testing.assert_frame_equal(
        _slide(deck, "Model and protocol").tables[0].frame, pd.DataFrame(hyperparameter_table(config))
    )
    pd.testing.assert_frame_equal(
        _slide(deck, "Results per fold (patient").tables[0].frame,
        study_table(run, level="patient", part="test"),
    )
    pd.testing.assert_frame_equal(
        _slide(deck, "Results per fold (segment").tables[0].frame,
        study_table(run, level="segment", part="test"),
    )
    preprocessing = " ".join(_slide(deck, "Preprocessing").bullets)
    assert "10 windows of 50 ms" in preprocessing and "44.5 % overlap" in preprocessing
    assert "64 × 64" in preprocessing  # the demo run's image size, not the study's 224
    counts = _slide(deck, "Cohort").bullets[0]
    assert "43 patients" in counts and "17 well, 26 poor" in counts


def test_pooled_confusion_equals_the_per_fold_counts(run):
    folds = run.folds[(run.folds["level"] == "patient") & (run.folds["part"] == "test")]
    expected = np.array([[folds["tn"].sum(), folds["fp"].sum()], [folds["fn"].sum(), folds["tp"].sum()]])
    np.testing.assert_array_equal(report.confusion_counts(run), expected)
    assert report.confusion_counts(run).sum() == run.manifest["data"]["n_patients"]


def test_explanations_not_computed_point_to_the_command(run, cohort):
    slide = _slide(report.slides(run, cohort), "Key explanations")
    assert not slide.tables and not slide.figures
    assert all(
        f"not computed for every fold yet: run `python -m core explain --run {run.path.name}`" in b
        for b in slide.bullets
    )


def test_without_the_runs_cohort_counts_come_from_the_manifest(run):
    slide = _slide(report.slides(run, None), "Cohort")
    assert not slide.tables and "--cohort DIR" in " ".join(slide.bullets)
    bars = slide.figures[0].data[0]
    assert list(bars.x) == ["well", "poor"] and list(bars.y) == [17, 26]


def test_html_is_one_self_contained_file(run, cohort):
    from plotly.offline import get_plotlyjs

    page = report.export_html(run, cohort)
    deck = report.slides(run, cohort)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count('<section class="slide"') == len(deck)
    assert page.count(get_plotlyjs()[:200]) == 1  # the library inlined exactly once
    # The library's own text names web pages (map attributions) it never loads; the document must not.
    ours = page.replace(get_plotlyjs(), "")
    assert not re.search(r"<script[^>]+src=", ours, flags=re.I)
    assert not re.search(r"<link\b", ours, flags=re.I)
    assert not re.search(r"https?:|(src|href)\s*=\s*[\"']?//", ours, flags=re.I)
    assert "@import" not in ours
    figures = sum(len(s.figures) for s in deck)
    assert ours.count("Plotly.newPlot(") == figures >= 3
    assert len(re.findall(r'<table [^>]*class="dataframe data"', ours)) == sum(len(s.tables) for s in deck)
    assert f"<code>{run.path.name}</code>" in page
    assert "<strong>43 patients</strong>" in page


def test_inline_marks_are_escaped_first():
    assert report.inline("**a** <b> `x<y`") == "<strong>a</strong> &lt;b&gt; <code>x&lt;y</code>"


@pytest.mark.slow
def test_key_explanations_depend_on_the_run_alone(run, cohort):
    from core.explain import FoldExplainer, aggregate_occlusion, cached_masking_table, load_fold

    first = FoldExplainer(load_fold(run.path, 0))
    first.masking()
    first.occlusion()
    # one fold opened on Explain is not the run's explanation: the slide waits for every fold
    partial = _slide(report.slides(run, cohort), "Key explanations")
    assert not partial.tables and not partial.figures
    assert all("not computed for every fold yet" in b for b in partial.bullets)

    occlusions = [first.occlusion()]
    for fold in range(1, 3):
        explainer = FoldExplainer(load_fold(run.path, fold))
        explainer.masking()
        occlusions.append(explainer.occlusion().assign(fold_key=f"r0f{fold}"))
    slide = _slide(report.slides(run, cohort), "Key explanations")
    masking = slide.tables[0].frame
    assert list(masking["fold"]) == ["fold 1", "fold 2", "fold 3"]
    expected = cached_masking_table(run.path)["mel_branch_mean"].round(3).tolist()
    assert masking["Mel: mean Δ P(poor)"].tolist() == expected
    top = slide.tables[1].frame
    assert "fold_key" not in top.columns and set(top["branch"]) == {"Mel image", "STFT image"}
    summary = aggregate_occlusion(report.cached_occlusion(run))
    best = summary[(summary["branch"] == "mel") & (summary["axis"] == "frequency") & (summary["rank"] == 1)]
    row = top[(top["branch"] == "Mel image") & (top["axis"] == "frequency") & (top["rank"] == 1)]
    assert row["mean Δ P(poor)"].iloc[0] == pytest.approx(best["mean_delta"].iloc[0], abs=5e-4)
    figure = slide.figures[0]
    assert [t.name for t in figure.data] == ["Mel image", "STFT image"]
    assert figure.data[0].marker.color != figure.data[1].marker.color
    assert set(report.cached_occlusion(run)["fold_key"]) == {"r0f0", "r0f1", "r0f2"}


def test_cli_writes_the_report(run, tmp_path, capsys):
    from core.__main__ import main

    out = tmp_path / "out" / "report.html"
    code = main(
        ["report", "--run", run.path.name, "--runs-dir", str(run.path.parent), "--out", str(out), "--json"]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["cohort"] is True and summary["slides"] == summary["titles"].__len__() == 9
    assert (
        summary["bytes"] == out.stat().st_size
        and out.read_text(encoding="utf-8").count('<section class="slide"') == 9
    )
    missing = main(
        [
            "report",
            "--run",
            run.path.name,
            "--runs-dir",
            str(run.path.parent),
            "--cohort",
            str(tmp_path / "nowhere"),
            "--out",
            str(out),
        ]
    )
    assert missing == 2


def test_a_run_on_synthetic_data_says_so_on_the_title_slide_and_in_the_report(run, cohort):
    from core.runs import load_run, update_manifest

    deck = report.slides(run, cohort)
    assert deck[0].bullets[0].startswith("**SYNTHETIC DATA**: trained on the generated demo cohort")
    assert "SYNTHETIC DATA</strong>" in report.export_html(run, cohort)

    data = dict(run.manifest["data"], synthetic=False)  # as a run on a real cohort records it
    update_manifest(run.path, data=data)
    real = report.slides(load_run(run.path), None)
    assert real[0].title == "Predicting voice outcome after injection laryngoplasty"
    assert not any("SYNTHETIC" in b for b in real[0].bullets)
