"""Descriptive tables of a loaded cohort, as the study reported them."""

from __future__ import annotations

import pandas as pd

from core.cohort.classes import label_text
from core.cohort.model import Cohort


def duration_table(cohort: Cohort) -> pd.DataFrame:
    """Recording durations by cause and phase, in milliseconds (the study's table).

    Parameters
    ----------
    cohort : Cohort
        A loaded cohort.

    Returns
    -------
    pd.DataFrame
        Columns ``cause, phase, recordings, min_ms, max_ms, mean_ms``; one row per
        (cause, phase), then a "total" row per cause and one overall "total" row.
    """
    rec = cohort.recordings.merge(cohort.patients[["patient_id", "cause"]], on="patient_id", how="left")
    rec["cause"] = rec["cause"].astype("string").fillna("unknown")
    rec["ms"] = rec["duration_s"].astype(float) * 1000.0

    def _row(frame: pd.DataFrame, cause: str, phase: str) -> dict[str, object]:
        return {
            "cause": cause,
            "phase": phase,
            "recordings": int(frame.shape[0]),
            "min_ms": round(float(frame["ms"].min()), 1),
            "max_ms": round(float(frame["ms"].max()), 1),
            "mean_ms": round(float(frame["ms"].mean()), 2),
        }

    rows: list[dict[str, object]] = []
    for cause, by_cause in rec.groupby("cause", sort=True):
        for phase, by_phase in by_cause.groupby("phase", sort=True):
            rows.append(_row(by_phase, str(cause), str(phase)))
        rows.append(_row(by_cause, str(cause), "total"))
    if not rec.empty:
        rows.append(_row(rec, "total", "total"))
    return pd.DataFrame(rows, columns=["cause", "phase", "recordings", "min_ms", "max_ms", "mean_ms"])


def outcome_balance(cohort: Cohort) -> pd.DataFrame:
    """Patients per outcome with their share.

    Returns
    -------
    pd.DataFrame
        Columns ``outcome, label, patients, share``; ``outcome`` is the cohort's class name
        (well/poor for the study), ``label`` is 0/1 or <NA> for patients without a known outcome.
    """
    outcome = cohort.patients["outcome"].astype("Int64")
    counts = outcome.value_counts(dropna=False).sort_index()
    total = max(int(counts.sum()), 1)
    rows = [
        {
            "outcome": label_text(label, cohort.class_names),
            "label": label,
            "patients": int(n),
            "share": float(n) / total,
        }
        for label, n in counts.items()
    ]
    return pd.DataFrame(rows, columns=["outcome", "label", "patients", "share"])
