"""Single-measure ROC analysis and the paired CNN-versus-baseline comparison.

Clinical papers report each acoustic measure on its own: its AUROC for the outcome, the
direction in which it separates the groups, a cut-off and the sensitivity/specificity
there. :func:`feature_roc` does the same for every column of a patient feature table
(descriptive, on all patients, no cross-validation: the direction and cut-off are read
off the same patients, as in those papers).

:func:`paired_comparison` compares two scores of the same patients (the CNN's pooled test
probabilities and a baseline's): DeLong's test of the AUROC difference and a percentile
bootstrap interval of that difference, resampling patients so the pairing is kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_curve

from core.baseline.delong import delong_test
from core.metrics import auroc, percentile_ci

#: Columns of :func:`feature_roc`.
FEATURE_ROC_COLUMNS: tuple[str, ...] = (
    "feature",
    "n",
    "auroc",
    "direction",
    "ci_low",
    "ci_high",
    "p_mannwhitney",
    "cutoff",
    "sensitivity",
    "specificity",
    "median_well",
    "median_poor",
)


def feature_roc(
    features: pd.DataFrame, labels: pd.Series, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """ROC of every feature on its own, as the clinical papers report single measures.

    Parameters
    ----------
    features : pd.DataFrame [shape=(n_patients, n_features)]
        Indexed by ``patient_id``.
    labels : pd.Series
        0/1 outcome by ``patient_id`` (1 = poor).
    n_boot : int
        Bootstrap resamples of patients for the AUROC interval.
    level : float
    seed : int

    Returns
    -------
    table : pd.DataFrame
        One row per feature, best AUROC first, columns :data:`FEATURE_ROC_COLUMNS`.
        ``auroc`` is oriented (>= 0.5): ``direction`` "higher" means higher values go with
        a poor outcome, "lower" the reverse. ``cutoff`` is the Youden-best threshold in the
        feature's unit, with the sensitivity and specificity for "poor" there.
        ``p_mannwhitney`` is the two-sided Mann–Whitney U test of the two groups.
    """
    labels = labels.dropna().astype(int)
    rng = np.random.default_rng(seed)
    rows = []
    for name in features.columns:
        values = features[name].reindex(labels.index)
        keep = values.notna().to_numpy()
        x, y = values.to_numpy(float)[keep], labels.to_numpy()[keep]
        rows.append(_one_feature(str(name), x, y, n_boot=n_boot, level=level, rng=rng))
    table = pd.DataFrame(rows, columns=list(FEATURE_ROC_COLUMNS))
    return table.sort_values("auroc", ascending=False, kind="stable", na_position="last").reset_index(
        drop=True
    )


def resampled_aurocs(y_true: np.ndarray, score: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """AUROC of every bootstrap resample at once, from midranks (the Mann–Whitney identity).

    Parameters
    ----------
    y_true, score : np.ndarray [shape=(n_cases,)]
    draws : np.ndarray [shape=(n_boot, n_cases), dtype=int]
        Case indices of each resample.

    Returns
    -------
    auroc : np.ndarray [shape=(n_boot,)]
        NaN for a resample that drew a single class.
    """
    y = np.asarray(y_true).astype(int)[draws] == 1
    ranks = stats.rankdata(np.asarray(score, dtype=float)[draws], axis=1)
    m = y.sum(axis=1)
    n = y.shape[1] - m
    with np.errstate(divide="ignore", invalid="ignore"):
        values = ((ranks * y).sum(axis=1) - m * (m + 1) / 2) / (m * n)
    return np.where((m > 0) & (n > 0), values, np.nan)


def paired_comparison(
    y_true: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """DeLong test and bootstrap interval of the AUROC difference of two scores of the same cases.

    Parameters
    ----------
    y_true, score_a, score_b : np.ndarray [shape=(n_cases,)]
        E.g. outcome, CNN probability, baseline probability per patient.
    n_boot, level, seed
        The bootstrap: resamples of cases (each with its pair of scores), coverage of
        both intervals, seed of the resampling.

    Returns
    -------
    comparison : dict
        ``auroc_a``, ``auroc_b``, ``difference`` (a − b), ``delong_z``, ``delong_p``,
        ``delong_ci`` (normal interval) and ``bootstrap_ci`` (percentile interval; resamples
        drawing a single class are dropped) of the difference, ``n``.
    """
    result = delong_test(y_true, score_a, score_b, level=level)
    y = np.asarray(y_true).astype(int)
    draws = np.random.default_rng(seed).integers(0, y.size, size=(n_boot, y.size))
    differences = resampled_aurocs(y, score_a, draws) - resampled_aurocs(y, score_b, draws)
    low, high = percentile_ci(differences, level=level)
    return {
        "auroc_a": result.auroc_a,
        "auroc_b": result.auroc_b,
        "difference": result.difference,
        "delong_z": result.z,
        "delong_p": result.p_value,
        "delong_ci": [result.ci_low, result.ci_high],
        "bootstrap_ci": [low, high],
        "n": int(np.asarray(y_true).size),
    }


def _one_feature(
    name: str, x: np.ndarray, y: np.ndarray, *, n_boot: int, level: float, rng: np.random.Generator
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(FEATURE_ROC_COLUMNS, np.nan)
    row.update(feature=name, n=int(x.size), direction="")
    if np.unique(y).size < 2 or np.unique(x).size < 2:
        return row
    raw = auroc(y, x)
    sign = 1.0 if raw >= 0.5 else -1.0
    oriented = x * sign
    draws = rng.integers(0, y.size, size=(n_boot, y.size))
    low, high = percentile_ci(resampled_aurocs(y, oriented, draws), level=level)
    fpr, tpr, thresholds = roc_curve(y, oriented)
    best = int(np.argmax(tpr - fpr))
    row.update(
        auroc=max(raw, 1.0 - raw),
        direction="higher" if sign > 0 else "lower",
        ci_low=low,
        ci_high=high,
        p_mannwhitney=float(stats.mannwhitneyu(x[y == 1], x[y == 0], alternative="two-sided").pvalue),
        cutoff=float(thresholds[best] * sign),
        sensitivity=float(tpr[best]),
        specificity=float(1.0 - fpr[best]),
        median_well=float(np.median(x[y == 0])),
        median_poor=float(np.median(x[y == 1])),
    )
    return row


__all__ = [
    "FEATURE_ROC_COLUMNS",
    "feature_roc",
    "paired_comparison",
    "resampled_aurocs",
]
