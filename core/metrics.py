"""Segment and patient metrics, the validation threshold sweep, and confidence intervals.

Conventions
-----------
- Positive class is 1 ("poor" outcome); a prediction is positive when ``prob >= threshold``.
- A patient's probability is the mean (or median / max) of its segments' probabilities.
- The decision threshold is chosen on VALIDATION predictions only: the F1-best of
  ``steps`` evenly spaced values in [0, 1] (the first one on ties), then applied to the
  test part. The patient-level threshold is chosen the same way on the validation
  patients' aggregated probabilities.
- AUROC of a part holding a single class is NaN (it is undefined), never 0.5.

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, roc_auc_score

from core.errors import ConfigError

Aggregation = Literal["mean", "median", "max"]

#: Metric columns of every per-fold table, in display order.
METRIC_COLUMNS: tuple[str, ...] = ("acc", "precision", "recall", "specificity", "f1", "auroc")
COUNT_COLUMNS: tuple[str, ...] = ("tn", "fp", "fn", "tp")


def auroc(y_true: np.ndarray, prob: np.ndarray) -> float:
    """Area under the ROC curve, NaN when ``y_true`` holds one class only.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n,)]
        0/1 labels.
    prob : np.ndarray [shape=(n,)]
        Predicted probability of class 1.
    """
    y_true = np.asarray(y_true).astype(int)
    if y_true.size == 0 or np.unique(y_true).size < 2:
        return float("nan")
    return float(roc_auc_score(y_true, np.asarray(prob, dtype=float)))


def binary_cross_entropy(
    y_true: np.ndarray, prob: np.ndarray, *, label_smoothing: float = 0.0, eps: float = 1e-7
) -> float:
    """Mean binary cross-entropy with Keras' label smoothing ``y*(1-s) + s/2``.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n,)]
    prob : np.ndarray [shape=(n,)]
    """
    y = np.asarray(y_true, dtype=float) * (1 - label_smoothing) + 0.5 * label_smoothing
    p = np.clip(np.asarray(prob, dtype=float), eps, 1 - eps)
    if y.size == 0:
        return float("nan")
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


def f1_by_threshold(y_true: np.ndarray, prob: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """F1 of the positive class at every threshold, vectorised.

    Returns
    -------
    f1 : np.ndarray [shape=(len(thresholds),)]
        0 where precision and recall are both 0.
    """
    y = np.asarray(y_true).astype(bool)
    predicted = np.asarray(prob, dtype=float)[None, :] >= np.asarray(thresholds, dtype=float)[:, None]
    tp = (predicted & y[None, :]).sum(axis=1)
    fp = (predicted & ~y[None, :]).sum(axis=1)
    fn = (~predicted & y[None, :]).sum(axis=1)
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def best_threshold(y_true: np.ndarray, prob: np.ndarray, *, steps: int = 201) -> float:
    """F1-best threshold among ``steps`` values in [0, 1]; the lowest on ties; 0.5 when empty.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n,)]
        Validation labels.
    prob : np.ndarray [shape=(n,)]
        Validation probabilities.
    """
    if steps < 2:
        raise ConfigError(f"threshold steps={steps}; expected >= 2")
    if np.asarray(y_true).size == 0:
        return 0.5
    grid = np.linspace(0.0, 1.0, steps)
    return float(grid[int(np.argmax(f1_by_threshold(y_true, prob, grid)))])


def binary_metrics(y_true: np.ndarray, prob: np.ndarray, *, threshold: float) -> dict[str, float]:
    """ACC, precision, recall, specificity, F1, AUROC and the confusion counts.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n,)]
    prob : np.ndarray [shape=(n,)]
    threshold : float
        ``prob >= threshold`` is predicted poor (1).

    Returns
    -------
    metrics : dict
        Keys :data:`METRIC_COLUMNS`, :data:`COUNT_COLUMNS`, ``n`` and ``threshold``;
        ratios with an empty denominator are 0 (sklearn's ``zero_division=0``).
    """
    y = np.asarray(y_true).astype(int)
    p = np.asarray(prob, dtype=float)
    predicted = (p >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, predicted, labels=[0, 1]).ravel() if y.size else (0, 0, 0, 0)

    def ratio(a: float, b: float) -> float:
        return float(a / b) if b else 0.0

    precision = ratio(tp, tp + fp)
    recall = ratio(tp, tp + fn)
    return {
        "acc": ratio(tp + tn, y.size),
        "precision": precision,
        "recall": recall,
        "specificity": ratio(tn, tn + fp),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "auroc": auroc(y, p),
        "tn": int(tn),
        "fp": int(fp),
        "fn": int(fn),
        "tp": int(tp),
        "n": int(y.size),
        "threshold": float(threshold),
    }


#: How segment probabilities become one per patient or recording (``train.patient_aggregation``).
AGGREGATIONS: dict[str, Callable[..., np.ndarray]] = {"mean": np.mean, "median": np.median, "max": np.max}


def check_aggregation(how: str) -> str:
    """``how`` when it names one of :data:`AGGREGATIONS`.

    Raises
    ------
    ConfigError
        Naming the bad value and the allowed ones.
    """
    if how not in AGGREGATIONS:
        raise ConfigError(f"patient aggregation {how!r}; expected mean, median or max")
    return how


def aggregate_probabilities(prob: np.ndarray, *, how: str = "mean") -> np.ndarray:
    """One probability per row from segment probabilities (a recording under each model).

    Parameters
    ----------
    prob : np.ndarray [shape=(n, k)]
        Rows (e.g. models) × segments.
    how : {"mean", "median", "max"}

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float64]
    """
    return AGGREGATIONS[check_aggregation(how)](np.asarray(prob, dtype=np.float64), axis=1)


def aggregate_patients(predictions: pd.DataFrame, *, how: Aggregation = "mean") -> pd.DataFrame:
    """Patient probabilities from segment probabilities.

    Parameters
    ----------
    predictions : pd.DataFrame
        Columns ``patient_id, label, prob`` and any of ``repeat, fold, part`` (kept as
        grouping keys, so one patient in two parts or folds stays two rows).
    how : {"mean", "median", "max"}

    Returns
    -------
    patients : pd.DataFrame
        Grouping keys, ``patient_id, label, prob, n_segments``.
    """
    check_aggregation(how)
    keys = [k for k in ("repeat", "fold", "part") if k in predictions.columns] + ["patient_id"]
    grouped = predictions.groupby(keys, sort=True, observed=True)
    table = grouped.agg(label=("label", "first"), prob=("prob", how), n_segments=("prob", "size"))
    return table.reset_index()


def fold_metrics(
    predictions: pd.DataFrame, *, threshold_steps: int = 201, aggregation: Aggregation = "mean"
) -> pd.DataFrame:
    """Segment- and patient-level metrics of one fold, thresholds chosen on validation.

    Parameters
    ----------
    predictions : pd.DataFrame
        One row per segment of the fold: ``part`` ("train", "val", "test"),
        ``patient_id``, ``label`` (0/1), ``prob``.
    threshold_steps : int
        Values swept in [0, 1] on the validation part.
    aggregation : {"mean", "median", "max"}
        How segment probabilities become a patient's probability.

    Returns
    -------
    table : pd.DataFrame
        One row per (level, part) with level in {"segment", "patient"} and part in
        {"train", "val", "test"}: :data:`METRIC_COLUMNS`, counts, ``n`` and ``threshold``.
    """
    rows = []
    levels = {
        "segment": predictions,
        "patient": aggregate_patients(predictions[["part", "patient_id", "label", "prob"]], how=aggregation),
    }
    for level, table in levels.items():
        val = table[table["part"] == "val"]
        threshold = best_threshold(val["label"].to_numpy(), val["prob"].to_numpy(), steps=threshold_steps)
        for part in ("train", "val", "test"):
            chosen = table[table["part"] == part]
            metrics = binary_metrics(
                chosen["label"].to_numpy(), chosen["prob"].to_numpy(), threshold=threshold
            )
            rows.append({"level": level, "part": part, **metrics})
    return pd.DataFrame(rows)


def summarize(
    per_fold: pd.DataFrame, *, columns: Sequence[str] = METRIC_COLUMNS, ddof: int = 0
) -> pd.DataFrame:
    """Mean and standard deviation over folds; population SD (ddof=0) by default, as the study.

    The study's "77.7 ± 6.5 %" style numbers (ACC 6.47 %, AUROC 5.45 %, Recall 10.5 %)
    are population SDs over its 5 folds (numpy's default ``std``), so the product
    reports the same quantity; pass ``ddof=1`` for the sample SD.

    Parameters
    ----------
    per_fold : pd.DataFrame
        Rows of :func:`fold_metrics` from several folds, with ``level`` and ``part``.
    columns : sequence of str
    ddof : int
        0: population SD (the study's); 1: sample SD.

    Returns
    -------
    summary : pd.DataFrame
        One row per (level, part) and columns ``<metric>_mean``, ``<metric>_std``, ``folds``.
    """
    present = [c for c in columns if c in per_fold.columns]
    grouped = per_fold.groupby(["level", "part"], sort=False)
    mean = grouped[present].mean().add_suffix("_mean")
    std = grouped[present].std(ddof=ddof).add_suffix("_std")
    out = pd.concat([mean, std], axis=1)
    out["folds"] = grouped.size()
    ordered = [f"{c}_{s}" for c in present for s in ("mean", "std")] + ["folds"]
    return out[ordered].reset_index()


def percentile_ci(values: Sequence[float], *, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of repeated results (NaNs ignored); (NaN, NaN) when empty.

    Parameters
    ----------
    values : sequence of float [shape=(n_repeats,)]
    level : float
        Coverage, e.g. 0.95 for the 2.5th..97.5th percentiles.
    """
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(arr, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_ci(
    patients: pd.DataFrame,
    *,
    metric: Callable[[np.ndarray, np.ndarray], float] = auroc,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a patient-level metric, resampling patients.

    Parameters
    ----------
    patients : pd.DataFrame
        One row per (patient, repeat) with ``patient_id, label, prob`` (e.g. pooled test
        patients of all folds). Patients are drawn with replacement; every row of a
        drawn patient comes along, so repeats of one patient stay together.
    metric : callable (y_true, prob) -> float
        Default AUROC; resamples where it is NaN (one class drawn) are dropped.
    n_boot : int
    level : float
    seed : int
        Seed of the resampling (results are reproducible).
    """
    ids = patients["patient_id"].to_numpy()
    unique, codes = np.unique(ids, return_inverse=True)
    y = patients["label"].to_numpy().astype(int)
    p = patients["prob"].to_numpy(dtype=float)
    rows_of = [np.flatnonzero(codes == i) for i in range(unique.size)]
    rng = np.random.default_rng(seed)
    scores = np.empty(n_boot)
    for b in range(n_boot):
        drawn = np.concatenate([rows_of[i] for i in rng.integers(0, unique.size, unique.size)])
        scores[b] = metric(y[drawn], p[drawn])
    return percentile_ci(scores, level=level)


def epoch_point(y_true: np.ndarray, prob: np.ndarray, *, label_smoothing: float = 0.0) -> dict[str, float]:
    """Loss, accuracy at 0.5 and AUROC of one part at one epoch (a point of a curve)."""
    y = np.asarray(y_true).astype(int)
    p = np.asarray(prob, dtype=float)
    return {
        "loss": binary_cross_entropy(y, p, label_smoothing=label_smoothing),
        "acc": float(np.mean((p >= 0.5) == y)) if y.size else float("nan"),
        "auroc": auroc(y, p),
    }


@dataclass(frozen=True)
class ModelSpread:
    """How several fold models see one subject (a patient, a new recording).

    Attributes
    ----------
    mean, sd, low, high : float
        Mean, standard deviation (ddof=0; 0 for one model), minimum and maximum of the
        models' probabilities of a poor outcome.
    threshold : float
        Mean of the models' validation-chosen thresholds.
    n_models, n_poor : int
        Models, and models whose probability reaches their own threshold.
    """

    mean: float
    sd: float
    low: float
    high: float
    threshold: float
    n_models: int
    n_poor: int

    @staticmethod
    def of(prob: np.ndarray, thresholds: np.ndarray) -> dict[str, float | int]:
        """The spread's fields from per-model probabilities and thresholds [shape=(m,)].

        Returned as keyword arguments, for the dataclasses that extend :class:`ModelSpread`.
        """
        prob = np.asarray(prob, dtype=float)
        thresholds = np.asarray(thresholds, dtype=float)
        spread = ModelSpread(
            mean=float(prob.mean()),
            sd=float(prob.std()),
            low=float(prob.min()),
            high=float(prob.max()),
            threshold=float(thresholds.mean()),
            n_models=int(prob.size),
            n_poor=int((prob >= thresholds).sum()),
        )
        return asdict(spread)


__all__ = [
    "COUNT_COLUMNS",
    "METRIC_COLUMNS",
    "ModelSpread",
    "AGGREGATIONS",
    "aggregate_patients",
    "aggregate_probabilities",
    "check_aggregation",
    "auroc",
    "best_threshold",
    "binary_cross_entropy",
    "binary_metrics",
    "bootstrap_ci",
    "epoch_point",
    "f1_by_threshold",
    "fold_metrics",
    "percentile_ci",
    "summarize",
]
