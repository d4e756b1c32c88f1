"""Classical baselines as scikit-learn Pipelines, cross-validated on given patient folds.

Each model is ``impute (median) → scale → classifier``, so every statistic is learned on
training patients only. For every outer fold (the folds of a CNN run, or any explicit
patient → fold assignment):

1. the outer-train patients (every labelled patient not in the test fold) tune the
   hyper-parameters by an inner stratified K-fold grid search on AUROC;
2. their inner out-of-fold probabilities play the CNN's validation part: the decision
   threshold is the F1-best of 201 values on them (:func:`core.metrics.fold_metrics`);
3. the refitted best pipeline predicts the test patients.

Metrics are those of the CNN run (:mod:`core.metrics`), at patient level: one feature row
per patient, so "segment" and "patient" level coincide and only "patient" is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from core.acoustics.cepstral import CEPSTRAL_KEYS
from core.acoustics.egemaps import EGEMAPS_KEYS
from core.acoustics.spectral import spectral_keys
from core.baseline.importance import fold_importance, mean_importance
from core.config import config_hash
from core.errors import ConfigError, TrainingError
from core.formatting import nan_to_none
from core.metrics import bootstrap_ci, fold_metrics, summarize
from core.praat.report import MEASURE_KEYS

MODELS: tuple[str, ...] = ("logreg", "random_forest", "svm")

#: Voice-report measures that count cycles or breaks in the analysed span, so they grow
#: with its length rather than with the voice; they stay out of every feature set.
SPAN_COUNTS: tuple[str, ...] = ("n_pulses", "n_periods", "n_voice_breaks")
PRAAT_FEATURES: tuple[str, ...] = tuple(k for k in MEASURE_KEYS if k not in SPAN_COUNTS)

#: Named feature sets: "clinical" is what the clinical papers measure (Praat's voice
#: report and CPP/CPPS); "spectral" the MFCC/spectral statistics; "all" both; "egemaps"
#: openSMILE's eGeMAPSv02 functionals (the field's standard set); "all_egemaps" everything.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "praat": PRAAT_FEATURES,
    "clinical": PRAAT_FEATURES + CEPSTRAL_KEYS,
    "spectral": spectral_keys(),
    "all": PRAAT_FEATURES + CEPSTRAL_KEYS + spectral_keys(),
    "egemaps": EGEMAPS_KEYS,
    "all_egemaps": PRAAT_FEATURES + CEPSTRAL_KEYS + spectral_keys() + EGEMAPS_KEYS,
}

#: Columns of a predictions table (one row per fold × part × patient).
PREDICTION_COLUMNS: tuple[str, ...] = ("repeat", "fold", "part", "patient_id", "label", "prob")


@dataclass(frozen=True)
class BaselineConfig:
    """How the baselines are trained and evaluated.

    Parameters
    ----------
    models : tuple of str
        Subset of :data:`MODELS`.
    features : str
        Key of :data:`FEATURE_SETS`.
    inner_folds : int
        Inner stratified folds of the grid search (capped by the smaller class).
    n_trees : int
        Trees of the random forest.
    seed : int
        Seed of the inner splits, the forest and the SVM's Platt scaling.
    threshold_steps : int
        Thresholds swept on the inner out-of-fold probabilities.
    n_boot : int
        Bootstrap resamples of every confidence interval.
    n_jobs : int
        Parallel fits inside the grid search.
    comparator : str
        The baseline the CNN is tested against: "inner" (per outer fold, the model with
        the best inner-CV AUROC; :mod:`core.baseline.selection`) or one of ``models``
        fixed in advance. Never the best test AUROC.
    """

    models: tuple[str, ...] = MODELS
    features: str = "clinical"
    inner_folds: int = 5
    n_trees: int = 200
    seed: int = 0
    threshold_steps: int = 201
    n_boot: int = 2000
    n_jobs: int = 1
    comparator: str = "inner"

    def validate(self) -> None:
        if self.comparator != "inner" and self.comparator not in self.models:
            raise ConfigError(
                f"baseline comparator {self.comparator!r}; expected 'inner' or one of {list(self.models)}"
            )
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models:
            raise ConfigError(f"baseline models {list(self.models)}; expected a non-empty subset of {MODELS}")
        if self.features not in FEATURE_SETS:
            raise ConfigError(f"baseline features={self.features!r}; expected one of {sorted(FEATURE_SETS)}")
        if not 2 <= self.inner_folds <= 20:
            raise ConfigError(f"baseline inner_folds={self.inner_folds}; expected 2..20")
        if not 1 <= self.n_trees <= 5000:
            raise ConfigError(f"baseline n_trees={self.n_trees}; expected 1..5000")
        if self.n_boot < 100:
            raise ConfigError(f"baseline n_boot={self.n_boot}; expected >= 100")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["models"] = list(self.models)
        return data

    def hash(self) -> str:
        return config_hash(self.to_dict())


@dataclass
class ModelResult:
    """One baseline model cross-validated on the outer folds.

    Attributes
    ----------
    model : str
    predictions : pd.DataFrame
        Columns :data:`PREDICTION_COLUMNS`; part "train" (in-sample), "val" (inner
        out-of-fold, used for the threshold) and "test".
    folds : pd.DataFrame
        Per-fold patient metrics (:func:`core.metrics.fold_metrics`, level "patient")
        with ``repeat, fold`` and ``params`` (the chosen hyper-parameters, JSON-like text).
    importance : pd.DataFrame
        ``feature, importance, importance_sd, kind`` averaged over the outer folds.
    summary : dict
        ``patient_<metric>_mean`` / ``_std`` over the test folds, ``pooled_auroc`` of all
        test patients and its bootstrap interval ``pooled_auroc_ci``.
    """

    model: str
    predictions: pd.DataFrame
    folds: pd.DataFrame
    importance: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def baseline_pipeline(
    model: str, *, seed: int = 0, n_trees: int = 200
) -> tuple[Pipeline, dict[str, list[Any]]]:
    """A baseline pipeline and its hyper-parameter grid.

    Parameters
    ----------
    model : {"logreg", "random_forest", "svm"}
        Logistic regression (L1 or L2), random forest, or RBF support-vector machine;
        all weight the classes as balanced. The SVM's "probability" is the logistic of
        its margin (see :func:`positive_scores`).
    seed : int
    n_trees : int

    Returns
    -------
    pipeline : Pipeline
        ``impute → scale → model``.
    grid : dict
        Parameter grid for :class:`sklearn.model_selection.GridSearchCV`.
    """
    if model == "logreg":
        # liblinear shuffles with its own random state: seeded, so parallel grid searches agree
        estimator: Any = LogisticRegression(
            solver="liblinear", class_weight="balanced", max_iter=5000, random_state=seed
        )
        grid = {"model__C": [0.01, 0.1, 1.0, 10.0], "model__penalty": ["l1", "l2"]}
    elif model == "random_forest":
        estimator = RandomForestClassifier(n_estimators=n_trees, class_weight="balanced", random_state=seed)
        grid = {"model__max_depth": [2, None], "model__min_samples_leaf": [1, 3]}
    elif model == "svm":
        estimator = SVC(kernel="rbf", class_weight="balanced", random_state=seed)
        grid = {"model__C": [0.1, 1.0, 10.0], "model__gamma": ["scale", 0.01]}
    else:
        raise ConfigError(f"baseline model {model!r}; expected one of {MODELS}")
    steps = [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()), ("model", estimator)]
    return Pipeline(steps), grid


def outer_folds(assignment: pd.Series | pd.DataFrame) -> pd.DataFrame:
    """Normalise a patient → test-fold assignment.

    Parameters
    ----------
    assignment : pd.Series or pd.DataFrame
        A Series ``patient_id → fold`` (one repeat), or a table with ``patient_id``,
        ``fold`` and optionally ``repeat`` and ``part`` (then only "test" rows count,
        as in a run's ``predictions_patients.csv``).

    Returns
    -------
    folds : pd.DataFrame
        Columns ``repeat, fold, patient_id``, one row per (repeat, patient).

    Raises
    ------
    TrainingError
        If a patient is tested in two folds of one repeat, or fewer than two folds exist.
    """
    if isinstance(assignment, pd.Series):
        table = pd.DataFrame({"patient_id": assignment.index.astype(str), "fold": assignment.to_numpy()})
    else:
        table = assignment.copy()
        if "part" in table.columns:
            table = table[table["part"] == "test"]
    if "repeat" not in table.columns:
        table["repeat"] = 0
    missing = {"patient_id", "fold"} - set(table.columns)
    if missing:
        raise TrainingError(f"fold assignment lacks columns {sorted(missing)}; expected patient_id and fold")
    table = table[["repeat", "fold", "patient_id"]].drop_duplicates()
    table["patient_id"] = table["patient_id"].astype(str)
    table[["repeat", "fold"]] = table[["repeat", "fold"]].astype(int)
    twice = table.groupby(["repeat", "patient_id"]).size()
    if (twice > 1).any():
        raise TrainingError(
            f"patients {twice[twice > 1].index.get_level_values(1)[:5].tolist()} are tested in two folds "
            "of one repeat; expected patient-grouped folds (a leaky segment split cannot be used)"
        )
    if table.groupby("repeat")["fold"].nunique().min() < 2:
        raise TrainingError("fewer than two outer folds; expected a cross-validation")
    return table.sort_values(["repeat", "fold", "patient_id"], kind="stable").reset_index(drop=True)


def cross_validate_model(
    features: pd.DataFrame,
    labels: pd.Series,
    folds: pd.DataFrame,
    *,
    model: str,
    config: BaselineConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> ModelResult:
    """Nested cross-validation of one baseline model on the given outer folds.

    Parameters
    ----------
    features : pd.DataFrame [shape=(n_patients, n_features)]
        One row per patient, indexed by ``patient_id``; NaN allowed (imputed).
    labels : pd.Series [shape=(n_patients,)]
        0/1 outcome per ``patient_id``; patients without a label are left out.
    folds : pd.DataFrame
        :func:`outer_folds` output (or anything it accepts).
    model : str
        One of :data:`MODELS`.
    config : BaselineConfig, optional
    progress : callable, optional
        Called with a short text per finished fold.

    Returns
    -------
    result : ModelResult
    """
    config = config or BaselineConfig()
    config.validate()
    folds = outer_folds(folds)
    labels = labels.dropna().astype(int)
    usable = [p for p in features.index if p in labels.index]
    folds = folds[folds["patient_id"].isin(usable)]
    if folds.empty:
        raise TrainingError("no patient has both features and a label in the fold assignment")
    predictions, metric_rows, importances = [], [], []
    for (repeat, fold), test in folds.groupby(["repeat", "fold"], sort=True):
        members = folds.loc[folds["repeat"] == repeat, "patient_id"]
        test_ids = test["patient_id"].tolist()
        train_ids = [p for p in members if p not in set(test_ids)]
        # arrays, not frames: scikit-learn re-checks a frame's columns on every fit and scoring
        x_train, y_train = features.loc[train_ids].to_numpy(float), labels.loc[train_ids].to_numpy()
        x_test, y_test = features.loc[test_ids].to_numpy(float), labels.loc[test_ids].to_numpy()
        inner = _inner_cv(y_train, config, seed=config.seed + 1000 * int(repeat) + int(fold))
        pipeline, grid = baseline_pipeline(model, seed=config.seed, n_trees=config.n_trees)
        search = GridSearchCV(
            pipeline, grid, scoring="roc_auc", cv=inner, n_jobs=config.n_jobs, refit=True, error_score="raise"
        )
        search.fit(x_train, y_train)
        best = search.best_estimator_
        method = "predict_proba" if hasattr(best, "predict_proba") else "decision_function"
        oof = _to_probability(cross_val_predict(clone(best), x_train, y_train, cv=inner, method=method))
        parts = {
            "train": (train_ids, y_train, positive_scores(best, x_train)),
            "val": (train_ids, y_train, oof),
            "test": (test_ids, y_test, positive_scores(best, x_test)),
        }
        fold_rows = pd.concat(
            [
                pd.DataFrame(
                    {
                        "repeat": int(repeat),
                        "fold": int(fold),
                        "part": part,
                        "patient_id": ids,
                        "label": y,
                        "prob": p,
                    }
                )
                for part, (ids, y, p) in parts.items()
            ],
            ignore_index=True,
        )
        predictions.append(fold_rows)
        metrics = fold_metrics(fold_rows, threshold_steps=config.threshold_steps)
        metrics = metrics[metrics["level"] == "patient"].assign(
            repeat=int(repeat),
            fold=int(fold),
            params=str(_short_params(search.best_params_)),
            inner_auroc=float(search.best_score_),
        )
        metric_rows.append(metrics)
        importances.append(fold_importance(model, best, x_test, y_test, features.columns, seed=config.seed))
        if progress is not None:
            test_auroc = metrics.loc[metrics["part"] == "test", "auroc"].iloc[0]
            progress(f"{model} r{repeat}f{fold}: test AUROC {test_auroc:.3f}")
    result = ModelResult(
        model=model,
        predictions=pd.concat(predictions, ignore_index=True)[list(PREDICTION_COLUMNS)],
        folds=pd.concat(metric_rows, ignore_index=True),
        importance=mean_importance(importances),
    )
    result.summary = model_summary(result.folds, result.predictions, n_boot=config.n_boot, seed=config.seed)
    return result


def model_summary(
    folds: pd.DataFrame, predictions: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """Test metrics over folds (mean, std) and the pooled AUROC of all test patients with its CI.

    Parameters
    ----------
    folds : pd.DataFrame
        Per-fold metric rows (``level``, ``part`` and :data:`core.metrics.METRIC_COLUMNS`).
    predictions : pd.DataFrame
        Columns :data:`PREDICTION_COLUMNS`.
    """
    from core.metrics import METRIC_COLUMNS, auroc

    test = folds[folds["part"] == "test"]
    table = summarize(test)
    row = table[table["level"] == "patient"].iloc[0]
    summary: dict[str, Any] = {}
    for metric in METRIC_COLUMNS:
        for stat in ("mean", "std"):
            summary[f"patient_{metric}_{stat}"] = nan_to_none(row[f"{metric}_{stat}"])
    pooled = pooled_test_predictions(predictions)
    summary["pooled_auroc"] = nan_to_none(auroc(pooled["label"].to_numpy(), pooled["prob"].to_numpy()))
    low, high = bootstrap_ci(pooled, n_boot=n_boot, seed=seed)
    summary["pooled_auroc_ci"] = [nan_to_none(low), nan_to_none(high)]
    summary["folds"] = int(len(test))
    return summary


def pooled_test_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """One probability per test patient: the mean over repeats of its test-fold probability.

    Returns
    -------
    pooled : pd.DataFrame
        Columns ``patient_id, label, prob``, sorted by patient.
    """
    test = predictions[predictions["part"] == "test"]
    pooled = test.groupby("patient_id", sort=True).agg(label=("label", "first"), prob=("prob", "mean"))
    return pooled.reset_index()


def positive_scores(pipeline: Pipeline, features: pd.DataFrame) -> np.ndarray:
    """Probability of "poor" per row; for a model without probabilities, the logistic of its margin.

    Platt scaling (``SVC(probability=True)``) runs its own 5-fold split, which on a few
    dozen patients can flatten or even invert the ranking; the logistic of the margin
    keeps the SVM's ranking (its AUROC) and still maps to [0, 1] for the threshold sweep,
    which is chosen on validation probabilities anyway.

    Returns
    -------
    prob : np.ndarray [shape=(n_rows,)]
    """
    if hasattr(pipeline, "predict_proba"):
        return pipeline.predict_proba(features)[:, 1]
    return _to_probability(pipeline.decision_function(features))


def _to_probability(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    return scores[:, 1] if scores.ndim == 2 else expit(scores)


def _inner_cv(y: np.ndarray, config: BaselineConfig, *, seed: int) -> StratifiedKFold:
    smaller = int(min((y == 0).sum(), (y == 1).sum()))
    if smaller < 2:
        raise TrainingError(
            f"outer-train part has {smaller} patient(s) of one class; the inner cross-validation needs >= 2"
        )
    return StratifiedKFold(n_splits=min(config.inner_folds, smaller), shuffle=True, random_state=seed)


def _short_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k.removeprefix("model__"): v for k, v in params.items()}


__all__ = [
    "BaselineConfig",
    "FEATURE_SETS",
    "MODELS",
    "ModelResult",
    "PRAAT_FEATURES",
    "PREDICTION_COLUMNS",
    "cross_validate_model",
    "baseline_pipeline",
    "model_summary",
    "nan_to_none",
    "pooled_test_predictions",
    "positive_scores",
    "outer_folds",
]
