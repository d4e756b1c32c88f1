"""``python -m core train``: train the outcome model with cross-validation into a run folder.

Build the segment dataset of a cohort, train the dual-input model with patient-grouped
cross-validation (two stages, cached frozen prefix), and store metrics, predictions and
one model per fold under runs/<date>-<name>/.

Examples::

    python -m core train --cohort demo_cohort --preset quick --name demo --json
    python -m core train --cohort DIR --preset seed --backbone resnet50 --repeats 5 --name zoo
    python -m core train --resume 20250101-120000-demo
    python -m core train --cohort DIR --config settings.json --folds 3 --name from-file

The progress bar goes to stderr; with ``--json`` the last stdout line is one JSON
object (``run_dir``, ``status``, ``patient_auroc_mean``/``_std``,
``segment_auroc_mean``/``_std``, ``weights``, ``seconds``, ...). SIGTERM cancels the run
cleanly (status "cancelled"); ``--resume`` continues from the first unfinished fold.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from core.commands.cohort_options import cohort_source
from core.commands.parents import JSON_QUIET, TRAINING, add_command, backbone_help, overrides
from core.commands.training_session import training_session
from core.config import PRESETS, ExperimentConfig, preset, with_overrides
from core.demo import TRUTH_FILE
from core.errors import ConfigError
from core.folds import FoldKey
from core.formatting import mean_sd
from core.jobs import time_left


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command."""
    parser = add_command(subparsers, run, parents=[TRAINING, JSON_QUIET])
    parser.add_argument("--preset", choices=PRESETS, help="settings preset (default: seed)")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a JSON experiment config (as a run manifest's 'config'), instead of --preset; "
        "the flags below, given explicitly, override its settings",
    )
    parser.add_argument("--name", help="short run name (folder suffix)")
    parser.add_argument("--backbone", help=backbone_help())
    parser.add_argument("--inputs", choices=("dual", "mel", "stft"), help="both branches or one")
    parser.add_argument("--weights", help="imagenet, random, or a weights file")
    parser.add_argument(
        "--split",
        choices=("patient", "segment_leaky"),
        help="patient-grouped folds (default) or the notebook's leaky segment split",
    )
    parser.add_argument("--repeats", type=int, help="repeated cross-validation runs (seeds seed..seed+R-1)")
    parser.add_argument("--folds", type=int, help="outer folds")
    parser.add_argument("--seed", type=int, help="split seed of the first repeat")
    parser.add_argument(
        "--augment", action="store_true", help="brightness/contrast augmentation (uncached, slower)"
    )
    parser.add_argument(
        "--spec-augment",
        choices=("off", "mask", "mask+mix"),
        help="time/frequency masks, and mixup with mix (core.augment; uncached, slower)",
    )
    parser.add_argument(
        "--vowels",
        metavar="LIST",
        help="comma-separated vowels from A,I,U,E, one model over all of them, e.g. A,I,U,E "
        "(default: the preset's, A)",
    )
    parser.add_argument("--resume", metavar="RUN", help="continue a failed or cancelled run")


def build_config(args: argparse.Namespace) -> Any:
    """The preset, or the ``--config`` file, with the flags given on the command line applied over it.

    Raises
    ------
    ConfigError
        ``--config`` together with ``--preset`` (the file names its preset), an unreadable
        or invalid file (named in the message), or a bad override.
    """
    flags = {
        "model.backbone": args.backbone,
        "model.inputs": args.inputs,
        "model.weights": args.weights,
        "split.kind": args.split,
        "split.repeats": args.repeats,
        "split.n_folds": args.folds,
        "split.seed": args.seed,
        "train.augment": True if args.augment else None,
        "train.spec_augment": args.spec_augment,
        "preprocess.selection.vowels": [v.strip().upper() for v in args.vowels.split(",") if v.strip()]
        if args.vowels
        else None,
    }
    changes = {key: value for key, value in flags.items() if value is not None}
    changes.update(overrides(args.set))
    if "model.backbone" in changes:
        from core.models.backbones import get_backbone

        changes["model.backbone"] = get_backbone(str(changes["model.backbone"])).name
    if args.config and args.preset:
        raise ConfigError("--config FILE names its own preset; give --config or --preset, not both")
    base = read_config(args.config) if args.config else preset(args.preset or "seed")
    return with_overrides(base, changes)


