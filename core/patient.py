"""Everything the single-patient view shows, as tables and dataclasses.

A patient's facts come from the cohort's pseudonymous ``patients`` table, the recordings
from its ``recordings`` table. The probability of a poor outcome comes from the run's
stored patient-level predictions of the fold models that did NOT train on the patient:
the test part of every fold/repeat that held the patient out (optionally also the
validation part, labelled as such: those models did not train on the patient either,
but chose their epoch and threshold with it). Each row carries its fold's
validation-chosen patient-level threshold.

The explanation reuses :mod:`core.explain`: one fold's :class:`FoldExplainer` gives the
Grad-CAM maps of the patient's most typical segment (the test segment whose probability
is nearest the patient's mean) and, through :func:`core.explain.summarise`, the
plain-language summary built from branch masking and occlusion of the patient's test
segments. Those two tables are read from the fold's cached whole-fold tables when
``python -m core explain`` made them, else computed for the patient's segments only and
cached in the run folder, so a page never pays for the whole fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.cohort.classes import DEFAULT_CLASS_NAMES, ClassNames, label_text, positive_phrase
from core.cohort.model import Cohort
from core.errors import ExplainError, RunError
from core.explain.fold import FoldExplainer, load_fold
from core.explain.masking import branch_masking
from core.explain.occlusion import OcclusionSettings, occlusion_table
from core.explain.summary import Summary, summarise
from core.folds import FoldKey
from core.metrics import ModelSpread
from core.run import Run

#: Patient-table columns shown as facts, with the words a reader sees.
FACT_LABELS: dict[str, str] = {
    "patient_id": "Patient",
    "sex": "Sex",
    "age": "Age (years)",
    "side": "Side injected",
    "cause": "Cause",
    "technique": "Injection technique",
    "approach": "Approach",
    "amount_r": "Amount, right fold (ml)",
    "amount_l": "Amount, left fold (ml)",
    "injection_no": "Injection number",
    "total_injections": "Injections in total",
    "year": "Year",
    "outcome": "Recorded outcome",
    "n_recordings": "Recordings",
}

#: Columns of :func:`fold_predictions`.
PREDICTION_COLUMNS: tuple[str, ...] = (
    "fold_key",
    "repeat",
    "fold",
    "part",
    "prob",
    "threshold",
    "predicted",
    "n_segments",
    "label",
)

#: Occlusion settings of the patient explanation (those of ``python -m core explain``).
OCCLUSION_PARAMS: dict[str, Any] = OcclusionSettings().params()
MASKING_BASELINE = "black"


def patient_ids(run: Run) -> list[str]:
    """Patients the run has held-out (test) predictions for, sorted.

    Raises
    ------
    RunError
        When the run has no patient predictions yet.
    """
    table = run.patient_predictions
    if table.empty:
        raise RunError(f"run {run.path.name} has no patient predictions yet")
    return sorted(table.loc[table["part"] == "test", "patient_id"].astype(str).unique())


def patient_facts(cohort: Cohort, patient_id: str) -> pd.DataFrame:
    """The patient's row of the cohort's patients table as readable facts.

    Returns
    -------
    facts : pd.DataFrame
        Columns ``fact, value`` (strings), one row per :data:`FACT_LABELS` entry the
        table has; missing values read "not recorded". Pseudonymous by construction.

    Raises
    ------
    RunError
        When the cohort has no such patient.
    """
    rows = cohort.patients[cohort.patients["patient_id"] == patient_id]
    if rows.empty:
        raise RunError(
            f"patient {patient_id!r} is not in cohort {cohort.root.name!r}; "
            "was the run trained on another cohort?"
        )
    row = rows.iloc[0]
    facts = [
        {"fact": label, "value": _fact_value(column, row[column], cohort.class_names)}
        for column, label in FACT_LABELS.items()
        if column in row.index
    ]
    return pd.DataFrame(facts, columns=["fact", "value"])


def _fact_value(column: str, value: Any, names: ClassNames = DEFAULT_CLASS_NAMES) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "not recorded"
    if column == "outcome":
        return label_text(value, names)
    if column in ("amount_r", "amount_l"):
        return f"{float(value):g}"
    if column in ("age", "year", "injection_no", "total_injections", "n_recordings"):
        return f"{float(value):.0f}"
    return str(value)


def patient_recordings(cohort: Cohort, patient_id: str) -> pd.DataFrame:
    """The patient's recordings: ``recording_id, phase, vowel, take, duration_s, sample_rate, channels``.

    Pre-op first, then vowels in the study's order (A, I, U, E). No file path.
    """
    rows = cohort.recordings[cohort.recordings["patient_id"] == patient_id]
    order = {"pre": 0, "post": 1}
    vowels = {"A": 0, "I": 1, "U": 2, "E": 3}
    rows = rows.assign(_p=rows["phase"].map(order), _v=rows["vowel"].map(vowels)).sort_values(
        ["_p", "_v", "take"]
    )
    columns = ["recording_id", "phase", "vowel", "take", "duration_s", "sample_rate", "channels"]
    return rows[columns].reset_index(drop=True)


def patient_thresholds(run: Run) -> pd.DataFrame:
    """Each fold's validation-chosen patient-level threshold: ``repeat, fold, threshold``."""
    if run.folds.empty:
        raise RunError(f"run {run.path.name} has no finished fold yet")
    return run.thresholds(level="patient")


