"""Plain-language summary of one segment's or one patient's explanation, built only from numbers.

Every sentence is a fixed template filled with numbers from the masking and occlusion
tables; nothing is inferred beyond them. The *evidence* of a branch or region is its
Δprob signed towards the prediction: Δprob itself when the prediction is "poor", −Δprob
when it is "well" (masking something that held the probability down supports "well").
The branch with the larger evidence "carried the decision"; bands and time chunks are
then reported for that branch, strongest first, when their evidence reaches
``min_delta``. For a patient, the numbers are means over its segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.cohort.classes import DEFAULT_CLASS_NAMES, label_names
from core.errors import ExplainError
from core.explain.occlusion import aggregate_occlusion
from core.explain.regions import region_words

#: The study's outcome names by label; a run's own names come in ``class_names``.
OUTCOMES: dict[int, str] = label_names(DEFAULT_CLASS_NAMES)
BRANCH_NAMES: dict[str, str] = {"mel": "mel", "stft": "STFT"}


@dataclass(frozen=True)
class Summary:
    """Sentences and the numbers they were built from.

    Attributes
    ----------
    sentences : tuple of str
    facts : dict
        ``subject, n_segments, prob, threshold, predicted, delta (per branch),
        decisive_branch, bands, chunks`` (lists of dicts with boundaries and Δprob).
    """

    sentences: tuple[str, ...]
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def summarise(
    *,
    prob: float | np.ndarray,
    threshold: float,
    masking: pd.DataFrame | None = None,
    occlusion: pd.DataFrame | None = None,
    subject: str = "this segment",
    top: int = 2,
    min_delta: float = 0.01,
    class_names: tuple[str, str] = DEFAULT_CLASS_NAMES,
) -> Summary:
    """Summarise which branch, bands and time region carried a decision.

    Parameters
    ----------
    prob : float or np.ndarray [shape=(n,)]
        Probability of "poor" of the segment, or of each of a patient's segments.
    threshold : float
        The fold's decision threshold.
    masking : pd.DataFrame, optional
        Rows of :func:`core.explain.branch_masking` for the same segments.
    occlusion : pd.DataFrame, optional
        Rows of :func:`core.explain.occlusion_table` for the same segments.
    subject : str
        How the text names what is explained ("segment 12", "patient P07").
    top : int
        Most bands and chunks named.
    min_delta : float
        Smallest evidence (probability units) worth naming.
    class_names : (str, str)
        What the run calls label 0 and 1 (well/poor for the study).

    Returns
    -------
    summary : Summary
    """
    probs = np.atleast_1d(np.asarray(prob, dtype=float))
    if probs.size == 0:
        raise ExplainError("summary of no segment (empty probability array)")
    mean_prob = float(probs.mean())
    predicted = int(mean_prob >= threshold)
    sign = 1.0 if predicted == 1 else -1.0
    n = int(probs.size)
    names = dict(enumerate(class_names))
    sentences = [_prediction_sentence(subject, n, probs, mean_prob, threshold, predicted, names)]
    facts: dict[str, Any] = {
        "subject": subject,
        "n_segments": n,
        "prob": mean_prob,
        "threshold": float(threshold),
        "predicted": names[predicted],
        "delta": {},
        "decisive_branch": None,
        "bands": [],
        "chunks": [],
    }

    decisive = None
    if masking is not None and not masking.empty:
        deltas = {
            b: float(masking[f"delta_{b}"].mean())
            for b in BRANCH_NAMES
            if masking[f"delta_{b}"].notna().any()
        }
        facts["delta"] = deltas
        sentences.append(_masking_sentence(deltas, n, names[1]))
        evidence = {b: sign * d for b, d in deltas.items()}
        best = max(evidence, key=evidence.get)
        if evidence[best] >= min_delta:
            decisive = best
            sentences.append(
                f"The {BRANCH_NAMES[best]} image carried the decision towards {names[predicted]}."
            )
        else:
            sentences.append(
                f"Neither image alone moved the probability towards {names[predicted]} by "
                f"{min_delta:.2f} or more."
            )
    facts["decisive_branch"] = decisive

    if occlusion is not None and not occlusion.empty:
        branch = decisive or _strongest_branch(occlusion, sign)
        regions = aggregate_occlusion(occlusion[occlusion["branch"] == branch])
        regions["evidence"] = sign * regions["mean_delta"]
        for axis, key in (("frequency", "bands"), ("time", "chunks")):
            rows = regions[(regions["axis"] == axis) & ~regions["padding"]].sort_values(
                "evidence", ascending=False
            )
            strong = rows[rows["evidence"] >= min_delta].head(top)
            facts[key] = [_region_fact(r) for _, r in strong.iterrows()]
            sentences.append(
                _region_sentence(axis, branch, strong, names[predicted], min_delta, rows.shape[0])
            )
    return Summary(sentences=tuple(sentences), facts=facts)


def _prediction_sentence(
    subject: str,
    n: int,
    probs: np.ndarray,
    mean_prob: float,
    threshold: float,
    predicted: int,
    names: dict[int, str],
) -> str:
    what = f"a {names[predicted]} outcome" if names == OUTCOMES else names[predicted]
    if n == 1:
        return (
            f"The model predicts {what} for {subject} "
            f"(probability of {names[1]} {mean_prob:.2f}, threshold {threshold:.2f})."
        )
    poor = int((probs >= threshold).sum())
    return (
        f"The model predicts {what} for {subject}: mean probability of {names[1]} "
        f"{mean_prob:.2f} over {n} segments (threshold {threshold:.2f}), {poor} of {n} segments above "
        "the threshold."
    )


def _masking_sentence(deltas: dict[str, float], n: int, positive: str = "poor") -> str:
    parts = []
    for b, d in deltas.items():
        verb = "lowered" if d >= 0 else "raised"
        parts.append(
            f"masking the {BRANCH_NAMES[b]} image {verb} the probability of {positive} by {abs(d):.2f}"
        )
    average = " on average" if n > 1 else ""
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + average + "."


def _strongest_branch(occlusion: pd.DataFrame, sign: float) -> str:
    means = occlusion.groupby("branch")["delta"].apply(lambda d: float((sign * d).max()))
    return str(means.idxmax())


def _region_fact(row: pd.Series) -> dict[str, Any]:
    keys = ("region", "low_hz", "high_hz", "start_ms", "end_ms", "signal_fraction", "mean_delta")
    return {k: (None if pd.isna(row[k]) else float(row[k])) for k in keys}


def _region_sentence(
    axis: str, branch: str, strong: pd.DataFrame, predicted: str, min_delta: float, total: int
) -> str:
    name = BRANCH_NAMES[branch]
    what = "frequency band" if axis == "frequency" else "time chunk"
    if strong.empty:
        return (
            f"No single {what} of the {name} image moved the probability towards {predicted} "
            f"by {min_delta:.2f} or more."
        )
    labels = [f"{_label(axis, r, total)} (Δprob {r['mean_delta']:+.2f})" for _, r in strong.iterrows()]
    lead = "In frequency" if axis == "frequency" else "In time"
    noun = "mattered most" if len(labels) == 1 else "mattered most, in this order"
    return f"{lead}, occluding {' and '.join(labels)} of the {name} image {noun}."


def _label(axis: str, row: pd.Series, total: int) -> str:
    if axis == "frequency":
        if pd.isna(row["low_hz"]):
            return f"band {int(row['region']) + 1} of {total} (from the lowest)"
        return f"{_hz(row['low_hz'])}–{_hz(row['high_hz'])}"
    if pd.isna(row["start_ms"]):
        return f"chunk {int(row['region']) + 1} of {total} (from the start)"
    return region_words(row, ms_digits=0)


def _hz(value: float) -> str:
    return f"{value / 1000:.1f} kHz" if value >= 1000 else f"{value:.0f} Hz"
