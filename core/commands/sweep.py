"""``python -m core sweep``: train a grid of presets x backbones x inputs x settings, R repeats each.

Train every configuration of a grid as its own run (R repeats of the patient-grouped
cross-validation on the same folds) and print the comparison table.

Examples::

    python -m core sweep --cohort demo_cohort --name grid --preset quick \\
        --backbone small_cnn --backbone mobilenetv3small --repeats 5 --backend ray --json
    python -m core sweep --cohort DIR --name lr --preset seed \\
        --setting lr5:train.finetune_lr=1e-5 --setting lr4:train.finetune_lr=1e-4 --repeats 40
    python -m core sweep --cohort DIR --name vowels --preset quick --per-vowel A,I,U,E
    python -m core sweep --show 20250101-120000-grid --reference quick-small_cnn-dual
    python -m core sweep --resume 20250101-120000-grid --backend ray

Each configuration becomes a normal run folder; ``runs/_sweeps/<id>/sweep.json`` ties
them together. ``--resume SWEEP`` continues a sweep that stopped: complete runs are
skipped, incomplete ones resume from their first unfinished fold, missing ones start.
With ``--json`` the last stdout line is one object: ``sweep_dir``, ``status`` and
``table`` (one row per configuration: mean and 95 % interval over repeats of the test
metrics, the inner validation patients' AUROC ``val_auroc_mean``, DeLong against the
reference). ``--per-vowel A,I,U,E`` trains one configuration per vowel and one over all
of them; the table adds their fusion at patient level (:mod:`core.vowel_fusion`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.commands.cohort_options import cohort_source
from core.commands.parents import JSON, TRAINING, add_command, backbone_help, overrides
from core.commands.training_session import training_session
from core.config import PRESETS
from core.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` sub-command."""
    parser = add_command(subparsers, run, parents=[TRAINING, JSON])
    parser.add_argument("--name", help="sweep name (folder suffix; runs are named NAME-<configuration>)")
    parser.add_argument(
        "--preset", action="append", choices=PRESETS, help="preset(s) of the grid (default quick)"
    )
    parser.add_argument("--backbone", action="append", default=[], help=f"{backbone_help()}; repeatable")
    parser.add_argument(
        "--inputs", action="append", default=[], choices=("dual", "mel", "stft"), help="input(s)"
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE[,KEY=VALUE]",
        help="a named set of overrides; each is one value of the grid's settings axis",
    )
    parser.add_argument(
        "--per-vowel",
        metavar="V,V[,...]",
        help="per-vowel sweep: one configuration per vowel and one over all of them (e.g. A,I,U,E); "
        "the table adds their patient-level fusion",
    )
    parser.add_argument("--repeats", type=int, default=2, help="repeats per configuration (default 2)")
    parser.add_argument("--folds", type=int, help="outer folds (all configurations)")
    parser.add_argument(
        "--reference", default="", help="configuration label DeLong compares against (default: first)"
    )
    parser.add_argument(
        "--show", metavar="SWEEP", help="print the table of an existing sweep instead of training"
    )
    parser.add_argument(
        "--resume",
        metavar="SWEEP",
        help="continue a stopped sweep (id, or a unique prefix or suffix of it): complete runs are "
        "skipped, incomplete ones resumed",
    )


def build_spec(args: argparse.Namespace) -> Any:
    """The :class:`core.sweep.SweepSpec` of the command line."""
    from core.sweep import SweepSpec, parse_setting

    common: dict[str, Any] = {}
    if args.folds is not None:
        common["split.n_folds"] = args.folds
    common.update(overrides(args.set))
    grid_settings = dict(parse_setting(text) for text in args.setting)
    if args.per_vowel:
        from core.vowel_fusion import per_vowel_settings

        grid_settings.update(per_vowel_settings(args.per_vowel))
    return SweepSpec(
        presets=tuple(args.preset or ("quick",)),
        backbones=tuple(args.backbone),
        inputs=tuple(args.inputs),
        settings=grid_settings,
        repeats=args.repeats,
        common=common,
    )


def _announce(index: int, total: int, label: str) -> None:
    print(f"configuration {index + 1}/{total}: {label}", file=sys.stderr, flush=True)


def _train(args: argparse.Namespace) -> Path:
    """Train (or resume) the sweep while holding the run store's training lock; its folder."""
    from core import runs
    from core.locks import training_lock
    from core.sweep_training import find_sweep, resume_sweep, run_sweep

    cache_dir = Path(args.cache_dir) if args.cache_dir else None
    if args.resume:
        sweep_dir = find_sweep(args.resume, args.runs_dir)
        with training_session(args.runs_dir) as held:
            held.enter_context(training_lock(runs.runs_root(args.runs_dir), what=f"sweep {sweep_dir.name}"))
            return resume_sweep(
                sweep_dir,
                root=args.runs_dir,
                cache_dir=cache_dir,
                backend=args.backend,
                on_config=_announce,
            )
    if not args.cohort or not args.name:
        raise ConfigError("sweep needs --cohort DIR and --name NAME (or --show / --resume SWEEP)")
    spec = build_spec(args)
    with training_session(args.runs_dir) as held:
        held.enter_context(training_lock(runs.runs_root(args.runs_dir), what=f"sweep {args.name}"))
        return run_sweep(
            cohort_source(args),
            spec,
            name=args.name,
            root=args.runs_dir,
            cache_dir=cache_dir,
            backend=args.backend,
            reference=args.reference,
            on_config=_announce,
        )


def run(args: argparse.Namespace) -> int:
    """Train the sweep, resume it, or show one.

    Returns 0 when every configuration completed, 1 otherwise, 130 when cancelled.
    """
    from core.run_lifecycle import RunCancelled
    from core.sweep import read_sweep, sweep_table
    from core.sweep_training import find_sweep

    code = 0
    if args.show:
        sweep_dir = find_sweep(args.show, args.runs_dir)
    else:
        try:
            sweep_dir = _train(args)
        except (RunCancelled, KeyboardInterrupt):
            print("sweep cancelled", file=sys.stderr)
            return 130
    manifest = read_sweep(sweep_dir)
    if manifest["status"] != "complete":
        code = 1
    table = sweep_table(sweep_dir, reference=args.reference)
    if args.json:
        keep = [
            "configuration",
            "status",
            "repeats",
            "folds",
            "auroc",
            "auroc_mean",
            "auroc_low",
            "auroc_high",
            "acc",
            "recall",
            "specificity",
            "f1",
            "val_auroc_mean",
            "delong_diff",
            "delong_p",
            "reference",
        ]
        rows = json.loads(table[keep].to_json(orient="records"))
        print(json.dumps({"sweep_dir": str(sweep_dir), "status": manifest["status"], "table": rows}))
    else:
        print(
            f"sweep {manifest['sweep_id']} ({manifest['status']}), "
            f"reference {args.reference or manifest['reference']}"
        )
        print(
            "test metrics at patient level: mean (95 % percentile interval over repeats); DeLong vs reference"
        )
        print(
            "val_auroc: inner validation patients' AUROC, mean over folds and repeats (choose by this); "
            "fused per vowel: the one-vowel runs' patient probabilities averaged per repeat x fold"
        )
        columns = ["configuration", "status", "repeats", "auroc", "acc", "f1", "val_auroc_mean"]
        shown = table[[*columns, "delong_diff", "delong_p"]].rename(columns={"val_auroc_mean": "val_auroc"})
        print(
            shown.to_string(
                index=False, float_format="{:.3f}".format, formatters={"delong_p": "{:.3g}".format}
            )
        )
    return code