def fold_predictions(run: Run, patient_id: str, *, include_validation: bool = False) -> pd.DataFrame:
    """The patient's stored probability from every fold model that did not train on them.

    Parameters
    ----------
    run : Run
    patient_id : str
    include_validation : bool
        Also the folds where the patient was in the inner validation part (part "val").

    Returns
    -------
    predictions : pd.DataFrame
        Columns :data:`PREDICTION_COLUMNS`, test rows first; ``prob`` is the stored
        patient-level probability of a poor outcome, ``predicted`` "poor" when
        ``prob >= threshold``.

    Raises
    ------
    RunError
        When the run holds no held-out prediction of this patient.
    """
    table = run.patient_predictions
    parts = ["test", "val"] if include_validation else ["test"]
    mine = (
        table[(table["patient_id"] == patient_id) & table["part"].isin(parts)] if not table.empty else table
    )
    if mine.empty:
        raise RunError(f"run {run.path.name} has no held-out prediction for patient {patient_id!r}")
    mine = mine.merge(patient_thresholds(run), on=["repeat", "fold"], how="left")
    mine = mine.assign(
        fold_key=[FoldKey(int(r), int(f)).key for r, f in zip(mine["repeat"], mine["fold"], strict=True)],
        predicted=np.where(mine["prob"] >= mine["threshold"], *run.class_names[::-1]),
        _order=mine["part"].map({"test": 0, "val": 1}),
    )
    mine = mine.sort_values(["_order", "repeat", "fold"]).reset_index(drop=True)
    return mine[list(PREDICTION_COLUMNS)]


@dataclass(frozen=True)
class PatientProbability(ModelSpread):
    """The probability of a poor outcome across the held-out fold models.

    Attributes
    ----------
    mean, sd, low, high, threshold, n_models, n_poor
        See :class:`core.metrics.ModelSpread`, over the rows of ``table``.
    table : pd.DataFrame
        :func:`fold_predictions` rows the numbers are computed from.
    label : int or None
        The recorded outcome (0 well / 1 poor), None when unknown.
    class_names : (str, str)
        The run's names of label 0 and 1 (well/poor for the study).
    """

    table: pd.DataFrame
    label: int | None
    class_names: ClassNames = DEFAULT_CLASS_NAMES

    @property
    def leaning(self) -> str:
        """Label 1's name ("poor") when most models reach their threshold, else label 0's ("well")."""
        return self.class_names[1] if self.n_poor * 2 > self.n_models else self.class_names[0]

    @property
    def text(self) -> str:
        """One plain sentence about the number and its spread."""
        what = positive_phrase(self.class_names)
        if self.n_models == 1:
            return (
                f"The one fold model that did not train on this patient gives a probability of {what} "
                f"of {self.mean:.2f}, {'at or above' if self.n_poor else 'below'} its threshold of "
                f"{self.threshold:.2f}. With one model there is no spread to show (repeated cross-validation "
                "gives several)."
            )
        return (
            f"{self.n_models} fold models that did not train on this patient give a probability of {what} "
            f"of {self.mean:.2f} on average, from {self.low:.2f} to {self.high:.2f} (SD {self.sd:.2f}); "
            f"{self.n_poor} of {self.n_models} reach their fold's threshold "
            f"(mean threshold {self.threshold:.2f})."
        )


