"""Baselines against a CNN run: same patients, same folds, same metrics, paired tests.

:func:`compare_models` is the science on explicit inputs (patient features, labels, a
patient → fold assignment and optionally the CNN's test probabilities); :func:`compare_with_run`
reads all of those from a run folder (the fold of each patient is the fold in which the
run tested it, the recordings are the run's selection of phases and vowels), and
:func:`write_comparison` / :func:`load_comparison` store the result in ``<run>/baseline/``
for the dashboard (:mod:`core.baseline.result`). Tables hold pseudonymous patient ids only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from core.acoustics.table import FEATURE_GROUPS, AcousticSettings, group_keys, recording_features
from core.baseline.compare import feature_roc, paired_comparison
from core.baseline.dose import DOSE_COLUMNS, dose_regression, injected_amounts
from core.baseline.models import (
    FEATURE_SETS,
    BaselineConfig,
    cross_validate_model,
    outer_folds,
    pooled_test_predictions,
)
from core.baseline.result import (
    BASELINE_DIR,
    MODEL_COLUMNS,
    BaselineComparison,
    jsonable,
    load_comparison,
    write_comparison,
)
from core.baseline.selection import INNER, select_comparator
from core.cohort.model import Cohort
from core.errors import RunError, TrainingError
from core.formatting import nan_to_none

CNN = "cnn"


def patient_features(
    cohort: Cohort,
    *,
    phases: Sequence[str] = ("pre",),
    vowels: Sequence[str] = ("A",),
    groups: Sequence[str] = FEATURE_GROUPS,
    settings: AcousticSettings | None = None,
    cache_dir: Path | None = None,
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """One feature row per patient: the mean over the patient's selected recordings.

    Parameters
    ----------
    cohort : Cohort
    phases, vowels : sequence of str
        Recordings to use (the CNN run's selection; pre-op /a/ by default).
    groups, settings, cache_dir, n_jobs, progress
        Passed to :func:`core.acoustics.table.recording_features`.

    Returns
    -------
    features : pd.DataFrame [shape=(n_patients, n_features)]
        Indexed by ``patient_id``; NaN where no selected recording of the patient gave a value.
    """
    recordings = cohort.recordings
    chosen = recordings[recordings["phase"].isin(phases) & recordings["vowel"].isin(vowels)]
    if chosen.empty:
        raise TrainingError(f"no recording with phase in {list(phases)} and vowel in {list(vowels)}")
    table = recording_features(
        cohort,
        recording_ids=chosen["recording_id"],
        groups=groups,
        settings=settings,
        cache_dir=cache_dir,
        n_jobs=n_jobs,
        progress=progress,
    )
    columns = [k for g in groups for k in group_keys(g, settings)]
    return table.groupby("patient_id", sort=True)[columns].mean()


def compare_models(
    features: pd.DataFrame,
    labels: pd.Series,
    folds: pd.Series | pd.DataFrame,
    *,
    config: BaselineConfig | None = None,
    cnn: pd.DataFrame | None = None,
    amounts: pd.Series | None = None,
    progress: Callable[[str], None] | None = None,
) -> BaselineComparison:
    """Cross-validate every baseline on the given folds and compare it with the CNN.

    Parameters
    ----------
    features : pd.DataFrame
        Patient features indexed by ``patient_id`` (columns beyond the feature set are ignored).
    labels : pd.Series
        0/1 by ``patient_id``.
    folds : pd.Series or pd.DataFrame
        Patient → test fold (see :func:`core.baseline.models.outer_folds`).
    config : BaselineConfig, optional
    cnn : pd.DataFrame, optional
        The CNN's patient predictions (``repeat, fold, part, patient_id, label, prob``, as
        in a run's ``predictions_patients.csv``); its test rows are compared with each
        baseline on the patients both predicted.
    amounts : pd.Series, optional
        Injected ml by ``patient_id`` for the dose regression.
    progress : callable, optional
        Receives one line of text per finished fold or step.

    Returns
    -------
    comparison : BaselineComparison
    """
    config = config or BaselineConfig()
    config.validate()
    columns = list(FEATURE_SETS[config.features])
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise TrainingError(f"feature table lacks {missing[:5]} of feature set {config.features!r}")
    x = features[columns]
    folds = outer_folds(folds)
    labels = labels.dropna().astype(int)
    results = {
        m: cross_validate_model(x, labels, folds, model=m, config=config, progress=progress)
        for m in config.models
    }
    chosen, choices = select_comparator(
        results, comparator=config.comparator, n_boot=config.n_boot, seed=config.seed
    )
    if chosen.model == INNER:
        results[INNER] = chosen

    cnn_pooled = pooled_test_predictions(cnn) if cnn is not None and not cnn.empty else None
    model_rows, summary_models = [], {}
    for name, result in results.items():
        row, entry = _model_row(name, result, cnn_pooled, config)
        model_rows.append(row)
        summary_models[name] = entry
    models = pd.DataFrame(model_rows, columns=list(MODEL_COLUMNS))
    best = chosen.model  # fixed in advance or chosen by inner CV, never by test AUROC

    fold_tables = [r.folds.assign(model=n) for n, r in results.items()]
    prediction_tables = [
        r.predictions[r.predictions["part"] == "test"].assign(model=n)
        for n, r in results.items()
        if n != INNER
    ]
    if cnn is not None and not cnn.empty:
        prediction_tables.append(cnn[cnn["part"] == "test"].assign(model=CNN))
    predictions = pd.concat(prediction_tables, ignore_index=True)[
        ["model", "repeat", "fold", "patient_id", "label", "prob"]
    ]
    importance = pd.concat(
        [r.importance.assign(model=n) for n, r in results.items() if n != INNER], ignore_index=True
    )
    usable = x.loc[x.index.isin(folds["patient_id"])]
    roc = feature_roc(usable, labels, n_boot=config.n_boot, seed=config.seed)
    if progress is not None:
        progress("single-measure ROC done")

    dose_table = pd.DataFrame(columns=list(DOSE_COLUMNS))
    dose_summary: dict[str, Any] = {}
    if amounts is not None and amounts.notna().sum() >= 5:
        try:
            dose = dose_regression(x, amounts, folds, n_boot=config.n_boot, seed=config.seed)
            dose_table, dose_summary = dose.predictions, dose.summary
        except TrainingError as exc:
            dose_summary = {"error": str(exc)}
        if progress is not None:
            progress("dose regression done")

    best_entry = summary_models[best]
    summary = {
        "best_model": best,
        "comparator": config.comparator,
        "comparator_choices": choices.to_dict(orient="records"),
        "patient_auroc_mean": best_entry["patient_auroc_mean"],
        "patient_auroc_std": best_entry["patient_auroc_std"],
        "pooled_auroc": best_entry["pooled_auroc"],
        "delong_p": best_entry.get("delong_p"),
        "models": summary_models,
        "cnn_patient_auroc_mean": None,
        "cnn_patient_auroc_std": None,
        "cnn_pooled_auroc": None,
        "n_patients": int(folds["patient_id"].nunique()),
        "features": config.features,
        "n_features": len(columns),
        "dose": dose_summary,
        "config": config.to_dict(),
    }
    if cnn is not None and not cnn.empty:
        from core.metrics import auroc

        cnn_test = cnn[cnn["part"] == "test"]
        per_fold = cnn_test.groupby(["repeat", "fold"]).apply(
            lambda t: auroc(t["label"].to_numpy(), t["prob"].to_numpy()), include_groups=False
        )
        summary["cnn_patient_auroc_mean"] = nan_to_none(per_fold.mean())
        summary["cnn_patient_auroc_std"] = nan_to_none(per_fold.std(ddof=1))
        summary["cnn_pooled_auroc"] = nan_to_none(
            auroc(cnn_pooled["label"].to_numpy(), cnn_pooled["prob"].to_numpy())
        )
    return BaselineComparison(
        summary=summary,
        models=models,
        folds=pd.concat(fold_tables, ignore_index=True),
        predictions=predictions,
        feature_roc=roc,
        importance=importance[["model", "feature", "importance", "importance_sd", "kind"]],
        dose=dose_table,
        features=x.reset_index(names="patient_id"),
    )


def run_folds(predictions: pd.DataFrame, *, run_name: str = "run") -> pd.DataFrame:
    """Patient → test fold of a run, from its ``predictions_patients.csv``.

    Raises
    ------
    RunError
        If the run has no test predictions, or tests a patient in two folds of one repeat
        (a leaky segment split, which a patient-level baseline cannot share).
    """
    if predictions.empty or "part" not in predictions.columns:
        raise RunError(f"run {run_name}: no patient predictions yet; expected a trained run")
    try:
        return outer_folds(predictions)
    except TrainingError as exc:
        raise RunError(f"run {run_name}: {exc}") from None


def compare_with_run(
    run: str | Path,
    *,
    config: BaselineConfig | None = None,
    cohort: Cohort | None = None,
    runs_root: str | Path | None = None,
    settings: AcousticSettings | None = None,
    cache_dir: Path | None = None,
    n_jobs: int = 1,
    progress: Callable[[str], None] | None = None,
) -> BaselineComparison:
    """Train the baselines on the folds of a CNN run and compare them with it.

    Parameters
    ----------
    run : str or Path
        Run folder, id, or unique prefix (:func:`core.runs.find_run`).
    config : BaselineConfig, optional
    cohort : Cohort, optional
        The run's cohort; loaded from the manifest's ``cohort_dir`` when omitted. Its
        fingerprint must match the run's.
    runs_root : path, optional
    settings : AcousticSettings, optional
    cache_dir : Path, optional
        Feature cache root (default ``core.workspace.cache_dir()``).
    n_jobs : int
        Worker processes for the features not yet cached.
    progress : callable, optional

    Returns
    -------
    comparison : BaselineComparison
        ``summary`` also carries ``run_id``; ``folds`` also the run's own per-fold CNN metrics.
    """
    from core.runs import load_run
    from core.workspace import cache_dir as default_cache_dir

    loaded = load_run(run, root=runs_root)
    manifest = loaded.manifest
    if manifest.get("leaky"):
        raise RunError(f"run {loaded.path.name} split segments (leaky); the baseline needs patient folds")
    folds = run_folds(loaded.patient_predictions, run_name=loaded.path.name)
    if cohort is None:
        from core.cohort import CohortSource

        data = manifest.get("data", {})
        if not data.get("cohort_dir") or not Path(data["cohort_dir"]).is_dir():
            raise RunError(f"run {loaded.path.name}: its cohort folder is not available; pass the cohort")
        cohort = CohortSource.from_run_data(data).load()
    expected = manifest.get("data", {}).get("fingerprint")
    if expected and cohort.fingerprint() != expected:
        raise RunError(
            f"run {loaded.path.name}: the cohort's recordings or labels changed since the run was trained"
        )
    selection = manifest.get("config", {}).get("preprocess", {}).get("selection", {})
    features = patient_features(
        cohort,
        phases=selection.get("phases", ["pre"]),
        vowels=selection.get("vowels", ["A"]),
        settings=settings,
        cache_dir=cache_dir if cache_dir is not None else default_cache_dir(),
        n_jobs=n_jobs,
        progress=(lambda done, total: progress(f"features {done}/{total}")) if progress else None,
    )
    test = loaded.patient_predictions[loaded.patient_predictions["part"] == "test"]
    labels = test.groupby("patient_id")["label"].first()
    comparison = compare_models(
        features,
        labels,
        folds,
        config=config,
        cnn=loaded.patient_predictions,
        amounts=injected_amounts(cohort.patients),
        progress=progress,
    )
    cnn_folds = loaded.folds
    if not cnn_folds.empty:
        cnn_rows = cnn_folds[cnn_folds["level"] == "patient"].assign(model=CNN)
        comparison.folds = pd.concat([comparison.folds, cnn_rows], ignore_index=True)
    comparison.summary["run_id"] = loaded.path.name
    return comparison


def _model_row(
    name: str, result: Any, cnn_pooled: pd.DataFrame | None, config: BaselineConfig
) -> tuple[dict[str, Any], dict[str, Any]]:
    s = result.summary
    low, high = s["pooled_auroc_ci"]
    row: dict[str, Any] = {
        "model": name,
        "patient_auroc_mean": s["patient_auroc_mean"],
        "patient_auroc_std": s["patient_auroc_std"],
        "patient_f1_mean": s["patient_f1_mean"],
        "patient_acc_mean": s["patient_acc_mean"],
        "pooled_auroc": s["pooled_auroc"],
        "pooled_auroc_ci_low": low,
        "pooled_auroc_ci_high": high,
        "cnn_minus_model": math.nan,
        "difference_ci_low": math.nan,
        "difference_ci_high": math.nan,
        "delong_p": math.nan,
    }
    entry: dict[str, Any] = {
        "patient_auroc_mean": s["patient_auroc_mean"],
        "patient_auroc_std": s["patient_auroc_std"],
        "pooled_auroc": s["pooled_auroc"],
        "pooled_auroc_ci": [low, high],
    }
    if cnn_pooled is not None:
        base = pooled_test_predictions(result.predictions).set_index("patient_id")
        both = cnn_pooled.set_index("patient_id").join(base["prob"].rename("base"), how="inner")
        if both["label"].nunique() == 2:
            paired = paired_comparison(
                both["label"].to_numpy(),
                both["prob"].to_numpy(),
                both["base"].to_numpy(),
                n_boot=config.n_boot,
                seed=config.seed,
            )
            row.update(
                cnn_minus_model=paired["difference"],
                difference_ci_low=paired["bootstrap_ci"][0],
                difference_ci_high=paired["bootstrap_ci"][1],
                delong_p=paired["delong_p"],
            )
            entry.update(
                delong_p=nan_to_none(paired["delong_p"]),
                cnn_minus_model=nan_to_none(paired["difference"]),
                difference_ci=[nan_to_none(v) for v in paired["bootstrap_ci"]],
                n_paired=paired["n"],
            )
    return row, entry


__all__ = [
    "BASELINE_DIR",
    "BaselineComparison",
    "MODEL_COLUMNS",
    "compare_models",
    "compare_with_run",
    "jsonable",
    "load_comparison",
    "patient_features",
    "run_folds",
    "write_comparison",
]
