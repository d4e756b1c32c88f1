"""One name for a segment on every page and in the report: recording and window number.

A dataset's ``segment_id`` is a row position that changes with the cohort and the
preprocessing; people never see it. A segment is named by its recording (whose id
starts with the patient's pseudonym, never personal data) and its 1-based window
number within that recording: "P07_S1 · window 9".
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def segment_name(recording_id: str, segment_index: int) -> str:
    """ "P07_S1 · window 9" from a recording id and a 0-based window index."""
    return f"{recording_id} · window {int(segment_index) + 1}"


def segment_names(segments: pd.DataFrame, segment_ids: Iterable[int]) -> list[str]:
    """Names of some segments of a dataset's segment table.

    Parameters
    ----------
    segments : pd.DataFrame
        The dataset's segment table (``segment_id`` = row position), with
        ``recording_id`` and ``segment_index`` columns.
    segment_ids : iterable of int

    Returns
    -------
    names : list of str
    """
    rows = segments.iloc[[int(i) for i in segment_ids]]
    return [segment_name(r, i) for r, i in zip(rows["recording_id"], rows["segment_index"], strict=True)]
