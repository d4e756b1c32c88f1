"""Outer cross-validation folds, inner validation, repeats and the leakage guard.

The default split is by PATIENT: every segment of a patient lies on one side of every
cut (train, validation or test). Patients are stratified by outcome with sklearn's
``StratifiedKFold`` over the patient table (one label per patient, so this is the
grouped split), and the inner validation set is a stratified 15 % of the outer-train
patients. The "segment_leaky" kind reproduces the study's notebook, which split
segments; its folds carry ``leaky=True`` so every table and page can say so.

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from core.config import SplitConfig
from core.errors import TrainingError


@dataclass(frozen=True)
class Fold:
    """One outer fold of one repeat, as row positions into the segment table.

    Attributes
    ----------
    repeat : int
        Repeat number, 0..R-1; repeat r was split with ``seed + r``.
    fold : int
        Outer fold number, 0..K-1.
    seed : int
        Seed of this repeat's outer split.
    train, val, test : np.ndarray [shape=(n_part,), dtype=int64]
        Sorted row positions of the segments in each part.
    leaky : bool
        True when segments (not patients) were split: one patient may sit on two sides.
    """

    repeat: int
    fold: int
    seed: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    leaky: bool = False

    @property
    def key(self) -> str:
        """Stable name such as ``"r0f3"`` used in file names and tables."""
        from core.folds import FoldKey

        return FoldKey(self.repeat, self.fold).key

    def part_of(self, n: int) -> np.ndarray:
        """Name of the part of each of ``n`` rows: "train", "val", "test" or "" (unused).

        Returns
        -------
        parts : np.ndarray [shape=(n,), dtype=object]
        """
        parts = np.full(n, "", dtype=object)
        parts[self.train] = "train"
        parts[self.val] = "val"
        parts[self.test] = "test"
        return parts


def labelled_patients(segments: pd.DataFrame) -> pd.DataFrame:
    """One row per patient with a known label: ``patient_id, label, n_segments``.

    Raises
    ------
    TrainingError
        If a patient's segments carry two different labels.
    """
    known = segments[segments["label"].notna()]
    grouped = known.groupby("patient_id", sort=True)["label"]
    n_labels = grouped.nunique()
    mixed = n_labels[n_labels > 1].index.tolist()
    if mixed:
        raise TrainingError(f"patients {mixed[:5]} have segments with two different labels; expected one")
    table = grouped.agg(["first", "size"]).reset_index()
    table.columns = ["patient_id", "label", "n_segments"]
    table["label"] = table["label"].astype(int)
    return table


def make_folds(
    segments: pd.DataFrame, config: SplitConfig, *, patients: pd.DataFrame | None = None
) -> list[Fold]:
    """All outer folds of every repeat for a segment table.

    Parameters
    ----------
    segments : pd.DataFrame
        Segment table with at least ``patient_id`` and ``label`` (Int64 0/1/<NA>);
        rows with an unknown label are left out of every part.
    config : SplitConfig
        Kind, number of folds, seed, inner validation ratio, repeats, and which patients
        the folds are drawn over (``patients``).
    patients : pd.DataFrame, optional
        With ``config.patients == "cohort"`` (required then): the cohort's labelled
        patients, ``patient_id, label`` (one row each); every labelled patient of
        ``segments`` must be one of them, with the same label. Ignored otherwise.

    Returns
    -------
    folds : list of Fold
        ``config.repeats * config.n_folds`` folds, repeat-major. Patient folds pass
        :func:`assert_no_leakage`.

    Raises
    ------
    TrainingError
        If there are too few patients (or segments, for the leaky kind) of a class for
        the number of folds, or no validation patient of each class can be drawn; with
        "cohort" patients, when the table is missing or disagrees with the segments, or a
        fold's training or validation part lacks a class of this run's segments, or its
        test part has none.
    """
    config.validate()
    table = None
    if config.kind == "patient":
        cohort = config.patients == "cohort"
        table = cohort_table(segments, patients) if cohort else labelled_patients(segments)
    folds: list[Fold] = []
    for repeat in range(config.repeats):
        seed = config.seed + repeat
        if table is not None:
            made = _patient_folds(
                segments, table, n_folds=config.n_folds, seed=seed, val_ratio=config.val_ratio
            )
        else:
            made = _segment_folds(segments, n_folds=config.n_folds, seed=seed, val_ratio=config.val_ratio)
        for fold_no, (train, val, test) in enumerate(made):
            fold = Fold(repeat, fold_no, seed, train, val, test, leaky=config.kind != "patient")
            if not fold.leaky:
                assert_no_leakage(segments, fold)
            if config.patients == "cohort":  # the default keeps drawing (and accepting) what it always did
                assert_trainable(segments, fold)
            folds.append(fold)
    return folds


def assert_no_leakage(segments: pd.DataFrame, fold: Fold) -> None:
    """Raise when a patient has segments on two sides of a fold, or a segment is used twice.

    Raises
    ------
    TrainingError
        Naming the first patients found on two sides.
    """
    all_rows = np.concatenate([fold.train, fold.val, fold.test])
    if np.unique(all_rows).size != all_rows.size:
        raise TrainingError(f"fold {fold.key}: a segment appears in two parts")
    patients = segments["patient_id"].to_numpy()
    sides = {
        name: set(patients[rows])
        for name, rows in (("train", fold.train), ("val", fold.val), ("test", fold.test))
    }
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        shared = sorted(sides[a] & sides[b])
        if shared:
            raise TrainingError(f"fold {fold.key}: patients {shared[:5]} are in both {a} and {b}")


def cohort_table(segments: pd.DataFrame, patients: pd.DataFrame | None) -> pd.DataFrame:
    """The cohort's labelled patients as ``patient_id, label``, sorted, checked against ``segments``.

    Raises
    ------
    TrainingError
        No table given, a patient twice or without a 0/1 label, or a patient of the
        segments missing from it or labelled otherwise.
    """
    if patients is None:
        raise TrainingError("split.patients='cohort' needs the cohort's labelled patient table; none given")
    table = patients[["patient_id", "label"]].sort_values("patient_id", kind="stable").reset_index(drop=True)
    twice = table["patient_id"][table["patient_id"].duplicated()].tolist()
    if twice:
        raise TrainingError(f"the cohort's patient table lists patients {twice[:5]} twice")
    if table["label"].isna().any() or not table["label"].isin([0, 1]).all():
        raise TrainingError("the cohort's patient table holds a label other than 0 or 1")
    table["label"] = table["label"].astype(int)
    own = labelled_patients(segments).set_index("patient_id")["label"]
    cohort = table.set_index("patient_id")["label"]
    missing = sorted(set(own.index) - set(cohort.index))
    if missing:
        raise TrainingError(f"patients {missing[:5]} have segments but are not in the cohort's patient table")
    differ = own.index[own.to_numpy() != cohort.loc[own.index].to_numpy()].tolist()
    if differ:
        raise TrainingError(f"patients {differ[:5]} carry another label in the cohort's patient table")
    return table


def assert_trainable(segments: pd.DataFrame, fold: Fold) -> None:
    """Raise when a fold cannot be trained honestly on these segments.

    Training needs both classes (class weights), validation too (early stopping on its
    AUROC, the best epoch and the F1 threshold are chosen there, never on test), and the
    test part at least one segment. :func:`make_folds` checks the folds drawn over the
    cohort's patients, which a vowel some patients lack can leave short. (Folds drawn over the
    run's own patients are not checked, so old runs resume as they started; on a very small
    cohort their stratified validation draw of 2 patients may hold one class.)

    Raises
    ------
    TrainingError
        Naming the fold, the part and its segments per class.
    """
    labels = segments["label"].to_numpy(dtype="float64", na_value=np.nan)
    parts = (("training", fold.train, "both classes"), ("validation", fold.val, "both classes"))
    for part, rows, expected in (*parts, ("test", fold.test, "at least one segment")):
        counts = np.bincount(labels[rows].astype(int), minlength=2)
        if counts.sum() > 0 and (part == "test" or counts.min() > 0):
            continue
        n_patients = segments["patient_id"].iloc[rows].nunique()
        raise TrainingError(
            f"fold {fold.key}: its {part} part holds {counts[0]} segment(s) of label 0 and {counts[1]} of "
            f"label 1 ({n_patients} patient(s)) in this run; expected {expected}. Too few of that part's "
            "patients have segments of the selected vowels (folds drawn over the cohort's patients): "
            "use fewer folds, a larger split.val_ratio, or leave that vowel out"
        )


def _check_classes(labels: np.ndarray, *, n_folds: int, unit: str) -> None:
    counts = np.bincount(labels, minlength=2)
    if counts.min() < n_folds:
        raise TrainingError(
            f"{unit} per class {counts.tolist()} (well, poor); expected at least n_folds={n_folds} of each"
        )


def _inner_val(labels: np.ndarray, *, val_ratio: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of outer-train positions into (fit, val) positions; val gets both classes."""
    positions = np.arange(labels.size)
    n_val = max(2, int(round(val_ratio * labels.size)))
    try:
        fit, val = train_test_split(positions, test_size=n_val, stratify=labels, random_state=seed)
    except ValueError as exc:
        raise TrainingError(
            f"cannot draw a stratified validation set of {n_val} from {labels.size}: {exc}"
        ) from None
    return np.sort(fit), np.sort(val)


