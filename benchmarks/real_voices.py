"""Real voices: the study's preset, the recommended preset and the acoustic baseline on the same folds.

Usage::

    python benchmarks/real_voices.py --cohort DIR [--labels FILE --path-column C
        --patient-column C --label-column C --positive VALUE] [--repeats 3] [--json]

On one cohort, with the same patient folds (5 outer folds x R repeats, patients
stratified by label, seed 42 + repeat; each fold's inner validation patients are drawn
from its training part):

- ``study_preset`` ("quick"): the study's windows and images with the small CNN;
- ``cnn_preset`` ("voice", :mod:`core.presets`): the recommended preset for real recordings;
- the default baseline: per outer fold, the candidate (model x feature set) with the best
  inner-CV AUROC on that fold's training patients (:mod:`core.baseline.selection`); the
  candidates are logistic regression and RBF SVM (``--baseline-models``; the random
  forest's grid search is left out by default to keep the run inside 30 minutes on 2
  cores) on the "clinical" (Praat + CPP), "all" (+ MFCC/spectral) and "all_egemaps"
  (+ openSMILE eGeMAPSv02) sets.

Folds train in ``--workers`` processes at once (default 2, each with CPUs / workers
TensorFlow threads; ``--workers 1`` trains them one after another in this process). A
fold's figures do not depend on where it trained beyond float round-off, which can move
early stopping by an epoch. Per epoch only the validation patients are predicted
(``train.curves="fast"``): early stopping reads nothing else, and no learning curve is drawn.

``--time-limit S`` stops after the repeat during which S seconds have passed; the
summary then covers the repeats completed (``repeats``), on the same folds for all three.

Every choice inside (epochs by early stopping on the inner validation patients,
thresholds, hyper-parameters, the baseline's model and features) is made on training
patients only; the test folds only score. ``delong_p``: DeLong's test of the pooled
patient AUROCs (each patient's test probability averaged over repeats) of ``cnn_preset``
against the baseline. ``late_fusion_*``: the mean of the two models' patient
probabilities on each test fold (equal weights fixed in advance, nothing fitted).
Progress lines go to stderr (and, with ``--log FILE``, one JSON
line per finished fold to that file); the last stdout line is one JSON object with
``patients, cnn_preset, cnn_patient_auroc_mean, cnn_patient_auroc_std,
study_preset_patient_auroc_mean, baseline_model, baseline_patient_auroc_mean, delong_p,
seconds`` and more detail.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BASELINE_MODELS: tuple[str, ...] = ("logreg", "svm")
BASELINE_FEATURES: tuple[str, ...] = ("clinical", "all", "all_egemaps")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def patient_folds(dataset: Any, folds: list[Any]) -> pd.DataFrame:
    """Patient → test fold of every repeat: ``patient_id, repeat, fold``."""
    rows = []
    for fold in folds:
        for pid in dataset.segments["patient_id"].iloc[fold.test].unique():
            rows.append({"patient_id": pid, "repeat": fold.repeat, "fold": fold.fold})
    return pd.DataFrame(rows).sort_values(["repeat", "fold", "patient_id"]).reset_index(drop=True)


class PresetRun:
    """One preset's dataset, folds and the results of the folds trained so far."""

    def __init__(self, name: str, cohort: Any, *, repeats: int, cache_dir: Path, quiet: bool = False) -> None:
        from core.config import preset, replace
        from core.dataset import build_dataset
        from core.splits import make_folds
        from core.train_steps import FeatureCache

        tick = time.perf_counter()
        self.name = name
        config = preset(name)
        # Learning curves are not needed here: "fast" predicts only the validation patients
        # after each epoch (what early stopping reads), so every result is the same as "full".
        train = replace(config.train, curves="fast")
        self.config = replace(config, split=replace(config.split, repeats=repeats), train=train)
        self.dataset = build_dataset(cohort, self.config.preprocess, cache_dir=cache_dir)
        self.folds = make_folds(self.dataset.segments, self.config.split)
        self.assignment = patient_folds(self.dataset, self.folds)
        self.cache = FeatureCache()
        self.predictions: list[pd.DataFrame] = []
        self.per_fold: list[dict[str, Any]] = []
        if not quiet:
            log(
                f"{name}: {len(self.dataset)} segments of "
                f"{self.dataset.segments['patient_id'].nunique()} patients "
                f"({time.perf_counter() - tick:.0f} s to build)"
            )

    def train(self, index: int) -> tuple[dict[str, Any], pd.DataFrame]:
        """Train fold ``self.folds[index]``: its summary row and its test patients' probabilities."""
        from core.metrics import aggregate_patients, auroc
        from core.training import train_fold

        fold = self.folds[index]
        result = train_fold(self.dataset, fold, self.config, cache=self.cache)
        test = result.predictions[result.predictions["part"] == "test"]
        patients = aggregate_patients(test, how=self.config.train.patient_aggregation)
        value = auroc(patients["label"].to_numpy(), patients["prob"].to_numpy())
        row = {
            "repeat": fold.repeat,
            "fold": fold.fold,
            "auroc": value,
            "best_epoch": result.best_epoch,
            "seconds": round(result.seconds, 1),
        }
        return row, patients.assign(repeat=fold.repeat, fold=fold.fold)

    def record(self, row: dict[str, Any], patients: pd.DataFrame, sink: Any) -> None:
        """Keep one trained fold's results (and log them)."""
        self.per_fold.append(row)
        self.predictions.append(patients)
        log(
            f"{self.name} r{row['repeat']}f{row['fold']}: patient AUROC {row['auroc']:.3f} "
            f"(best epoch {row['best_epoch']}, {row['seconds']:.0f} s)"
        )
        if sink is not None:
            sink.write(json.dumps({"preset": self.name, **row}) + "\n")
            sink.flush()

    def fold_indices(self, repeat: int) -> list[int]:
        return [i for i, f in enumerate(self.folds) if f.repeat == repeat]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.per_fold).sort_values(["repeat", "fold"]).reset_index(drop=True)


