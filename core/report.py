"""Lab-meeting slides of a run, as data, and their export to one self-contained HTML file.

:func:`slides` builds a list of :class:`Slide` (title, bullets, plotly figures, tables):
the run, the cohort (size, balance, the study's duration table), preprocessing, model
and protocol (the study's hyper-parameter table), per-fold results at patient and
segment level, ROC and pooled confusion, the key explanations that are already cached in
the run's explain store (branch masking per fold, occlusion aggregated over the test
segments; nothing heavy is computed here), and the caveats a reader must know.

:func:`export_html` renders them into ONE HTML file: plotly's JavaScript inlined once,
tables as HTML, a small stylesheet with large fonts, arrow-key navigation, one slide per
printed page, and no external URL to load.

Bullets are plain text with two inline marks: ``**bold**`` and ```code```.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core import figures, results
from core.audio import window_lengths
from core.cohort.classes import ClassNames, class_names
from core.cohort.model import Cohort
from core.cohort.summary import duration_table, outcome_balance
from core.config import ExperimentConfig, hyperparameter_table
from core.errors import CoreError
from core.pairing import SYNTHETIC_BADGE, run_is_synthetic
from core.report_explanations import OCCLUSION_SETTINGS, cached_occlusion, explanation_slide
from core.run import Run


class Table(NamedTuple):
    """A captioned table of a slide."""

    caption: str
    frame: pd.DataFrame


@dataclass
class Slide:
    """One slide.

    Attributes
    ----------
    title : str
    bullets : list of str
        Short lines (``**bold**`` and ```code``` allowed).
    figures : list of plotly.graph_objects.Figure
    tables : list of Table
    """

    title: str
    bullets: list[str] = field(default_factory=list)
    figures: list[go.Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


def slides(run: Run, cohort: Cohort | None = None) -> list[Slide]:
    """The lab-meeting slides of a run.

    Parameters
    ----------
    run : Run
    cohort : Cohort, optional
        The run's cohort, for the duration table and balance; when absent or not the
        run's (fingerprint differs) the counts come from the run's manifest.

    Returns
    -------
    list of Slide
        Title, cohort, preprocessing, model and protocol, patient-level results, ROC and
        confusion, segment-level results, explanations, caveats.
    """
    config = run.config
    return [
        _title_slide(run, config),
        _cohort_slide(run, cohort),
        _preprocessing_slide(config),
        _model_slide(run, config),
        *_results_slides(run),
        explanation_slide(run),
        _caveats_slide(run),
    ]


def _split_words(run: Run) -> str:
    return "segment-level split (leaky)" if run.leaky else "patient-grouped split"


def _title_slide(run: Run, config: ExperimentConfig) -> Slide:
    manifest = run.manifest
    summary = run.summary
    auroc = summary.get("patient_auroc_mean")
    bullets = [
        f"Run `{run.path.name}` · status **{run.status}** · created {manifest.get('created', '?')}",
        f"Preset **{config.preset}**: {config.model.backbone} backbone, {config.model.inputs} input "
        f"(Mel + STFT through one shared backbone)"
        if config.model.inputs == "dual"
        else f"Preset **{config.preset}**: {config.model.backbone} backbone, "
        f"{config.model.inputs} input only",
        f"{config.split.n_folds}-fold cross-validation, {_split_words(run)}, {config.split.repeats} "
        "repeat(s)",
    ]
    if auroc is not None:
        std = summary.get("patient_auroc_std")
        bullets.append(
            f"Patient-level test AUROC **{auroc:.3f}**"
            + (f" ± {std:.3f}" if std is not None else "")
            + " (mean ± SD over folds)"
        )
    bullets.append("Research tool, not a diagnosis.")
    title = "Predicting voice outcome after injection laryngoplasty"
    if run_is_synthetic(run):
        bullets.insert(
            0,
            f"**{SYNTHETIC_BADGE.upper()}**: trained on the generated demo cohort (planted effect); "
            "the numbers show the tool works, not that voices predict outcome",
        )
        title += f" ({SYNTHETIC_BADGE})"
    return Slide(title=title, bullets=bullets)


def _cohort_slide(run: Run, cohort: Cohort | None) -> Slide:
    data = run.manifest.get("data", {})
    slide = Slide(title="Cohort")
    matches = cohort is not None and (
        not data.get("fingerprint") or cohort.fingerprint() == data["fingerprint"]
    )
    well, poor = int(data.get("patients_well", 0)), int(data.get("patients_poor", 0))
    names = class_names(run)
    slide.bullets.append(
        f"**{data.get('n_patients', well + poor)} patients** trained on: {well} {names[0]}, {poor} "
        f"{names[1]} "
        f"({data.get('segments_well', 0)} / {data.get('segments_poor', 0)} segments)"
    )
    if cohort is not None and matches:
        slide.bullets.append(
            f"Cohort of {cohort.n_patients} patients, {cohort.recordings.shape[0]} recordings "
            f"({cohort.layout} layout); identifiers replaced by pseudonyms on loading"
        )
        balance = outcome_balance(cohort)
        slide.figures.append(
            _balance_figure(balance["outcome"].tolist(), balance["patients"].tolist(), names)
        )
        slide.tables.append(
            Table(
                "Recording durations (ms), as the study reported them",
                readable_durations(duration_table(cohort)),
            )
        )
    else:
        if cohort is not None:
            slide.bullets.append(
                "The loaded cohort is not the one this run was trained on; counts come from the run."
            )
        else:
            slide.bullets.append("Duration table: give the run's cohort (`--cohort DIR`) to include it.")
        slide.figures.append(_balance_figure(list(names), [well, poor], names))
    if data.get("problems"):
        slide.bullets.append(f"{data['problems']} recording(s) gave no segment and were left out")
    return slide


def readable_durations(table: pd.DataFrame) -> pd.DataFrame:
    """The duration table as text a slide shows as is: "7125.4", never "7,125.4000"."""
    shown = table.rename(
        columns={"min_ms": "shortest (ms)", "max_ms": "longest (ms)", "mean_ms": "mean (ms)"}
    )
    for column in ("shortest (ms)", "longest (ms)", "mean (ms)"):
        shown[column] = [f"{v:.1f}" for v in shown[column].astype(float)]
    shown["recordings"] = shown["recordings"].astype(int).astype(str)
    return shown


def _balance_figure(outcomes: list[str], counts: list[int], names: ClassNames) -> go.Figure:
    return figures.class_balance(
        outcomes, counts, names, height=380, title="Patients per outcome", font_size=18
    )


def _preprocessing_slide(config: ExperimentConfig) -> Slide:
    p = config.preprocess
    w, s = p.window, p.spectrogram
    window, hop, _ = window_lengths(sr=p.audio.sample_rate, config=w)
    hop_ms = hop / p.audio.sample_rate * 1000
    overlap = max(0.0, 1 - hop / window) if w.count > 1 else 0.0
    trim = (
        f"energy trimming of silence ({p.trim.threshold_db:g} dB below the loudest frame)"
        if p.trim.enabled
        else "no trimming"
    )
    return Slide(
        title="Preprocessing",
        bullets=[
            f"Recordings: {', '.join(p.selection.phases)}-op, vowel(s) {', '.join(p.selection.vowels)}",
            f"Audio resampled to {p.audio.sample_rate} Hz mono, mean removed, peak-normalised; {trim}",
            f"Keep {w.span_s * 1000:g} ms at the {w.position} of the voiced part → {w.count} windows of "
            f"{w.window_s * 1000:g} ms (hop {hop_ms:.2f} ms, {overlap * 100:.1f} % overlap)",
            f"Mel: n_fft {s.n_fft}, hop {s.hop_length}, {s.n_mels} mels, power 2, dB (top {s.top_db:g} dB), "
            f"{s.frames} frames; STFT: same n_fft/hop, center=False",
            f"Images: {s.contrast_low_pct:g}th–{s.contrast_high_pct:g}th percentile contrast (≥ "
            f"{s.min_range_db:g} dB), "
            f"grey → {s.image_size} × {s.image_size} → 3 channels",
        ],
    )


def _model_slide(run: Run, config: ExperimentConfig) -> Slide:
    m, t, sp = config.model, config.train, config.split
    weights = run.manifest.get("weights") or m.weights
    bullets = [
        (
            "Two inputs (Mel, STFT) through ONE shared"
            if m.inputs == "dual"
            else f"One input ({m.inputs}) through a"
        )
        + " "
        f"{m.backbone} backbone ({weights} weights), global average pooling, Dense {m.head_units} ReLU, "
        f"Dropout {m.dropout:g}, sigmoid",
        f"Stage 1: backbone frozen, {t.warmup_epochs} epochs, Adam {t.warmup_lr:g}; stage 2: last "
        f"{t.unfreeze_ratio * 100:.0f} % trainable, {t.finetune_epochs} epochs, Adam {t.finetune_lr:g}",
        f"Outer {sp.n_folds}-fold CV ({_split_words(run)}, seed {sp.seed}); inner validation "
        f"{sp.val_ratio * 100:.0f} % "
        "of the outer train part; early stopping and threshold (F1-best) on validation only",
        f"Patient probability = {t.patient_aggregation} of its segments' probabilities",
    ]
    return Slide(
        title="Model and protocol",
        bullets=bullets,
        tables=[Table("Hyper-parameters", pd.DataFrame(hyperparameter_table(config)))],
    )


def _results_slides(run: Run) -> list[Slide]:
    try:
        patient = results.study_table(run, level="patient", part="test")
        segment = results.study_table(run, level="segment", part="test")
    except CoreError as exc:
        return [Slide(title="Results", bullets=[f"No results yet: {exc}"])]
    summary = run.summary
    bullets = [f"Test folds; thresholds chosen on each fold's validation patients ({_split_words(run)})"]
    ci_boot = summary.get("patient_auroc_ci_bootstrap") or [None, None]
    ci_rep = summary.get("patient_auroc_ci_repeats") or [None, None]
    if ci_boot[0] is not None:
        bullets.append(f"Patient AUROC 95 % CI, bootstrap over patients: {ci_boot[0]:.3f} – {ci_boot[1]:.3f}")
    if ci_rep[0] is not None:
        bullets.append(f"Patient AUROC 95 % CI over repeats: {ci_rep[0]:.3f} – {ci_rep[1]:.3f}")
    per_fold = Slide(
        title="Results per fold (patient level, test)",
        bullets=bullets,
        tables=[Table("The study's per-fold table, patient level", patient)],
    )
    curves = Slide(
        title="ROC and confusion (patient level, test)",
        bullets=["ROC per fold; confusion pooled over folds, each at its validation-chosen threshold"],
        figures=[
            figures.roc_curves(
                results.roc_points(run, level="patient"), height=440, title="ROC per fold", font_size=16
            ),
            figures.confusion_matrix(
                confusion_counts(run),
                class_names(run),
                title="Confusion (pooled)",
                height=440,
                font_size=16,
                count_size=28,
            ),
        ],
    )
    segments = Slide(
        title="Results per fold (segment level, test)",
        bullets=["Every 50 ms segment counted on its own (the study's notebook level)"],
        tables=[Table("The study's per-fold table, segment level", segment)],
    )
    return [per_fold, curves, segments]


def confusion_counts(run: Run, *, level: str = "patient") -> np.ndarray:
    """Test confusion matrix pooled over folds, each fold at its validation-chosen threshold.

    Returns
    -------
    np.ndarray [shape=(2, 2), dtype=int]
        ``[[tn, fp], [fn, tp]]``.
    """
    matrix = np.zeros((2, 2), dtype=int)
    for row in results.thresholds(run, level=level).itertuples():
        counts = results.confusion(
            run, level=level, repeat=int(row.repeat), fold=int(row.fold), threshold=float(row.threshold)
        )
        matrix += np.array([[counts["tn"], counts["fp"]], [counts["fn"], counts["tp"]]], dtype=int)
    return matrix


def _caveats_slide(run: Run) -> Slide:
    bullets = []
    if run.leaky:
        bullets.append(
            "**Leaky split**: segments of one patient sit in train and test (the study's notebook); "
            "the scores are optimistic"
        )
    weights = run.manifest.get("weights")
    if weights == "random" and run.config.model.weights == "imagenet":
        bullets.append("ImageNet weights were not available: the backbone started from random initialisation")
    if run.status != "complete":
        bullets.append(
            f"Run {run.status}: {len(run.manifest.get('folds_done', []))} of "
            f"{len(run.manifest.get('folds', []))} folds finished"
        )
    bullets.append(
        f"Small cohort ({run.manifest.get('data', {}).get('n_patients', '?')} patients): wide intervals; "
        "external validation is still needed"
    )
    bullets.append("Research tool, not a diagnosis")
    return Slide(title="Caveats", bullets=bullets)


def inline(text: str) -> str:
    """HTML of a bullet: escaped, with ``**bold**`` and ```code``` marks rendered."""
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)


CSS = """
:root { --ink: #12355b; --accent: #e76f51; --muted: #5c6b7a; }
* { box-sizing: border-box; }
html { scroll-snap-type: y mandatory; }
body { margin: 0; font-family: "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
  background: #f4f6f8; }
section.slide { scroll-snap-align: start; min-height: 100vh; padding: 3.5vh 5vw 6vh; background: #fff;
  border-bottom: 6px solid var(--accent); position: relative; }
section.slide h1 { font-size: 2.8rem; margin: 0 0 1.2rem; }
section.slide ul { font-size: 1.6rem; line-height: 1.45; margin: 0 0 1.2rem; padding-left: 1.6em; }
code { background: #eef1f4; padding: 0 .25em; border-radius: 4px; font-size: .9em; }
.figures { display: flex; flex-wrap: wrap; gap: 1.5rem; }
.figure { flex: 1 1 520px; min-width: 420px; }
table.data { border-collapse: collapse; font-size: 1.15rem; margin: .4rem 0 1.4rem; }
table.data th, table.data td { border-bottom: 1px solid #d5dbe1; padding: .35rem .8rem; text-align: left; }
table.data th { background: #eef1f4; }
.caption { font-size: 1.2rem; color: var(--muted); margin-top: .8rem; }
footer { position: absolute; bottom: 1.5vh; right: 5vw; font-size: 1.1rem; color: var(--muted); }
@media print {
  html { scroll-snap-type: none; }
  section.slide { page-break-after: always; min-height: auto; border: none; }
}
"""

NAVIGATION = """
document.addEventListener("keydown", function (event) {
  var step = {ArrowRight: 1, PageDown: 1, ArrowLeft: -1, PageUp: -1}[event.key];
  if (!step) { return; }
  var slides = Array.prototype.slice.call(document.querySelectorAll("section.slide"));
  var current = slides.findIndex(function (s) { return s.getBoundingClientRect().top >= -5; });
  var next = Math.min(slides.length - 1, Math.max(0, (current < 0 ? slides.length - 1 : current) + step));
  slides[next].scrollIntoView({behavior: "smooth"});
  event.preventDefault();
});
"""


def _number(value: float) -> str:
    # Small numbers (Δprob, thresholds) keep three decimals; durations in ms one.
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def render_html(deck: list[Slide], *, title: str) -> str:
    """One self-contained HTML document of slides (plotly's JavaScript inlined once)."""
    from plotly.offline import get_plotlyjs

    needs_plotly = any(s.figures for s in deck)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{CSS}</style>",
    ]
    if needs_plotly:
        parts.append(f'<script type="text/javascript">{get_plotlyjs()}</script>')
    parts += ["</head>", "<body>"]
    for number, slide in enumerate(deck, start=1):
        parts.append(f'<section class="slide" id="slide-{number}">')
        parts.append(f"<h1>{html.escape(slide.title)}</h1>")
        if slide.bullets:
            parts.append("<ul>" + "".join(f"<li>{inline(b)}</li>" for b in slide.bullets) + "</ul>")
        if slide.figures:
            parts.append('<div class="figures">')
            for fig in slide.figures:
                figure = fig.to_html(
                    full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True}
                )
                parts.append(f'<div class="figure">{figure}</div>')
            parts.append("</div>")
        for table in slide.tables:
            parts.append(f'<div class="caption">{html.escape(table.caption)}</div>')
            parts.append(
                table.frame.to_html(index=False, classes="data", border=0, na_rep="–", float_format=_number)
            )
        parts.append(f"<footer>{number} / {len(deck)}</footer>")
        parts.append("</section>")
    parts += [f"<script>{NAVIGATION}</script>", "</body>", "</html>"]
    return "\n".join(parts)


def report_title(run: Run) -> str:
    """Title of a run's report document: run id, "lab meeting", today's date."""
    return f"{run.path.name} · lab meeting · {dt.date.today().isoformat()}"


def export_html(run: Run, cohort: Cohort | None = None) -> str:
    """The run's slides (:func:`slides`) as one self-contained HTML document."""
    return render_html(slides(run, cohort), title=report_title(run))


__all__ = [
    "OCCLUSION_SETTINGS",
    "Slide",
    "Table",
    "cached_occlusion",
    "confusion_counts",
    "export_html",
    "inline",
    "render_html",
    "report_title",
    "slides",
]