def read_config(path: str | Path) -> ExperimentConfig:
    """The experiment config of a JSON file (:meth:`ExperimentConfig.to_json`, a run manifest's ``config``).

    Settings the file leaves out take their defaults (the seed preset's).

    Raises
    ------
    ConfigError
        The file cannot be read, is not JSON, or holds unknown or invalid settings.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    try:
        config = ExperimentConfig.from_dict(data)
        config.validate()
    except (ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    return config


class ProgressBar:
    """A one-line text bar on stderr (redrawn in place on a terminal, one line per fold otherwise)."""

    def __init__(self, config: Any, *, stream: Any = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.warmup, self.finetune = config.train.warmup_epochs, config.train.finetune_epochs
        self.backbone = config.model.backbone
        self.download_shown = False
        self.epochs = self.warmup + self.finetune
        self.started = time.perf_counter()

    def __call__(self, event: Any) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.started
        if event.kind == "weights":
            from core.models.download import download_text

            fraction, text = download_text(self.backbone, event.metrics["bytes"], event.metrics["total"])
            done = event.metrics["bytes"] >= event.metrics["total"] > 0
            if self.tty or done or not self.download_shown:  # a log gets the first and the last line
                self._line(f"[{'#' * int(fraction * 24):<24}] {text}", final=done)
            self.download_shown = True
        elif event.kind == "cache":
            self._line(
                f"cached frozen-prefix features in {event.metrics.get('seconds', 0):.1f} s", final=True
            )
        elif event.kind == "epoch":
            m = event.metrics
            done = (event.fold_index + m["epoch"] / max(self.epochs, 1)) / max(event.n_folds, 1)
            bar = "#" * int(done * 24)
            text = (
                f"[{bar:<24}] fold {event.fold_index + 1}/{event.n_folds} {event.stage} "
                f"{event.epoch}/{event.epochs} loss {m['loss']:.3f} val_auroc {m['val_auroc']:.3f} "
                f"{elapsed:5.0f}s"
            )
            left = time_left(
                m,
                stage=event.stage,
                epoch=event.epoch,
                warmup=self.warmup,
                finetune=self.finetune,
                folds_after=event.n_folds - event.fold_index - 1,
            )
            if left is not None:
                text += f" (at most {left / 60:.0f} min left)"
            if self.tty:
                self._line(text, final=False)
        elif event.kind == "fold_end":
            m = event.metrics
            self._line(
                f"{FoldKey.parse(event.fold)} done: test AUROC segment {m['segment_auroc']:.3f} patient "
                f"{m['patient_auroc']:.3f}, best epoch {m['best_epoch']}, {m['seconds']:.0f} s",
                final=True,
            )

    def _line(self, text: str, *, final: bool) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def oracle_auroc(cohort_dir: str | Path | None) -> float | None:
    """The demo generator's in-sample reference patient AUROC (its hidden severity scored on the
    same patients), when the cohort is a demo. A reference point, not an upper bound."""

    if not cohort_dir:
        return None
    truth = Path(cohort_dir) / TRUTH_FILE
    try:
        return float(json.loads(truth.read_text())["oracle_patient_auroc"])
    except (OSError, ValueError, KeyError):
        return None


def run(args: argparse.Namespace) -> int:
    """Train (or resume); 0 when complete, 1 when failed, 130 when cancelled."""
    from core import runs
    from core.locks import training_lock
    from core.run import Manifest
    from core.run_health import claim
    from core.run_lifecycle import RunCancelled, resume_run, start_run

    cache = Path(args.cache_dir) if args.cache_dir else None
    run_dir: Path | None = None
    code = 0
    # the session holds the run's claim (resume), then the run store's one training lock
    with training_session(args.runs_dir) as held:
        try:
            if args.resume:
                found = runs.find_run(args.resume, root=args.runs_dir)
                held.enter_context(claim(found))
                held.enter_context(training_lock(found.parent, what=found.name))
                manifest = runs.read_manifest(found)
                bar = ProgressBar(Manifest.from_dict(manifest).config, enabled=not args.quiet)
                run_dir = resume_run(
                    found, root=args.runs_dir, cache_dir=cache, progress=bar, backend=args.backend
                )
                cohort_dir = manifest["data"].get("cohort_dir")
            else:
                if not args.cohort or not args.name:
                    raise ConfigError("train needs --cohort DIR and --name NAME (or --resume RUN)")
                config = build_config(args)
                held.enter_context(training_lock(runs.runs_root(args.runs_dir), what=args.name))
                root = runs.runs_root(args.runs_dir)
                before = set(root.glob("*")) if root.is_dir() else set()
                cohort_dir = args.cohort
                try:
                    run_dir = start_run(
                        cohort_source(args),
                        config,
                        name=args.name,
                        root=args.runs_dir,
                        cache_dir=cache,
                        progress=ProgressBar(config, enabled=not args.quiet),
                        backend=args.backend,
                    )
                except BaseException:
                    created = sorted(set(root.glob("*")) - before)
                    run_dir = created[-1] if created else None
                    raise
        except (RunCancelled, KeyboardInterrupt):
            code = 130
        except Exception as exc:
            if run_dir is None:
                raise
            print(f"error: {exc}", file=sys.stderr)
            code = 1
    if run_dir is None:
        return code
    summary = runs.run_summary(run_dir)
    summary["oracle_patient_auroc"] = oracle_auroc(cohort_dir)
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        print(_describe(summary))
    return code


def _describe(summary: dict[str, Any]) -> str:
    def fmt(mean: Any, std: Any) -> str:
        return mean_sd(mean, 0.0 if std is None else std)

    lines = [
        f"run {summary['run_id']} ({summary['status']}), split {summary['split']}, "
        f"weights {summary['weights']}",
        f"  test AUROC patient {fmt(summary['patient_auroc_mean'], summary['patient_auroc_std'])}, "
        f"segment {fmt(summary['segment_auroc_mean'], summary['segment_auroc_std'])} "
        f"over {summary['folds_done']}/{summary['n_folds']} folds, {summary['seconds'] or 0:.0f} s",
    ]
    if summary.get("oracle_patient_auroc") is not None:
        lines.append(
            f"  demo generator's in-sample reference patient AUROC (hidden severity; not a bound): "
            f"{summary['oracle_patient_auroc']:.3f}"
        )
    if summary.get("weights_reason"):
        lines.append(f"  note: {summary['weights_reason']}")
    if summary.get("leaky"):
        lines.append("  LEAKY: segments of one patient were split across train and test (comparison only)")
    return "\n".join(lines)
