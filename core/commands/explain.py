"""``python -m core explain``: precompute a run's explanations (cases, CAMs, masking, occlusion).

Pick cases per confusion cell, compute their maps, branch masking and band/time occlusion
for each finished fold of a run, and cache them in <run>/explain/.

Examples::

    python -m core explain --run 20250101-120000-demo
    python -m core explain --run demo --fold 2 --methods gradcam,eigencam,integrated_gradients --faithfulness

For every finished fold (or the one given; fold numbers as stored by the run, from 0),
this caches under ``<run>/explain/fold<k>/``: the case picks (k per confusion cell),
the maps of each method for those cases (Grad-CAM with ΔCAM by default), branch masking
of the test segments with its per-fold summary, and the band/chunk occlusion table of
the test segments. Pages then read instead of recomputing. A progress bar goes to
stderr; with ``--json`` the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from core.commands.parents import CACHE_DIR, JSON_QUIET, RUN, RUNS_DIR, add_command
from core.errors import ExplainError, RunError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``explain`` sub-command."""
    parser = add_command(subparsers, run, parents=[RUN, RUNS_DIR, CACHE_DIR, JSON_QUIET])
    parser.add_argument(
        "--fold", metavar="K", help="one fold (number as stored by the run, from 0, or a key like r0f2)"
    )
    parser.add_argument("--repeat", type=int, default=0, help="repeat of --fold (default 0)")
    parser.add_argument("--k", type=int, default=10, help="cases per confusion cell (default 10)")
    parser.add_argument(
        "--methods",
        default="gradcam",
        help="comma-separated map methods (default gradcam); 'all' for every method",
    )
    parser.add_argument(
        "--baseline",
        choices=("black", "mean"),
        default="black",
        help="masking baseline: black image or the fold's training mean image",
    )
    parser.add_argument(
        "--faithfulness",
        action="store_true",
        help="also deletion/insertion curves and the randomisation check for the cases",
    )


class ProgressBar:
    """Steps done out of the total, one line on stderr (redrawn in place on a terminal)."""

    def __init__(self, total: int, *, stream: Any = None, enabled: bool = True) -> None:
        self.total, self.done = max(1, total), 0
        self.stream, self.enabled = stream or sys.stderr, enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()

    def __call__(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        bar = "#" * int(24 * self.done / self.total)
        text = f"[{bar:<24}] {self.done}/{self.total} {label} {time.perf_counter() - self.started:5.0f}s"
        end = "\n" if not self.tty or self.done >= self.total else ""
        self.stream.write(("\r\033[K" if self.tty else "") + text + end)
        self.stream.flush()


def _methods(text: str) -> list[str]:
    from core.explain import EXPLAINERS

    if text.strip() == "all":
        return list(EXPLAINERS)
    methods = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in EXPLAINERS]
    if unknown or not methods:
        raise ExplainError(
            f"--methods {text!r}: unknown {unknown}; "
            f"expected a comma-separated subset of {sorted(EXPLAINERS)}"
        )
    return methods


def run(args: argparse.Namespace) -> int:
    """Precompute; 0 when every requested fold is cached, 1 when a damaged fold model was skipped."""
    from core import runs
    from core.explain.fold import FoldExplainer, fold_keys, load_fold
    from core.folds import FoldKey
    from core.models.runtime import tensorflow
    from core.run import load_run

    methods = _methods(args.methods)
    run_dir = runs.find_run(args.run, root=args.runs_dir)
    keys = fold_keys(run_dir)
    if args.fold is not None:
        wanted = args.fold if not args.fold.isdigit() else FoldKey(args.repeat, int(args.fold)).key
        if wanted not in keys:
            raise ExplainError(f"run {run_dir.name}: no finished fold {wanted}; finished: {keys}")
        keys = [wanted]
    if not keys:
        raise ExplainError(f"run {run_dir.name} has no finished fold to explain")
    tensorflow()
    steps_per_fold = 3 + len(methods) * (2 if args.faithfulness else 1)
    bar = ProgressBar(len(keys) * steps_per_fold + 1, enabled=not args.quiet)
    loaded, cache = load_run(run_dir), Path(args.cache_dir) if args.cache_dir else None
    loaded.dataset(cache_dir=cache)
    bar("dataset")
    done, damaged = [], []
    for key in keys:
        try:
            data = load_fold(loaded, key, cache_dir=cache)
        except RunError as exc:  # a damaged or missing fold model: say so, explain the other folds
            damaged.append({"fold": key, "error": str(exc)})
            print(f"skipped fold {key}: {exc}", file=sys.stderr)
            continue
        explainer = FoldExplainer(data)
        result = explainer.precompute(
            k=args.k,
            methods=methods,
            baseline=args.baseline,
            faithfulness=args.faithfulness,
            progress=lambda label, key=key: bar(f"{key} {label}"),
        )
        result["masking"] = (
            explainer.masking_summary(baseline=args.baseline)
            .iloc[0][["mel_branch_mean", "stft_branch_mean"]]
            .to_dict()
        )
        done.append(result)
    summary = {
        "run_dir": str(run_dir),
        "explain_dir": str(run_dir / "explain"),
        "folds": done,
        "damaged": damaged,
        "seconds": round(time.perf_counter() - bar.started, 1),
    }
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        for item in done:
            m = item["masking"]
            print(
                f"{item['fold']}: {item['cases']} cases, {item['test_segments']} test segments; "
                f"mel_branch_mean {m['mel_branch_mean']:+.3f}, stft_branch_mean {m['stft_branch_mean']:+.3f}"
            )
        for item in damaged:
            print(f"{item['fold']}: not explained: {item['error']}")
        print(f"cached in {run_dir / 'explain'}")
    return 1 if damaged else 0
