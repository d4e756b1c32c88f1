"""Which segments to explain: k cases per confusion cell, and scopes (segment, patient, cell).

Cells use outcome 1 ("poor") as positive and the fold's threshold: TP/FN are label 1
predicted 1/0, TN/FP are label 0 predicted 0/1 (``prob >= threshold`` → 1). Inside a
cell, the most confident cases come first: TP and FP by descending probability, TN and
FN by ascending probability.

When a cell is empty (e.g. no false positive in a fold) the study still showed k
cases, ranked by probability: we take the segments with the cell's true label ranked
towards the cell's prediction (for FP: the label-0 segments with the highest
probability, the nearest to becoming false positives) and mark them ``fallback``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import ExplainError

CELLS: tuple[str, ...] = ("TP", "TN", "FP", "FN")

#: Per cell: (true label, predicted label, rank by descending probability).
_CELL_RULES: dict[str, tuple[int, int, bool]] = {
    "TP": (1, 1, True),
    "TN": (0, 0, False),
    "FP": (0, 1, True),
    "FN": (1, 0, False),
}

#: Columns of :func:`pick_cases`.
CASE_COLUMNS: tuple[str, ...] = (
    "cell",
    "rank",
    "segment_id",
    "patient_id",
    "label",
    "prob",
    "predicted",
    "fallback",
)


def _check_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("segment_id", "label", "prob") if c not in predictions.columns]
    if missing:
        raise ExplainError(f"predictions table lacks column(s) {missing}; expected segment_id, label, prob")
    table = predictions.copy()
    if "patient_id" not in table:
        table["patient_id"] = ""
    return table


def confusion_cells(predictions: pd.DataFrame, *, threshold: float) -> pd.Series:
    """Cell ("TP", "TN", "FP", "FN", or NA when unlabelled) of each prediction row.

    Parameters
    ----------
    predictions : pd.DataFrame
        Columns ``segment_id, label, prob`` at least.
    threshold : float
        ``prob >= threshold`` predicts 1 ("poor").
    """
    table = _check_predictions(predictions)
    label = pd.to_numeric(table["label"], errors="coerce")
    predicted = (table["prob"].to_numpy() >= threshold).astype(int)
    names = np.array([["TN", "FP"], ["FN", "TP"]], dtype=object)
    cells = pd.Series(pd.NA, index=table.index, dtype="object")
    known = label.notna().to_numpy()
    cells[known] = names[label[known].astype(int).to_numpy(), predicted[known]]
    return cells


def pick_cases(predictions: pd.DataFrame, *, threshold: float, k: int = 10) -> pd.DataFrame:
    """Up to k segments per confusion cell, most confident first, with the study's fallback.

    Parameters
    ----------
    predictions : pd.DataFrame
        One fold's test predictions: ``segment_id, label, prob`` (and ``patient_id``).
    threshold : float
    k : int
        Cases per cell (10).

    Returns
    -------
    cases : pd.DataFrame
        Columns :data:`CASE_COLUMNS`, cells in the order TP, TN, FP, FN; ``rank`` 1 is
        the most confident; ``fallback`` True where the cell was empty.
    """
    if k < 1:
        raise ExplainError(f"k={k} cases per cell; expected >= 1")
    table = _check_predictions(predictions)
    table["cell"] = confusion_cells(table, threshold=threshold)
    table = table[table["cell"].notna()].copy()
    table["label"] = pd.to_numeric(table["label"]).astype(int)
    table["predicted"] = (table["prob"] >= threshold).astype(int)
    frames = []
    for cell in CELLS:
        label, _, descending = _CELL_RULES[cell]
        members = table[table["cell"] == cell]
        fallback = members.empty
        if fallback:
            members = table[table["label"] == label]
        ranked = members.sort_values(["prob", "segment_id"], ascending=[not descending, True]).head(k)
        frames.append(ranked.assign(cell=cell, rank=np.arange(1, ranked.shape[0] + 1), fallback=fallback))
    if not any(f.shape[0] for f in frames):
        return pd.DataFrame(columns=list(CASE_COLUMNS))
    cases = pd.concat(frames, ignore_index=True)
    return cases[list(CASE_COLUMNS)].reset_index(drop=True)


def select_segments(
    predictions: pd.DataFrame,
    *,
    threshold: float | None = None,
    segment_id: int | None = None,
    patient_id: str | None = None,
    cell: str | None = None,
) -> np.ndarray:
    """Segment ids in one scope: a segment, a patient's segments, a confusion cell, or all.

    Parameters
    ----------
    predictions : pd.DataFrame
        ``segment_id, label, prob, patient_id``.
    threshold : float, optional
        Needed for ``cell``.
    segment_id, patient_id, cell : optional
        At most one; none selects every row (the whole fold).

    Returns
    -------
    ids : np.ndarray [shape=(m,), dtype=int]
    """
    chosen = [
        name
        for name, v in (("segment_id", segment_id), ("patient_id", patient_id), ("cell", cell))
        if v is not None
    ]
    if len(chosen) > 1:
        raise ExplainError(f"scope given by {chosen}; expected at most one of segment_id, patient_id, cell")
    table = _check_predictions(predictions)
    if segment_id is not None:
        rows = table[table["segment_id"] == segment_id]
    elif patient_id is not None:
        rows = table[table["patient_id"] == patient_id]
    elif cell is not None:
        if cell not in CELLS:
            raise ExplainError(f"cell={cell!r}; expected one of {CELLS}")
        if threshold is None:
            raise ExplainError("a confusion-cell scope needs the fold's threshold")
        rows = table[confusion_cells(table, threshold=threshold) == cell]
    else:
        rows = table
    if rows.empty:
        what = chosen[0] if chosen else "fold"
        value = segment_id if segment_id is not None else patient_id if patient_id is not None else cell
        raise ExplainError(f"no segment in scope {what}={value}")
    return rows["segment_id"].to_numpy(dtype=int)
