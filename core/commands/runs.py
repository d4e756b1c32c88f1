"""``python -m core runs``: list training runs, or show one.

List the runs in the run store (status, split, weights, test AUROC), or print one run's
summary with 'runs show RUN'.
"""

from __future__ import annotations

import argparse
import json
from argparse import SUPPRESS
from typing import Any

from core.commands.parents import JSON, RUNS_DIR, add_command, output, runs_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``runs`` sub-command and its ``show`` action."""
    parser = add_command(subparsers, run, parents=[RUNS_DIR, JSON])
    actions = parser.add_subparsers(dest="runs_action", metavar="ACTION")
    # the options again after ``show``; suppressed defaults keep those given before it
    show = actions.add_parser(
        "show", help="summary of one run", parents=[runs_dir(default=SUPPRESS), output(default=SUPPRESS)]
    )
    show.add_argument("run", metavar="RUN", help="run id, folder, or unique name")


def run(args: argparse.Namespace) -> int:
    from core import runs

    root, as_json = args.runs_dir, args.json
    if args.runs_action == "show":
        summary = runs.run_summary(runs.find_run(args.run, root=root), verify_models=True)
        if as_json:
            print(json.dumps(summary, default=str))
        else:
            for key, value in summary.items():
                print(f"{key:28s} {_with_damage(value, summary) if key == 'status' else value}")
        return 0
    table = runs.list_runs(root)
    if as_json:
        print(json.dumps(table.to_dict(orient="records"), default=str))
        return 0
    if table.empty:
        print(f"no runs under {runs.runs_root(root)}")
        return 0
    shown = table.assign(
        patient_auroc=table.apply(lambda r: _pm(r["patient_auroc_mean"], r["patient_auroc_std"]), axis=1),
        segment_auroc=table.apply(lambda r: _pm(r["segment_auroc_mean"], r["segment_auroc_std"]), axis=1),
        folds=table["folds_done"].astype(str) + "/" + table["n_folds"].astype(str),
        status=table.apply(lambda r: _with_damage(r["status"], r), axis=1),
    )[
        [
            "run_id",
            "status",
            "preset",
            "backbone",
            "split",
            "weights",
            "patient_auroc",
            "segment_auroc",
            "folds",
        ]
    ]
    print(shown.to_string(index=False))
    return 0


def _with_damage(status: str, summary: Any) -> str:
    """``complete (fold r0f2: model file has 10 bytes, 2000 were saved)`` when a fold model is damaged."""
    damaged = summary.get("damaged_folds") or {}
    if not isinstance(damaged, dict) or not damaged:
        return status
    return f"{status} (damaged: " + "; ".join(f"fold {k}: {v}" for k, v in damaged.items()) + ")"


def _pm(mean: float | None, std: float | None) -> str:
    if mean is None or mean != mean:
        return "-"
    return f"{mean:.3f}±{0.0 if std is None or std != std else std:.3f}"
