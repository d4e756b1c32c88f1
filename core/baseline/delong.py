"""DeLong's test for two correlated AUROCs on the same patients (fast algorithm of Sun & Xu).

DeLong, DeLong & Clarke-Pearson (1988) estimate the covariance of AUROCs computed on the
same cases from their structural components: for positive case i, ``V10_i`` is the share
of negatives it outscores (ties count 1/2); for negative case j, ``V01_j`` is the share of
positives that outscore it. Sun & Xu (2014) obtain both from midranks in O(n log n):

    V10_i = (Z_i − X_i) / n,   V01_j = 1 − (Z_{m+j} − Y_j) / m

where Z are midranks among all m + n cases, X among the positives and Y among the
negatives. Then ``S = cov(V10) / m + cov(V01) / n`` and
``z = (A − B) / sqrt(S_AA + S_BB − 2 S_AB)``, two-sided p from the normal distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from core.errors import TrainingError


@dataclass(frozen=True)
class DeLongResult:
    """Paired comparison of two AUROCs.

    Attributes
    ----------
    auroc_a, auroc_b : float
        AUROC of each score.
    difference : float
        ``auroc_a - auroc_b``.
    se : float
        Standard error of the difference.
    z : float
        ``difference / se`` (NaN when ``se`` is 0 and the AUROCs are equal).
    p_value : float
        Two-sided p-value; 1 when both scores rank the cases identically.
    ci_low, ci_high : float
        Normal-approximation confidence interval of the difference.
    covariance : np.ndarray [shape=(2, 2)]
        Covariance matrix of the two AUROCs.
    n_positive, n_negative : int
    """

    auroc_a: float
    auroc_b: float
    difference: float
    se: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    covariance: np.ndarray
    n_positive: int
    n_negative: int


def midrank_auroc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """AUROC of one score from midranks (ties count 1/2), without the checks of :func:`structural_components`.

    For scorings in a tight loop (permutation importance) on labels already checked.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n_cases,)]
        0/1 labels, both present.
    scores : np.ndarray [shape=(n_cases,)]
    """
    positive = np.asarray(y_true) == 1
    m = int(positive.sum())
    ranks = stats.rankdata(scores)
    return float((ranks[positive].sum() - m * (m + 1) / 2) / (m * (positive.size - m)))


def structural_components(
    y_true: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUROCs and DeLong structural components of several scores on the same cases.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n_cases,)]
        0/1 labels; both classes must be present.
    scores : np.ndarray [shape=(k, n_cases)] or [shape=(n_cases,)]
        Higher means more likely positive.

    Returns
    -------
    auroc : np.ndarray [shape=(k,)]
    v10 : np.ndarray [shape=(k, m)]
        One component per positive case (m positives, in input order).
    v01 : np.ndarray [shape=(k, n)]
        One component per negative case (n negatives, in input order).
    """
    y = np.asarray(y_true).astype(int).ravel()
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    if s.shape[1] != y.size:
        raise TrainingError(f"scores have {s.shape[1]} cases, labels {y.size}; expected the same cases")
    if not np.isin(y, (0, 1)).all():
        raise TrainingError("labels must be 0/1")
    if np.isnan(s).any():
        raise TrainingError("scores hold NaN; expected a score for every case")
    positive, negative = y == 1, y == 0
    m, n = int(positive.sum()), int(negative.sum())
    if m == 0 or n == 0:
        raise TrainingError(f"{m} positive and {n} negative cases; the AUROC needs both classes")
    x, z = s[:, positive], s[:, negative]
    tx = stats.rankdata(x, axis=1)
    ty = stats.rankdata(z, axis=1)
    tz = stats.rankdata(np.concatenate([x, z], axis=1), axis=1)
    auroc = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return auroc, v10, v01


def delong_covariance(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUROCs and their DeLong covariance matrix.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n_cases,)]
    scores : np.ndarray [shape=(k, n_cases)]

    Returns
    -------
    auroc : np.ndarray [shape=(k,)]
    covariance : np.ndarray [shape=(k, k)]
    """
    auroc, v10, v01 = structural_components(y_true, scores)
    m, n = v10.shape[1], v01.shape[1]
    s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((auroc.size, auroc.size))
    s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((auroc.size, auroc.size))
    return auroc, s10 / m + s01 / n


def delong_test(
    y_true: np.ndarray, score_a: np.ndarray, score_b: np.ndarray, *, level: float = 0.95
) -> DeLongResult:
    """Two-sided DeLong test of ``AUROC(score_a) == AUROC(score_b)`` on the same cases.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n_cases,)]
        0/1 labels.
    score_a, score_b : np.ndarray [shape=(n_cases,)]
        Two scores of the same cases (e.g. CNN and baseline patient probabilities).
    level : float
        Coverage of the confidence interval of the difference.

    Returns
    -------
    result : DeLongResult
    """
    auroc, cov = delong_covariance(y_true, np.vstack([score_a, score_b]))
    difference = float(auroc[0] - auroc[1])
    variance = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = float(np.sqrt(max(variance, 0.0)))
    if se > 0:
        z = difference / se
        p_value = float(2 * stats.norm.sf(abs(z)))
    else:
        z, p_value = (float("nan"), 1.0) if difference == 0 else (float("inf") * np.sign(difference), 0.0)
    half = float(stats.norm.ppf(0.5 + level / 2)) * se
    y = np.asarray(y_true).astype(int)
    return DeLongResult(
        auroc_a=float(auroc[0]),
        auroc_b=float(auroc[1]),
        difference=difference,
        se=se,
        z=float(z),
        p_value=p_value,
        ci_low=difference - half,
        ci_high=difference + half,
        covariance=cov,
        n_positive=int((y == 1).sum()),
        n_negative=int((y == 0).sum()),
    )


__all__ = ["DeLongResult", "delong_covariance", "delong_test", "structural_components"]