def patient_probability(run: Run, patient_id: str, *, include_validation: bool = False) -> PatientProbability:
    """Mean and spread of the patient's held-out probabilities (see :func:`fold_predictions`)."""
    table = fold_predictions(run, patient_id, include_validation=include_validation)
    labels = table["label"].dropna()
    return PatientProbability(
        **ModelSpread.of(table["prob"].to_numpy(dtype=float), table["threshold"].to_numpy(dtype=float)),
        table=table,
        label=int(labels.iloc[0]) if not labels.empty else None,
        class_names=run.class_names,
    )


def explain_fold(run: Run, patient_id: str) -> str:
    """Key of the fold whose explanation is shown: the test fold holding most of the patient's segments.

    With a patient split that is the one fold (per repeat) that held the patient out;
    ties (repeats) go to the first repeat.
    """
    table = fold_predictions(run, patient_id)
    best = table.sort_values(["n_segments", "repeat", "fold"], ascending=[False, True, True]).iloc[0]
    return str(best["fold_key"])


def fold_explainer(
    run: Run, key: str, *, cohort: Cohort | None = None, cache_dir: Path | None = None
) -> FoldExplainer:
    """:class:`FoldExplainer` of one fold of the run (loads the fold's model).

    With ``cohort``, the images are rebuilt from that already loaded cohort (no second
    load; :meth:`core.run.Run.dataset` refuses another cohort), else from the run's own.
    """
    return FoldExplainer(load_fold(run, key, cohort=cohort, cache_dir=cache_dir))


@dataclass(frozen=True)
class PatientExplanation:
    """Why one fold model decided as it did for one patient.

    Attributes
    ----------
    fold_key : str
    summary : Summary
        Plain-language sentences and the numbers behind them.
    segments : pd.DataFrame
        The patient's test segments in that fold: ``segment_id, recording_id,
        segment_index, start_s, end_s, prob``.
    segment_id : int
        The most typical segment (probability nearest the patient's mean).
    segment_prob, threshold : float
        Its probability and the fold's patient-level threshold.
    mel, stft : np.ndarray [shape=(S, S), dtype=uint8] or None
        The segment's grey images (row S-1 = lowest frequency); None for a branch the
        model lacks.
    heatmap_mel, heatmap_stft : np.ndarray [shape=(S, S), dtype=float32] or None
        Grad-CAM in [0, 1].
    delta : np.ndarray [shape=(S, S), dtype=float32] or None
        ΔCAM = mel − STFT in [-1, 1] (dual model only).
    row_hz, column_ms : dict of str to np.ndarray [shape=(S,)]
        What each image row and column shows, per branch.
    source : str
        Where masking and occlusion came from: "cached fold tables" or "computed for this patient".
    real_columns : dict of str to np.ndarray [shape=(S,), dtype=bool]
        Per branch: the image columns that carry signal (the rest repeat the last frame).
    segment_ms : float
        The segment's real length in ms.
    """

    fold_key: str
    summary: Summary
    segments: pd.DataFrame
    segment_id: int
    segment_prob: float
    threshold: float
    mel: np.ndarray | None
    stft: np.ndarray | None
    heatmap_mel: np.ndarray | None
    heatmap_stft: np.ndarray | None
    delta: np.ndarray | None
    row_hz: dict[str, np.ndarray]
    column_ms: dict[str, np.ndarray]
    source: str
    real_columns: dict[str, np.ndarray] | None = None
    segment_ms: float | None = None


def typical_segment(segments: pd.DataFrame) -> int:
    """Segment whose probability is nearest the mean of ``segments["prob"]`` (lowest id on ties)."""
    if segments.empty:
        raise ExplainError("no segment to choose a typical one from")
    distance = (segments["prob"] - segments["prob"].mean()).abs()
    order = np.lexsort((segments["segment_id"].to_numpy(), distance.to_numpy()))
    return int(segments["segment_id"].iloc[order[0]])


