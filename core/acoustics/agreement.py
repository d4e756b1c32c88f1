"""Agreement between the cohort's Praat voice reports and the same measures recomputed.

For every recording with a report, the report is parsed and its measures recomputed from
the audio with parselmouth over the report's selection and with its pitch method
(:mod:`core.acoustics.table`, ``span="report"``). Praat prints 3 decimals (6 for periods,
autocorrelation and NHR), so a value can differ from the recomputation by half a unit of
its last digit through printing alone; the table keeps both the relative difference and
whether printing explains it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from core.acoustics.table import AcousticSettings, recording_features
from core.cohort.model import PROBLEM_COLUMNS, Cohort
from core.errors import CoreError
from core.praat.report import MEASURE_KEYS, MEASURES, Measure, read_voice_report

#: Columns of :attr:`Agreement.pairs`.
PAIR_COLUMNS: tuple[str, ...] = (
    "recording_id",
    "measure",
    "reported",
    "recomputed",
    "abs_diff",
    "rel_diff",
    "within_tolerance",
    "within_rounding",
    "status",
)
#: Columns of :attr:`Agreement.summary`.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "measure",
    "label",
    "unit",
    "n_compared",
    "n_both_undefined",
    "n_undefined_mismatch",
    "median_rel_diff",
    "max_rel_diff",
    "max_abs_diff",
    "share_within_tolerance",
    "share_within_rounding",
)


@dataclass
class Agreement:
    """Reports versus recomputation for a cohort.

    Attributes
    ----------
    pairs : pd.DataFrame
        One row per (recording, measure), columns :data:`PAIR_COLUMNS`. ``status`` is
        "compared", "both undefined", "undefined in report" or "undefined in recomputation".
    summary : pd.DataFrame
        One row per measure, columns :data:`SUMMARY_COLUMNS`; shares are over the compared
        rows, and ``share_within_rounding`` counts a row agreeing within the tolerance or
        within the report's printing precision.
    problems : pd.DataFrame
        Reports that could not be read or had unreadable lines, columns ``source, severity, reason``.
    tolerance : float
        Relative tolerance used for ``within_tolerance`` (0.01 = 1 %).
    """

    pairs: pd.DataFrame
    summary: pd.DataFrame
    problems: pd.DataFrame
    tolerance: float


def report_values(
    cohort: Cohort, *, recording_ids: Iterable[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The parsed voice reports of a cohort.

    Returns
    -------
    values : pd.DataFrame
        One row per recording that has a report: ``recording_id``, ``selection_start_s``,
        ``selection_end_s``, ``pitch_method`` and :data:`MEASURE_KEYS` (NaN = undefined).
    problems : pd.DataFrame
        Columns ``source, severity, reason`` for unreadable reports ("error") and reports
        with unreadable lines ("warning"); sources are redacted cohort paths.
    """
    recordings = cohort.recordings
    if recording_ids is not None:
        recordings = recordings[recordings["recording_id"].isin(set(recording_ids))]
    rows, problems = [], []
    for rid, source in zip(recordings["recording_id"], recordings["source"], strict=True):
        path = cohort.voice_report_path(rid)
        if path is None:
            continue
        name = str(Path(str(source)).with_suffix(".txt"))
        try:
            report = read_voice_report(path, source=name, strict=False)
        except CoreError as exc:
            problems.append((name, "error", cohort.redact(str(exc))))
            continue
        # report text is typed by people: known identifiers become pseudonyms
        # (other words are masked by the parser)
        problems.extend((name, "warning", cohort.redact(text)) for text in report.problems)
        start, end = report.selection if report.selection is not None else (math.nan, math.nan)
        rows.append(
            {
                "recording_id": rid,
                "selection_start_s": start,
                "selection_end_s": end,
                "pitch_method": report.pitch_method or "",
                **report.values,
            }
        )
    columns = ["recording_id", "selection_start_s", "selection_end_s", "pitch_method", *MEASURE_KEYS]
    return pd.DataFrame(rows, columns=columns), pd.DataFrame(problems, columns=list(PROBLEM_COLUMNS))


def report_agreement(
    cohort: Cohort,
    *,
    recording_ids: Iterable[str] | None = None,
    settings: AcousticSettings | None = None,
    cache_dir: Path | None = None,
    n_jobs: int = 1,
    tolerance: float = 0.01,
    progress: Callable[[int, int], None] | None = None,
) -> Agreement:
    """Compare every report's measures with their recomputation from the audio.

    Parameters
    ----------
    cohort : Cohort
    recording_ids : iterable of str, optional
        Recordings to compare (default: every recording with a report).
    settings : AcousticSettings, optional
        Voice analysis settings; the span is always the report's selection.
    cache_dir : Path, optional
        Feature cache root (None: no cache).
    n_jobs : int
        Worker processes for the recomputation.
    tolerance : float
        Relative difference counted as agreement (0.01 = 1 %).
    progress : callable, optional
        ``progress(done, total)``.

    Returns
    -------
    agreement : Agreement
    """
    settings = replace(settings or AcousticSettings(), span="report")
    reported, problems = report_values(cohort, recording_ids=recording_ids)
    recomputed = recording_features(
        cohort,
        recording_ids=reported["recording_id"],
        groups=("praat",),
        settings=settings,
        cache_dir=cache_dir,
        n_jobs=n_jobs,
        progress=progress,
    )
    pairs = agreement_pairs(reported, recomputed, tolerance=tolerance)
    return Agreement(pairs=pairs, summary=summarize_agreement(pairs), problems=problems, tolerance=tolerance)