#: The worker process's presets, built once by :func:`_start_worker`.
_WORKER_RUNS: dict[str, PresetRun] = {}


def _start_worker(cohort: Any, names: list[str], repeats: int, cache_dir: Path, threads: int) -> None:
    """Worker initialiser: TensorFlow with ``threads`` intra-op threads, the presets from the cache."""
    import os

    os.environ["VOE_TF_THREADS"] = str(threads)
    from core.models.runtime import tensorflow

    tensorflow()
    for name in names:
        _WORKER_RUNS[name] = PresetRun(name, cohort, repeats=repeats, cache_dir=cache_dir, quiet=True)


def _train_in_worker(name: str, index: int) -> tuple[str, dict[str, Any], pd.DataFrame]:
    return (name, *_WORKER_RUNS[name].train(index))


def train_repeat(runs: list[PresetRun], repeat: int, sink: Any, pool: Any) -> None:
    """Train every fold of one repeat for each preset, in ``pool``'s processes or here."""
    tasks = [(run, i) for run in runs for i in run.fold_indices(repeat)]
    by_name = {run.name: run for run in runs}
    if pool is None:
        for run, i in tasks:
            run.record(*run.train(i), sink)
        return
    from concurrent.futures import as_completed

    futures = [pool.submit(_train_in_worker, run.name, i) for run, i in tasks]
    for future in as_completed(futures):
        name, row, patients = future.result()
        by_name[name].record(row, patients, sink)