def _patient_folds(
    segments: pd.DataFrame, table: pd.DataFrame, *, n_folds: int, seed: int, val_ratio: float
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Stratified folds over ``table``'s patients (``patient_id, label``), as segment rows."""
    labels = table["label"].to_numpy()
    _check_classes(labels, n_folds=n_folds, unit="patients")
    known = np.flatnonzero(segments["label"].notna().to_numpy())
    positions_of = segments.iloc[known].groupby("patient_id").indices
    rows_of = {pid: known[pos] for pid, pos in positions_of.items()}
    ids = table["patient_id"].to_numpy()

    def rows(patient_positions: np.ndarray) -> np.ndarray:
        chosen = [rows_of[p] for p in ids[patient_positions] if p in rows_of]
        return np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.empty(0, np.int64)

    outer = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    made = []
    for fold_no, (train_p, test_p) in enumerate(outer.split(ids, labels)):
        fit, val = _inner_val(labels[train_p], val_ratio=val_ratio, seed=seed * 100 + fold_no)
        made.append((rows(train_p[fit]), rows(train_p[val]), rows(test_p)))
    return made


def _segment_folds(
    segments: pd.DataFrame, *, n_folds: int, seed: int, val_ratio: float
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    known = np.flatnonzero(segments["label"].notna().to_numpy())
    labels = segments["label"].to_numpy()[known].astype(int)
    _check_classes(labels, n_folds=n_folds, unit="segments")
    outer = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    made = []
    for fold_no, (train_s, test_s) in enumerate(outer.split(known, labels)):
        fit, val = _inner_val(labels[train_s], val_ratio=val_ratio, seed=seed * 100 + fold_no)
        made.append((np.sort(known[train_s[fit]]), np.sort(known[train_s[val]]), np.sort(known[test_s])))
    return made


def split_label(config: SplitConfig) -> str:
    """Short name of a split for tables: "patient", "patient (cohort folds)" or "segment-level (leaky)"."""
    if config.kind != "patient":
        return "segment-level (leaky)"
    return "patient (cohort folds)" if config.patients == "cohort" else "patient"


__all__ = [
    "Fold",
    "assert_no_leakage",
    "assert_trainable",
    "cohort_table",
    "labelled_patients",
    "make_folds",
    "split_label",
]
