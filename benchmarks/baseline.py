"""The baseline stage of ``real_voices.py``, timed, and its SVM importance against scikit-learn's path.

Usage::

    python benchmarks/baseline.py --cohort DIR [label flags] [--repeats 3] [--jobs 2] [--json]

On one cohort, with 5 outer patient folds x R repeats (patients stratified by label, seed
42 + repeat, drawn over the labelled patients as :func:`core.splits.make_folds` does):

- ``stage_seconds``: the default baseline of ``benchmarks/real_voices.py`` (six candidates,
  logistic regression and RBF SVM on three feature sets, nested CV, the comparator chosen
  per fold by inner CV), from cached acoustic features (``features_seconds``: extracting
  or reading them, before the stage);
- ``importance``: on every outer fold, an RBF SVM (C=1, gamma "scale") on the "all" feature
  set is fitted on the training patients, then its permutation importance on the test
  patients is computed twice: as the product does (:func:`core.baseline.importance.fold_importance`:
  permuted after imputation and scaling, midrank AUROC) and by the reference path (scikit-learn's
  ``permutation_importance`` of the whole pipeline on the feature frame, ``scoring="roc_auc"``).
  Reported: total seconds of each, their ratio, and the largest difference of any value.

The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def test_folds(labels: pd.Series, repeats: int) -> pd.DataFrame:
    """``patient_id, repeat, fold`` of every test patient (5 folds, seed 42 + repeat)."""
    from core.config import SplitConfig
    from core.splits import make_folds

    table = pd.DataFrame({"patient_id": labels.index, "label": labels.to_numpy()})
    rows = []
    for fold in make_folds(table, SplitConfig(repeats=repeats)):
        tested = table["patient_id"].iloc[fold.test]
        rows += [{"patient_id": p, "repeat": fold.repeat, "fold": fold.fold} for p in tested]
    return pd.DataFrame(rows)


def importance_timing(features: pd.DataFrame, labels: pd.Series, folds: pd.DataFrame) -> dict[str, float]:
    """Seconds of the product's and the reference's SVM permutation importance over all folds."""
    from sklearn.inspection import permutation_importance

    from core.baseline.importance import fold_importance
    from core.baseline.models import baseline_pipeline

    product = reference = 0.0
    largest = 0.0
    for (_, _), test in folds.groupby(["repeat", "fold"]):
        test_ids = test["patient_id"].tolist()
        train_ids = [p for p in labels.index if p not in set(test_ids)]
        pipeline, _ = baseline_pipeline("svm", seed=42)
        pipeline.fit(features.loc[train_ids], labels.loc[train_ids].to_numpy())
        x_test, y_test = features.loc[test_ids], labels.loc[test_ids].to_numpy()
        tick = time.perf_counter()
        ours = fold_importance("svm", pipeline, x_test, y_test, features.columns, seed=42)["importance"]
        product += time.perf_counter() - tick
        tick = time.perf_counter()
        theirs = permutation_importance(
            pipeline, x_test, y_test, scoring="roc_auc", n_repeats=10, random_state=42
        ).importances_mean
        reference += time.perf_counter() - tick
        largest = max(largest, float(np.max(np.abs(ours.to_numpy() - theirs))))
    return {
        "product_seconds": round(product, 2),
        "reference_seconds": round(reference, 2),
        "speedup": round(reference / product, 2),
        "max_abs_difference": largest,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from core.commands.cohort_options import add_cohort_arguments, cohort_source

    add_cohort_arguments(parser)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of 5-fold patient CV (default 3)")
    parser.add_argument("--jobs", type=int, default=2, help="processes for features and grid searches")
    parser.add_argument("--cache-dir", metavar="DIR", help="feature cache (default: the workspace's)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON (last line)")
    args = parser.parse_args()

    import real_voices

    from core.acoustics.table import FEATURE_GROUPS
    from core.baseline.comparison import patient_features
    from core.baseline.models import FEATURE_SETS
    from core.workspace import cache_dir as default_cache_dir

    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    cohort = cohort_source(args).load()
    tick = time.perf_counter()
    features = patient_features(
        cohort, phases=["pre"], vowels=["A"], groups=FEATURE_GROUPS, cache_dir=cache, n_jobs=args.jobs
    )
    features_seconds = time.perf_counter() - tick
    labels = cohort.recordings.groupby("patient_id")["label"].first().dropna().astype(int)
    labels = labels[labels.index.isin(features.index)]
    folds = test_folds(labels, args.repeats)
    tick = time.perf_counter()
    chosen, candidates = real_voices.baseline(
        cohort, folds, cache_dir=cache, jobs=args.jobs, sink=None, models=real_voices.BASELINE_MODELS
    )
    stage_seconds = time.perf_counter() - tick
    timing = importance_timing(features[list(FEATURE_SETS["all"])], labels, folds)
    test = chosen.folds[chosen.folds["part"] == "test"]
    summary = {
        "patients": int(len(labels)),
        "folds": int(len(test)),
        "jobs": args.jobs,
        "features_seconds": round(features_seconds, 1),
        "stage_seconds": round(stage_seconds, 1),
        "baseline_patient_auroc_mean": float(test["auroc"].mean()),
        "candidates": dict(
            zip(candidates["candidate"], candidates["patient_auroc_mean"].round(3), strict=True)
        ),
        "importance": timing,
    }
    if not args.json:
        real_voices.log(f"baseline stage: {stage_seconds:.1f} s; importance {timing}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
