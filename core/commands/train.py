"""``python -m core train``: cross-validated training into a run folder, with a progress bar.

Examples::

    python -m core train --cohort demo_cohort --preset quick --name demo --json
    python -m core train --cohort DIR --preset seed --backbone resnet50 --repeats 5 --name zoo
    python -m core train --resume 20250101-120000-demo

The progress bar goes to stderr; with ``--json`` the last stdout line is one JSON
object (``run_dir``, ``status``, ``patient_auroc_mean``/``_std``,
``segment_auroc_mean``/``_std``, ``weights``, ``seconds``, ...). SIGTERM cancels the run
cleanly (status "cancelled"); ``--resume`` continues from the first unfinished fold.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from core.commands.cohort_options import add_cohort_arguments, cohort_source
from core.config import PRESETS, preset, with_overrides
from core.errors import ConfigError
from core.folds import FoldKey
from core.jobs import time_left


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command."""
    parser = subparsers.add_parser(
        "train",
        help="train the outcome model with cross-validation into a run folder",
        description="Build the segment dataset of a cohort, train the dual-input model with "
        "patient-grouped cross-validation (two stages, cached frozen prefix), and store "
        "metrics, predictions and one model per fold under runs/<date>-<name>/.",
    )
    add_cohort_arguments(parser, required=False)  # not needed with --resume
    parser.add_argument("--preset", default="seed", choices=PRESETS, help="settings preset (default: seed)")
    parser.add_argument("--name", help="short run name (folder suffix)")
    parser.add_argument(
        "--backbone",
        help="backbone: efficientnetb0, mobilenetv3small, mobilenetv3large, resnet50, inceptionv3, small_cnn",
    )
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
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any setting, e.g. --set train.finetune_epochs=10 (JSON values)",
    )
    parser.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local: folds one after another here (default); ray: one Ray task per fold, "
        "on a local cluster or the one named by $RAY_ADDRESS",
    )
    parser.add_argument("--resume", metavar="RUN", help="continue a failed or cancelled run")
    parser.add_argument("--runs-dir", metavar="DIR", help="run store (default: $VOE_RUNS_DIR or ./runs)")
    parser.add_argument(
        "--cache-dir", metavar="DIR", help="array cache (default: $VOE_CACHE_DIR or ./.cache/voe)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON summary as the last stdout line")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> Any:
    """The preset with the command-line overrides applied."""
    overrides: dict[str, Any] = {}
    for key, flag in (
        ("model.backbone", "backbone"),
        ("model.inputs", "inputs"),
        ("model.weights", "weights"),
        ("split.kind", "split"),
        ("split.repeats", "repeats"),
        ("split.n_folds", "folds"),
        ("split.seed", "seed"),
    ):
        if getattr(args, flag) is not None:
            overrides[key] = getattr(args, flag)
    if args.augment:
        overrides["train.augment"] = True
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}; expected KEY=VALUE")
        try:
            overrides[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[key.strip()] = raw
    if "model.backbone" in overrides:
        from core.models.backbones import get_backbone

        overrides["model.backbone"] = get_backbone(str(overrides["model.backbone"])).name
    return with_overrides(preset(args.preset), overrides)


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


def _on_sigterm(signum: int, frame: Any) -> None:
    from core.run_lifecycle import RunCancelled

    raise RunCancelled("cancelled")


def oracle_auroc(cohort_dir: str | Path | None) -> float | None:
    """The demo generator's in-sample reference patient AUROC (its hidden severity scored on the
    same patients), when the cohort is a demo. A reference point, not an upper bound."""
    from core.demo import TRUTH_FILE

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
    from core.run_health import claim
    from core.run_lifecycle import RunCancelled, resume_run, start_run

    cache = Path(args.cache_dir) if args.cache_dir else None
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    run_dir: Path | None = None
    code = 0
    held = contextlib.ExitStack()  # the run's claim (resume), then the run store's one training lock
    try:
        if args.resume:
            found = runs.find_run(args.resume, root=args.runs_dir)
            held.enter_context(claim(found))
            held.enter_context(training_lock(found.parent, what=found.name))
            manifest = runs.read_manifest(found)
            from core.run import Manifest

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
            bar = ProgressBar(config, enabled=not args.quiet)
            before = (
                set(runs.runs_root(args.runs_dir).glob("*"))
                if runs.runs_root(args.runs_dir).is_dir()
                else set()
            )
            cohort_dir = args.cohort
            try:
                run_dir = start_run(
                    cohort_source(args),
                    config,
                    name=args.name,
                    root=args.runs_dir,
                    cache_dir=cache,
                    progress=bar,
                    backend=args.backend,
                )
            except BaseException:
                created = sorted(set(runs.runs_root(args.runs_dir).glob("*")) - before)
                run_dir = created[-1] if created else None
                raise
    except RunCancelled:
        code = 130
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:
        if run_dir is None:
            raise
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    finally:
        held.close()
        signal.signal(signal.SIGTERM, previous)
        start_queued(args.runs_dir)
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
        return "n/a" if mean is None else f"{mean:.3f} ± {0.0 if std is None else std:.3f}"

    lines = [
        f"run {summary['run_id']} ({summary['status']}), split {summary['split']}, weights {summary['weights']}",
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


def start_queued(runs_dir: str | None) -> None:
    """Start the oldest queued run or sweep (:mod:`core.run_queue`) now that this training let go of the lock."""
    from core.run_queue import drain

    try:
        job = drain(runs_dir)
    except Exception as exc:  # the queue must never turn a finished run into an error
        print(f"warning: could not start the next queued training: {exc}", file=sys.stderr)
        return
    if job is not None:
        print(f"started the next queued training {job.name!r} (process {job.pid})", file=sys.stderr)