def baseline(
    cohort: Any, assignment: pd.DataFrame, *, cache_dir: Path, jobs: int, sink: Any, models: tuple[str, ...]
) -> tuple[Any, pd.DataFrame]:
    """The default baseline: inner-CV choice among models x feature sets on the given folds."""
    from core.acoustics.table import FEATURE_GROUPS
    from core.baseline.comparison import patient_features
    from core.baseline.models import FEATURE_SETS, BaselineConfig, cross_validate_model
    from core.baseline.selection import select_comparator

    tick = time.perf_counter()
    features = patient_features(
        cohort, phases=["pre"], vowels=["A"], groups=FEATURE_GROUPS, cache_dir=cache_dir, n_jobs=jobs
    )
    log(
        f"baseline features: {features.shape[1]} columns of {features.shape[0]} patients "
        f"({time.perf_counter() - tick:.0f} s)"
    )
    labels = cohort.recordings.groupby("patient_id")["label"].first().dropna().astype(int)
    candidates = {}
    for feature_set in BASELINE_FEATURES:
        x = features[list(FEATURE_SETS[feature_set])]
        for model in models:
            config = BaselineConfig(models=(model,), features=feature_set, n_boot=1000, n_jobs=jobs)
            result = cross_validate_model(x, labels, assignment, model=model, config=config)
            candidates[f"{model}:{feature_set}"] = result
            log(
                f"baseline {model}:{feature_set}: patient AUROC {result.summary['patient_auroc_mean']:.3f} "
                "(reported only; the comparator is chosen by inner CV)"
            )
    chosen, choices = select_comparator(candidates, n_boot=1000)
    if sink is not None:
        for row in chosen.folds[chosen.folds["part"] == "test"].itertuples(index=False):
            sink.write(
                json.dumps(
                    {
                        "preset": "baseline",
                        "repeat": int(row.repeat),
                        "fold": int(row.fold),
                        "auroc": float(row.auroc),
                        "chosen": row.chosen,
                    }
                )
                + "\n"
            )
        sink.flush()
    return chosen, pd.DataFrame(
        [
            {"candidate": n, "patient_auroc_mean": r.summary["patient_auroc_mean"]}
            for n, r in candidates.items()
        ]
    )


