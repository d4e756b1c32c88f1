"""The Patient page in words a doctor reads: no internal keys, no "0.49 below 0.49", disagreements flagged.

Turns :class:`core.patient.PatientProbability` into plain sentences and a plain per-model
table. Folds are named 1-based through :func:`fold_name` ("fold 3", or "repeat 2, fold 3"
with repeated cross-validation), the one place to point at the project's fold naming.
"""

from __future__ import annotations

import pandas as pd

from core.cohort.classes import is_study, positive_phrase
from core.errors import RunError
from core.folds import FoldKey

#: What each part of a fold means for the patient.
ROLES = {"test": "held out for testing", "val": "used to choose the model's settings (validation)"}


def fold_name(key: str, *, repeats: int = 1) -> str:
    """ "fold 3" from the internal key "r0f2" (1-based), "repeat 2, fold 3" when the run repeats its split."""
    try:
        fold = FoldKey.parse(key)
    except RunError:
        return str(key)
    return fold.label(repeats=repeats, sep=", ")


def compare_numbers(value: float, threshold: float) -> tuple[str, str]:
    """``value`` and ``threshold`` rounded so they never read equal when they differ (2 to 4 decimals)."""
    for digits in (2, 3, 4):
        a, b = f"{value:.{digits}f}", f"{threshold:.{digits}f}"
        if a != b or value == threshold:
            return a, b
    return f"{value:.4f}", f"{threshold:.4f}"


def _outcome(name: str, names: tuple[str, str]) -> str:
    return f"a {name} outcome" if is_study(names) else name


def model_table(probability, *, repeats: int = 1) -> pd.DataFrame:
    """One row per fold model in words: model, its role for this patient, probability, threshold, verdict."""
    table = probability.table
    names = probability.class_names
    rows = []
    for row in table.itertuples():
        prob, threshold = compare_numbers(float(row.prob), float(row.threshold))
        says = names[1] if float(row.prob) >= float(row.threshold) else names[0]
        rows.append(
            {
                "model": fold_name(row.fold_key, repeats=repeats),
                "this patient was": ROLES.get(row.part, row.part),
                f"probability of {names[1]}": prob,
                "threshold": threshold,
                "the model says": _outcome(says, names),
            }
        )
    return pd.DataFrame(rows)


def summary(probability, *, repeats: int = 1) -> str:
    """The patient's probability in one or two plain sentences (what the models say, and how sure)."""
    names = probability.class_names
    what = positive_phrase(names)
    if probability.n_models == 1:
        key = probability.table["fold_key"].iloc[0]
        prob, threshold = compare_numbers(probability.mean, probability.threshold)
        side = "reaches" if probability.n_poor else "stays below"
        says = _outcome(names[1] if probability.n_poor else names[0], names)
        return (
            f"One model did not train on this patient ({fold_name(key, repeats=repeats)}). It gives a "
            f"probability of {what} of {prob}, which {side} the cut-off of {threshold} chosen for that "
            f"model, so it predicts {says}. With one model there is no spread to show."
        )
    lean = probability.leaning
    return (
        f"{probability.n_models} models did not train on this patient. On average they give a probability of "
        f"{what} of {probability.mean:.2f} (from {probability.low:.2f} to {probability.high:.2f}). "
        f"{probability.n_poor} of {probability.n_models} reach their own cut-off, so together they lean "
        f"towards {_outcome(lean, names)}."
    )


def disagreement(probability) -> str | None:
    """A plain warning when the models lean one way and the recorded outcome is the other; None otherwise."""
    if probability.label is None or probability.n_poor * 2 == probability.n_models:
        return None  # no recorded outcome, or the models are split
    names = probability.class_names
    recorded = names[int(probability.label)]
    if probability.leaning == recorded:
        return None
    return (
        f"The prediction disagrees with what happened: the models lean towards "
        f"{_outcome(probability.leaning, names)}, but the recorded outcome is {_outcome(recorded, names)}."
    )


__all__ = ["ROLES", "compare_numbers", "disagreement", "fold_name", "model_table", "summary"]
