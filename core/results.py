"""Tables and curves the Results page shows for one or more runs.

Everything is derived from a run's stored predictions and per-fold metrics
(:class:`core.run.Run`), so a page never recomputes a model output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from core.errors import RunError
from core.folds import FoldKey
from core.formatting import mean_sd
from core.metrics import binary_metrics
from core.run import Run
from core.splits import split_label

#: The study's per-fold table: column title → (metric key, shown as percent).
STUDY_COLUMNS: dict[str, tuple[str, bool]] = {
    "ACC (%)": ("acc", True),
    "Precision (%)": ("precision", True),
    "Recall (%)": ("recall", True),
    "Specificity (%)": ("specificity", True),
    "F1": ("f1", False),
    "AUROC (%)": ("auroc", True),
    "Best epoch": ("best_epoch", False),
    "Threshold": ("threshold", False),
}


#: The summary row of the study tables: what its ± means.
SD_LABEL = "Mean ± SD over folds (population SD, as the study)"
#: Folds with at most this many test patients get a small-fold warning.
SMALL_FOLD = 4


def fold_label(repeat: int, fold: int, *, repeats: int) -> str:
    """ "Fold 3" (one repeat) or "Repeat 2 · fold 3" (repeated CV), 1-based (:class:`core.folds.FoldKey`)."""
    text = FoldKey(int(repeat), int(fold)).label(repeats=repeats)
    return text[0].upper() + text[1:]


def per_fold(run: Run, *, level: str, part: str) -> pd.DataFrame:
    """The study's per-fold metrics for one level and part, numeric.

    Parameters
    ----------
    run : Run
    level : {"segment", "patient"}
    part : {"train", "val", "test"}

    Returns
    -------
    pd.DataFrame
        One row per fold in order, columns ``fold`` (label) and the metric keys of
        :data:`STUDY_COLUMNS` (ratios in 0..1).
    """
    if run.folds.empty:
        raise RunError(f"run {run.path.name} has no finished fold yet")
    table = run.folds[(run.folds["level"] == level) & (run.folds["part"] == part)].sort_values(
        ["repeat", "fold"]
    )
    repeats = int(run.folds["repeat"].nunique())
    keys = [key for key, _ in STUDY_COLUMNS.values()]
    out = table[keys].reset_index(drop=True)
    out.insert(
        0,
        "fold",
        [fold_label(r, f, repeats=repeats) for r, f in zip(table["repeat"], table["fold"], strict=True)],
    )
    return out


def study_table(run: Run, *, level: str, part: str) -> pd.DataFrame:
    """:func:`per_fold` formatted like the study's slides, with a "Mean ± SD" row.

    Percent columns read "77.67%", the summary row "77.67% ± 6.47%": the SD over folds
    is the population SD (ddof=0), as the study computed it (:data:`SD_LABEL`).
    """
    numeric = per_fold(run, level=level, part=part)
    rows = []
    for _, row in numeric.iterrows():
        rows.append(
            {
                "Fold": row["fold"],
                **{title: _fmt_cell(row[key], key, pct) for title, (key, pct) in STUDY_COLUMNS.items()},
            }
        )
    summary = {"Fold": SD_LABEL}
    for title, (key, pct) in STUDY_COLUMNS.items():
        values = numeric[key].astype(float)
        spread = values.std(ddof=0) if len(values) > 1 else None
        summary[title] = mean_sd(values.mean(), spread, fmt=lambda v, pct=pct: _fmt(v, pct))
    rows.append(summary)
    return pd.DataFrame(rows)


def _fmt(value: float, pct: bool) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    return f"{100 * value:.2f}%" if pct else f"{value:.2f}"


def _fmt_cell(value: float, key: str, pct: bool) -> str:
    """One fold's cell: best epochs are whole numbers, the rest as :func:`_fmt`."""
    if key == "best_epoch" and value is not None and not np.isnan(value):
        return str(int(value))
    return _fmt(value, pct)


def predictions(run: Run, *, level: str) -> pd.DataFrame:
    """Stored predictions of a level: ``repeat, fold, part, patient_id, label, prob`` (+ segment columns)."""
    table = run.patient_predictions if level == "patient" else run.segment_predictions
    if table.empty:
        raise RunError(f"run {run.path.name} has no {level} predictions yet")
    return table


def thresholds(run: Run, *, level: str) -> pd.DataFrame:
    """Validation-chosen threshold of every fold: ``repeat, fold, threshold``."""
    rows = run.folds[(run.folds["level"] == level) & (run.folds["part"] == "test")]
    return rows[["repeat", "fold", "threshold"]].reset_index(drop=True)