def late_fusion(cnn: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """Per test fold, the AUROC of the mean of the CNN's and the baseline's patient probabilities.

    The fusion is fixed in advance (equal weights, no fitting), so nothing in it looks at
    a test fold. ``cnn`` and ``base``: test patients with ``repeat, fold, patient_id, label,
    prob``. Returns ``repeat, fold, auroc``.
    """
    from core.metrics import auroc

    both = cnn.merge(
        base[["repeat", "fold", "patient_id", "prob"]].rename(columns={"prob": "base"}),
        on=["repeat", "fold", "patient_id"],
    )
    both["fused"] = (both["prob"] + both["base"]) / 2
    rows = [
        {"repeat": r, "fold": f, "auroc": auroc(g["label"].to_numpy(), g["fused"].to_numpy())}
        for (r, f), g in both.groupby(["repeat", "fold"])
    ]
    return pd.DataFrame(rows)


def pooled(predictions: pd.DataFrame) -> pd.DataFrame:
    """Each test patient's probability averaged over repeats: ``patient_id, label, prob``."""
    return (
        predictions.groupby("patient_id", sort=True)
        .agg(label=("label", "first"), prob=("prob", "mean"))
        .reset_index()
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from core.commands.cohort_options import add_cohort_arguments, cohort_source

    add_cohort_arguments(parser)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of 5-fold patient CV (default 3)")
    parser.add_argument("--study-preset", default="quick", help="the study's preset (default quick)")
    parser.add_argument("--preset", default="voice", help="the recommended preset (default voice)")
    parser.add_argument(
        "--cache-dir", metavar="DIR", help="segment and feature cache (default: the workspace's)"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="worker processes for the acoustic features and the baseline grid searches",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="processes that train folds at once, each with CPUs/workers TensorFlow threads "
        "(default 2; 1 trains in this process)",
    )
    parser.add_argument("--log", metavar="FILE", help="append one JSON line per finished fold")
    parser.add_argument(
        "--predictions",
        metavar="FILE",
        help="write every test patient's probability (cnn, study preset, baseline) as CSV",
    )
    parser.add_argument(
        "--baseline-models",
        default=",".join(BASELINE_MODELS),
        help="baseline candidates' models (default logreg,svm; random_forest also accepted)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=0.0,
        help="stop after the repeat during which this many seconds have passed (0 = none)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the summary as JSON (always the last line)"
    )
    args = parser.parse_args()

    from core.baseline.compare import paired_comparison
    from core.models.runtime import tensorflow
    from core.workspace import cache_dir as default_cache_dir

    start = time.perf_counter()
    tensorflow()
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    cohort = cohort_source(args).load()
    pool = None
    sink = open(args.log, "a") if args.log else None  # noqa: SIM115 - closed below
    try:
        cnn = PresetRun(args.preset, cohort, repeats=args.repeats, cache_dir=cache)
        study = PresetRun(args.study_preset, cohort, repeats=args.repeats, cache_dir=cache)
        assignment = cnn.assignment
        if not study.assignment.equals(assignment):
            raise SystemExit("the two presets' patient folds differ (a recording gave segments in one only)")
        models = tuple(m.strip() for m in args.baseline_models.split(",") if m.strip())
        base, candidates = baseline(
            cohort, assignment, cache_dir=cache, jobs=args.jobs, sink=sink, models=models
        )
        if args.workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            threads = max(1, (os.cpu_count() or 2) // args.workers)
            pool = ProcessPoolExecutor(
                max_workers=args.workers,
                mp_context=multiprocessing.get_context("spawn"),  # never fork a process holding TF
                initializer=_start_worker,
                initargs=(cohort, [args.preset, args.study_preset], args.repeats, cache, threads),
            )
            log(f"training folds in {args.workers} worker processes, {threads} TensorFlow thread(s) each")
        done = 0
        for repeat in range(args.repeats):  # repeat-major, so a time limit still compares whole repeats
            train_repeat([cnn, study], repeat, sink, pool)
            done += 1
            if args.time_limit and time.perf_counter() - start > args.time_limit and done < args.repeats:
                log(f"time limit reached after {done} of {args.repeats} repeats")
                break
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if sink is not None:
            sink.close()
    cnn_pred, cnn_folds, study_folds = (
        pd.concat(cnn.predictions, ignore_index=True),
        cnn.table(),
        study.table(),
    )
    cnn_pooled = pooled(cnn_pred)
    base_pred = base.predictions[(base.predictions["part"] == "test") & (base.predictions["repeat"] < done)]
    base_pooled = pooled(base_pred)
    both = cnn_pooled.merge(
        base_pooled[["patient_id", "prob"]].rename(columns={"prob": "base"}), on="patient_id"
    )
    paired = paired_comparison(
        both["label"].to_numpy(), both["prob"].to_numpy(), both["base"].to_numpy(), n_boot=1000, seed=0
    )
    base_test = base.folds[(base.folds["part"] == "test") & (base.folds["repeat"] < done)]
    fused = late_fusion(cnn_pred, base_pred)
    if args.predictions:
        columns = ["repeat", "fold", "patient_id", "label", "prob"]
        pd.concat(
            [
                cnn_pred[columns].assign(model=args.preset),
                pd.concat(study.predictions, ignore_index=True)[columns].assign(model=args.study_preset),
                base_pred[columns].assign(model="baseline"),
            ],
            ignore_index=True,
        ).to_csv(args.predictions, index=False)
    summary = {
        "patients": int(assignment["patient_id"].nunique()),
        "folds": int(len(cnn_folds)),
        "repeats": done,
        "repeats_planned": args.repeats,
        "cnn_preset": args.preset,
        "cnn_patient_auroc_mean": float(cnn_folds["auroc"].mean()),
        "cnn_patient_auroc_std": float(cnn_folds["auroc"].std(ddof=1)),
        "cnn_pooled_auroc": float(paired["auroc_a"]),
        "cnn_segments": len(cnn.dataset),
        "study_preset": args.study_preset,
        "study_preset_patient_auroc_mean": float(study_folds["auroc"].mean()),
        "study_preset_patient_auroc_std": float(study_folds["auroc"].std(ddof=1)),
        "baseline_model": "inner-CV choice per fold of " + ", ".join(candidates["candidate"]),
        "baseline_chosen": {str(k): int(v) for k, v in base_test["chosen"].value_counts().items()},
        "baseline_patient_auroc_mean": float(base_test["auroc"].mean()),
        "baseline_patient_auroc_std": float(base_test["auroc"].std(ddof=1)),
        "baseline_pooled_auroc": float(paired["auroc_b"]),
        "baseline_candidates": {
            r.candidate: r.patient_auroc_mean for r in candidates.itertuples(index=False)
        },
        "late_fusion_patient_auroc_mean": float(fused["auroc"].mean()),
        "late_fusion_patient_auroc_std": float(fused["auroc"].std(ddof=1)),
        "delong_p": float(paired["delong_p"]),
        "cnn_minus_baseline_pooled": float(paired["difference"]),
        "seconds": round(time.perf_counter() - start, 1),
    }
    if not args.json:
        for key, value in summary.items():
            print(f"{key}: {value}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