def recording_agreement(
    cohort: Cohort,
    recording_id: str,
    *,
    settings: AcousticSettings | None = None,
    cache_dir: Path | None = None,
    tolerance: float = 0.01,
) -> pd.DataFrame:
    """One recording's report beside its recomputation (for a page that shows one recording).

    Returns
    -------
    table : pd.DataFrame
        One row per measure in report order: ``measure, label, unit`` and the
        :data:`PAIR_COLUMNS` from ``reported`` on; ``reported`` is NaN and ``status``
        "no report" when the recording has none.
    """
    settings = replace(settings or AcousticSettings(), span="report")
    reported, _ = report_values(cohort, recording_ids=[recording_id])
    recomputed = recording_features(
        cohort, recording_ids=[recording_id], groups=("praat",), settings=settings, cache_dir=cache_dir
    )
    if reported.empty:
        reported = pd.DataFrame({"recording_id": [recording_id], **dict.fromkeys(MEASURE_KEYS, [math.nan])})
    pairs = agreement_pairs(reported, recomputed, tolerance=tolerance).drop(columns="recording_id")
    if cohort.voice_report_path(recording_id) is None:
        pairs["status"] = "no report"
    units = {m.key: (m.label, _display_unit(m)) for m in MEASURES}
    pairs.insert(1, "label", pairs["measure"].map(lambda k: units[k][0]))
    pairs.insert(2, "unit", pairs["measure"].map(lambda k: units[k][1]))
    return pairs


def agreement_pairs(
    reported: pd.DataFrame, recomputed: pd.DataFrame, *, tolerance: float = 0.01
) -> pd.DataFrame:
    """Long table of reported versus recomputed values.

    Parameters
    ----------
    reported, recomputed : pd.DataFrame
        ``recording_id`` and :data:`MEASURE_KEYS` columns each.
    tolerance : float
        Relative tolerance.

    Returns
    -------
    pairs : pd.DataFrame
        Columns :data:`PAIR_COLUMNS`.
    """
    left = reported.set_index("recording_id")[list(MEASURE_KEYS)]
    right = recomputed.set_index("recording_id")[list(MEASURE_KEYS)].reindex(left.index)
    a = left.stack(future_stack=True).rename("reported")
    b = right.stack(future_stack=True).rename("recomputed")
    pairs = pd.concat([a, b], axis=1).reset_index()
    pairs.columns = ["recording_id", "measure", "reported", "recomputed"]
    rep, rec = pairs["reported"].to_numpy(float), pairs["recomputed"].to_numpy(float)
    diff = np.abs(rec - rep)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(rep == 0, np.where(diff == 0, 0.0, np.inf), diff / np.abs(rep))
    rounding = pairs["measure"].map({m.key: m.rounding for m in MEASURES}).to_numpy(float)
    both = ~np.isnan(rep) & ~np.isnan(rec)
    pairs["abs_diff"] = np.where(both, diff, np.nan)
    pairs["rel_diff"] = np.where(both, rel, np.nan)
    pairs["within_tolerance"] = both & (rel <= tolerance)
    # A tiny margin absorbs the binary representation of the printed decimals.
    pairs["within_rounding"] = both & ((rel <= tolerance) | (diff <= rounding * (1 + 1e-6) + 1e-12))
    pairs["status"] = np.select(
        [both, np.isnan(rep) & np.isnan(rec), np.isnan(rep)],
        ["compared", "both undefined", "undefined in report"],
        default="undefined in recomputation",
    )
    return pairs[list(PAIR_COLUMNS)]


def summarize_agreement(pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per measure (report order) of :func:`agreement_pairs` output.

    Columns :data:`SUMMARY_COLUMNS`.
    """
    rows = []
    for measure in MEASURES:
        chosen = pairs[pairs["measure"] == measure.key]
        compared = chosen[chosen["status"] == "compared"]
        n = int(len(compared))
        rows.append(
            {
                "measure": measure.key,
                "label": measure.label,
                "unit": _display_unit(measure),
                "n_compared": n,
                "n_both_undefined": int((chosen["status"] == "both undefined").sum()),
                "n_undefined_mismatch": int(chosen["status"].str.startswith("undefined in").sum()),
                "median_rel_diff": float(compared["rel_diff"].median()) if n else math.nan,
                "max_rel_diff": float(compared["rel_diff"].max()) if n else math.nan,
                "max_abs_diff": float(compared["abs_diff"].max()) if n else math.nan,
                "share_within_tolerance": float(compared["within_tolerance"].mean()) if n else math.nan,
                "share_within_rounding": float(compared["within_rounding"].mean()) if n else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _display_unit(measure: Measure) -> str:
    """The unit of the measure's key (Praat prints periods in seconds; the keys hold ms and µs)."""
    if measure.unit == "seconds":
        return "ms" if measure.scale == 1e3 else "µs"
    return measure.unit


__all__ = [
    "Agreement",
    "PAIR_COLUMNS",
    "SUMMARY_COLUMNS",
    "agreement_pairs",
    "report_agreement",
    "recording_agreement",
    "report_values",
    "summarize_agreement",
]