def explain_patient(explainer: FoldExplainer, patient_id: str, *, threshold: float) -> PatientExplanation:
    """Summary and key images of a patient in one fold where the patient was tested.

    Parameters
    ----------
    explainer : FoldExplainer
        Of a fold whose test part holds the patient (:func:`explain_fold`).
    patient_id : str
    threshold : float
        The fold's patient-level threshold: the summary then judges the patient's mean
        segment probability exactly as the patient-level prediction was judged.

    Raises
    ------
    ExplainError
        When the patient has no test segment in this fold.
    """
    data = explainer.data
    preds = data.predictions[data.predictions["patient_id"] == patient_id]
    if preds.empty:
        raise ExplainError(f"patient {patient_id!r} has no test segment in fold {data.fold_key}")
    ids = preds["segment_id"].to_numpy(dtype=int)
    masking, occlusion, source = _patient_tables(explainer, ids)
    summary = summarise(
        prob=preds["prob"].to_numpy(dtype=float),
        threshold=threshold,
        masking=masking,
        occlusion=occlusion,
        subject=f"patient {patient_id}",
        class_names=data.class_names,
    )
    segments = data.segments.set_index("segment_id").loc[
        ids, ["recording_id", "segment_index", "start_s", "end_s"]
    ]
    segments = segments.reset_index().merge(preds[["segment_id", "prob"]], on="segment_id")
    chosen = typical_segment(segments)
    maps = explainer.maps("gradcam", [chosen])
    branches = tuple(data.model.branches)

    def grey(branch: str) -> np.ndarray | None:
        images = data.mel if branch == "mel" else data.stft
        return np.asarray(images[chosen])[..., 0].copy() if branch in branches else None

    def heat(name: str) -> np.ndarray | None:
        return maps[name][0].astype(np.float32) if name in maps else None

    return PatientExplanation(
        fold_key=data.fold_key,
        summary=summary,
        segments=segments,
        segment_id=chosen,
        segment_prob=float(segments.loc[segments["segment_id"] == chosen, "prob"].iloc[0]),
        threshold=float(threshold),
        mel=grey("mel"),
        stft=grey("stft"),
        heatmap_mel=heat("heatmap_mel"),
        heatmap_stft=heat("heatmap_stft"),
        delta=heat("delta"),
        row_hz=data.axes.row_hz,
        column_ms=data.axes.column_ms,
        source=source,
        real_columns=data.axes.real_columns,
        segment_ms=data.axes.segment_ms,
    )


def _patient_tables(explainer: FoldExplainer, ids: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Masking and occlusion rows of some test segments: from the fold's cache, else computed for them."""
    store, fold = explainer.store, explainer.fold
    # Same parameters as FoldExplainer.masking/occlusion, so `python -m core explain` results are found.
    masking = store.load_table(fold, "masking", explainer.cache_params(baseline=MASKING_BASELINE))
    occlusion = store.load_table(fold, "occlusion", explainer.cache_params(**OCCLUSION_PARAMS))
    if masking is not None and occlusion is not None:
        return (
            masking[masking["segment_id"].isin(ids)],
            occlusion[occlusion["segment_id"].isin(ids)],
            "cached fold tables",
        )
    data = explainer.data
    mel = np.asarray(data.mel[ids]) if "mel" in data.model.branches else None
    stft = np.asarray(data.stft[ids]) if "stft" in data.model.branches else None
    key = explainer.cache_params(segments=[int(i) for i in ids])
    masking = store.table(
        fold,
        "patient_masking",
        {**key, "baseline": MASKING_BASELINE},
        lambda: branch_masking(data.model, mel, stft, baseline=MASKING_BASELINE, segment_ids=ids),
    )
    occlusion = store.table(
        fold,
        "patient_occlusion",
        {**key, **OCCLUSION_PARAMS},
        lambda: occlusion_table(data.model, mel, stft, axes=data.axes, segment_ids=ids, **OCCLUSION_PARAMS),
    )
    return masking, occlusion, "computed for this patient"


__all__ = [
    "FACT_LABELS",
    "PREDICTION_COLUMNS",
    "PatientExplanation",
    "PatientProbability",
    "explain_fold",
    "explain_patient",
    "fold_explainer",
    "fold_predictions",
    "patient_facts",
    "patient_ids",
    "patient_probability",
    "patient_recordings",
    "patient_thresholds",
    "typical_segment",
]
