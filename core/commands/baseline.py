"""``python -m core baseline``: classical acoustic baselines on a CNN run's folds, with paired tests.

Train logistic regression / random forest / SVM pipelines on Praat, CPP and spectral
measures with the same patient folds as a CNN run, compare them with the CNN (DeLong,
bootstrap), regress the injected amount, and write <run>/baseline/.

Examples::

    python -m core baseline --run 20250101-120000-demo --json
    python -m core baseline --run demo --models logreg,svm --features all --agreement

Computes the acoustic features of the run's recordings (cached), cross-validates each
baseline on the patient folds of the run (nested inner CV), compares it with the CNN
(DeLong and bootstrap on patient AUROC), runs the dose regression, and writes everything
to ``<run>/baseline/``. Progress goes to stderr; with ``--json`` the last stdout line is
one JSON object with ``patient_auroc_mean`` of the best baseline, a per-model dict
``models`` and ``delong_p`` of the CNN against the best baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from core.commands.cohort_options import cohort_source
from core.commands.parents import CACHE_DIR, JSON_QUIET, RUN, RUNS_DIR, add_command, cohort, jobs
from core.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``baseline`` sub-command."""
    parser = add_command(
        subparsers, run, parents=[RUN, RUNS_DIR, cohort(required=False), CACHE_DIR, jobs(), JSON_QUIET]
    )
    parser.add_argument(
        "--models",
        default="logreg,random_forest,svm",
        help="comma-separated subset of logreg, random_forest, svm (default: all three)",
    )
    parser.add_argument(
        "--features",
        default="clinical",
        choices=("praat", "clinical", "spectral", "all", "egemaps", "all_egemaps"),
        help="feature set (default: clinical = Praat voice report + CPP/CPPS)",
    )
    parser.add_argument(
        "--inner-folds", type=int, default=5, help="inner CV folds of the grid search (default 5)"
    )
    parser.add_argument(
        "--n-boot", type=int, default=2000, help="bootstrap resamples of each interval (default 2000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of inner splits, forests and bootstraps")
    parser.add_argument(
        "--agreement",
        action="store_true",
        help="also compare every Praat report of the cohort with its recomputation",
    )


def run(args: argparse.Namespace) -> int:
    from core.baseline.comparison import compare_with_run, jsonable, write_comparison
    from core.baseline.models import BaselineConfig
    from core.runs import find_run
    from core.workspace import cache_dir as default_cache_dir

    config = BaselineConfig(
        models=tuple(m.strip() for m in args.models.split(",") if m.strip()),
        features=args.features,
        inner_folds=args.inner_folds,
        seed=args.seed,
        n_boot=args.n_boot,
    )
    config.validate()
    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}; expected >= 1")
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    start = time.perf_counter()
    run_dir = find_run(args.run, root=args.runs_dir)
    cohort = _cohort(args, run_dir)
    progress = None if args.quiet else _say
    comparison = compare_with_run(
        run_dir,
        config=config,
        cohort=cohort,
        runs_root=args.runs_dir,
        cache_dir=cache,
        n_jobs=args.jobs,
        progress=progress,
    )
    if args.agreement:
        comparison.summary["report_agreement"] = _agreement(run_dir, cohort, cache, args.jobs, progress)
    comparison.summary["seconds"] = round(time.perf_counter() - start, 1)
    folder = write_comparison(run_dir, comparison)
    comparison.summary["output_dir"] = str(folder)
    _print_table(comparison.summary)
    if args.json:
        print(json.dumps(jsonable(comparison.summary), allow_nan=False))
    return 0


def _cohort(args: argparse.Namespace, run_dir: Path) -> Any:
    """The cohort given on the command line (a run's cohort that moved), or None to use the run's own.

    ``--cohort DIR`` alone keeps the run's label sheet and columns on the new folder.
    """
    if args.cohort is None:
        return None
    from core.cohort import CohortSource
    from core.runs import read_manifest

    data = read_manifest(run_dir).get("data", {})
    if args.labels is None and args.positive is None and data.get("cohort_source"):
        return CohortSource.from_run_data(data).with_root(args.cohort).load()
    return cohort_source(args).load()


def _agreement(run_dir: Path, cohort: Any, cache: Path, jobs: int, progress: Any) -> dict[str, Any]:
    """Agreement table of the run's cohort, written beside the comparison; its headline numbers."""
    from core.acoustics.agreement import report_agreement
    from core.cohort import CohortSource
    from core.runs import atomic_write_csv, read_manifest

    if cohort is None:
        cohort = CohortSource.from_run_data(read_manifest(run_dir)["data"]).load()
    agreement = report_agreement(
        cohort,
        cache_dir=cache,
        n_jobs=jobs,
        progress=(lambda done, total: progress(f"report agreement {done}/{total}")) if progress else None,
    )
    atomic_write_csv(run_dir / "baseline" / "report_agreement.csv", agreement.summary)
    atomic_write_csv(run_dir / "baseline" / "report_problems.csv", agreement.problems)
    summary = agreement.summary.set_index("measure")
    return {
        "recordings": int(agreement.pairs["recording_id"].nunique()),
        "max_rel_diff": {k: _number(v) for k, v in summary["max_rel_diff"].items()},
        "share_within_rounding": _number(
            agreement.pairs.loc[agreement.pairs["status"] == "compared", "within_rounding"].mean()
        ),
        "report_problems": int(len(agreement.problems)),
    }


def _number(value: Any) -> float | None:
    value = float(value)
    return None if value != value else value


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _print_table(summary: dict[str, Any]) -> None:
    cnn = summary.get("cnn_patient_auroc_mean")
    print(
        f"run {summary.get('run_id')}: {summary['n_patients']} patients, features {summary['features']} "
        f"({summary['n_features']})"
    )
    if cnn is not None:
        print(
            f"  {'cnn':14s} patient AUROC {cnn:.3f} ± {summary.get('cnn_patient_auroc_std') or 0:.3f}  "
            f"pooled {summary.get('cnn_pooled_auroc') or float('nan'):.3f}"
        )
    for name, entry in summary["models"].items():
        line = (
            f"  {name:14s} patient AUROC {entry['patient_auroc_mean']:.3f} "
            f"± {entry['patient_auroc_std']:.3f}  "
            f"pooled {entry['pooled_auroc']:.3f}"
        )
        if entry.get("delong_p") is not None:
            line += f"  CNN−model {entry['cnn_minus_model']:+.3f}  DeLong p={entry['delong_p']:.3f}"
        print(line)
    dose = summary.get("dose") or {}
    if "mae_ml" in dose:
        print(
            f"  dose MAE {dose['mae_ml']:.3f} ml "
            f"(mean-only {dose['mean_baseline_mae_ml']:.3f} ml, n={dose['n']})"
        )