def confusion(
    run: Run, *, level: str, repeat: int, fold: int, threshold: float, part: str = "test"
) -> dict[str, float]:
    """Confusion counts and metrics of one fold's part at a given threshold.

    Returns
    -------
    dict
        :func:`core.metrics.binary_metrics` output (``tn, fp, fn, tp`` and the metrics).
    """
    table = predictions(run, level=level)
    chosen = table[(table["repeat"] == repeat) & (table["fold"] == fold) & (table["part"] == part)]
    return binary_metrics(chosen["label"].to_numpy(), chosen["prob"].to_numpy(), threshold=threshold)


def roc_points(run: Run, *, level: str, part: str = "test") -> pd.DataFrame:
    """ROC curve of every fold: ``fold, fpr, tpr`` rows (folds with one class are left out)."""
    table = predictions(run, level=level)
    table = table[table["part"] == part]
    repeats = int(table["repeat"].nunique())
    frames = []
    for (repeat, fold), group in table.groupby(["repeat", "fold"], sort=True):
        if group["label"].nunique() < 2:
            continue
        fpr, tpr, _ = roc_curve(group["label"].astype(int), group["prob"])
        frames.append(
            pd.DataFrame({"fold": fold_label(repeat, fold, repeats=repeats), "fpr": fpr, "tpr": tpr})
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["fold", "fpr", "tpr"])


def calibration_points(run: Run, *, level: str, part: str = "test", bins: int = 5) -> pd.DataFrame:
    """Reliability curve of the pooled predictions of a part, in equal-count bins.

    Returns
    -------
    pd.DataFrame
        One row per bin: ``predicted`` (mean probability), ``observed`` (share of
        poor outcomes), ``n``.
    """
    table = predictions(run, level=level)
    table = table[table["part"] == part]
    codes = pd.qcut(table["prob"].rank(method="first"), q=min(bins, len(table)), labels=False)
    grouped = table.assign(bin=codes).groupby("bin")
    return pd.DataFrame(
        {"predicted": grouped["prob"].mean(), "observed": grouped["label"].mean(), "n": grouped.size()}
    ).reset_index(drop=True)


def learning_curves(run: Run) -> pd.DataFrame:
    """Per-epoch curves in long form: ``fold, epoch, stage, part, metric, value``.

    Points that were not computed (NaN: the test part under ``train.curves="fast"``) are
    left out, so no legend entry names a line that is not drawn.
    """
    if run.epochs.empty:
        raise RunError(f"run {run.path.name} has no epochs recorded yet")
    repeats = int(run.epochs["repeat"].nunique())
    value_columns = [c for c in run.epochs.columns if c.split("_", 1)[0] in ("train", "val", "test")]
    long = run.epochs.melt(
        id_vars=["repeat", "fold", "epoch", "stage"], value_vars=value_columns, var_name="series"
    )
    long = long.dropna(subset=["value"]).reset_index(drop=True)
    long[["part", "metric"]] = long["series"].str.split("_", n=1, expand=True)
    long["fold"] = [
        fold_label(r, f, repeats=repeats) for r, f in zip(long["repeat"], long["fold"], strict=True)
    ]
    return long[["fold", "epoch", "stage", "part", "metric", "value"]]


def compare_runs(runs: list[Run], *, level: str = "patient") -> pd.DataFrame:
    """Test metrics (mean ± SD over folds) of several runs side by side.

    The SD is the population SD over the test folds (ddof=0), as the study computed it and
    as the Test table of the Results page shows it.

    Returns
    -------
    pd.DataFrame
        One row per run: ``run, split`` ("patient", "patient (cohort folds)" when drawn over
        the cohort's patients, or "segment-level (leaky)"), ``inputs, backbone, weights`` and
        ``<metric>_mean`` / ``<metric>_std`` for ACC … AUROC.
    """
    rows = []
    for run in runs:
        if run.folds.empty:
            continue
        test = per_fold(run, level=level, part="test")
        row = {
            "run": run.path.name,
            "split": split_label(run.config.split),
            "inputs": run.config.model.inputs,
            "backbone": run.config.model.backbone,
            "weights": run.info.weights,
            "folds": len(test),
        }
        for key in ("acc", "precision", "recall", "specificity", "f1", "auroc"):
            row[f"{key}_mean"] = float(test[key].mean())
            row[f"{key}_std"] = float(test[key].std(ddof=0)) if len(test) > 1 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)
