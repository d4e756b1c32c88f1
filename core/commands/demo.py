"""``python -m core demo``: write the synthetic demo cohort.

Write a synthetic cohort in the study's folder layout (wavs, Praat voice reports,
metadata.xlsx/.csv, demo_truth.json), byte-identical for the same seed. OUT must be new,
empty, or a previous demo cohort (which is replaced).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.commands.parents import JSON, add_command
from core.demo import generate_cohort


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` sub-command."""
    parser = add_command(subparsers, run, parents=[JSON])
    parser.add_argument("--out", type=Path, required=True, help="destination folder")
    parser.add_argument("--patients", type=int, default=43, help="number of patients (default 43)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: up to 2)")


def run(args: argparse.Namespace) -> int:
    """Generate the cohort and print its summary; return the exit code."""
    summary = generate_cohort(
        args.out,
        patients=args.patients,
        seed=args.seed,
        workers=args.workers,
        progress=None if args.json else _progress_line,
    )
    if args.json:
        print(json.dumps(summary.to_dict()))
        return 0
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"Demo cohort written to {summary.root}")
    print(
        f"  {summary.patients} patients ({summary.well} well, {summary.poor} poor), "
        f"{summary.recordings} recordings"
    )
    print(
        "  in-sample reference patient AUROC (hidden pre-op severity; not a bound): "
        f"{summary.oracle_patient_auroc:.3f}"
    )
    print(f"  {summary.seconds:.1f} s")
    return 0


def _progress_line(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\rwriting patients {done}/{total}", end="", file=sys.stderr, flush=True)
