"""Background training: one ``python -m core train`` subprocess at a time, polled through files.

The dashboard never trains in its own process. :func:`launch` takes the run store's
training lock (:mod:`core.locks`, the same OS lock that ``python -m core train`` and
``train --resume`` take in a terminal) and starts the CLI holding it
(:func:`core.background.start_cli`): the lock lives exactly as long as the training
process, and a second launch, from any page, session or terminal, is refused with a
:class:`JobError` naming the busy run. The dashboard's settings reach the CLI as one
config file (``train --config FILE``), the same JSON a run manifest stores. The
page polls :func:`status`, which reads the run's ``progress.json`` and manifest;
:func:`cancel` sends SIGTERM, which the CLI turns into a clean "cancelled" status.

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import background, locks, runs
from core.atomic import atomic_write_text
from core.background import JobError
from core.errors import RunError

LOCK_NAME = locks.TRAINING_LOCK


@dataclass(frozen=True)
class Job:
    """A launched training subprocess.

    Attributes
    ----------
    pid : int
    name : str
        Run name given to ``train --name``.
    runs_dir : str
        Run store the job writes into.
    log : str
        File receiving the subprocess' stdout and stderr.
    started : float
        ``time.time()`` at launch.
    argv : list of str
        The command line (no personal data: cohort folder, preset, name, settings).
    """

    pid: int
    name: str
    runs_dir: str
    log: str
    started: float
    argv: list[str]


def active_job(runs_dir: str | Path | None = None) -> Job | None:
    """The training that holds the run store's lock now (launched here or in a terminal), or None."""
    root = runs.runs_root(runs_dir)
    note = locks.holder(root / LOCK_NAME)
    if note is None:
        return None
    try:
        return Job(**{k: note[k] for k in ("pid", "name", "runs_dir", "log", "started", "argv")})
    except (KeyError, TypeError):
        # started by ``python -m core train`` in a terminal: no log file to follow
        return Job(
            pid=int(note.get("pid", -1)),
            name=str(note.get("what", "?")),
            runs_dir=str(root),
            log="",
            started=float(note.get("since", 0.0)),
            argv=[],
        )


def launch(
    *,
    cohort: str | Path,
    name: str,
    preset: str = "quick",
    runs_dir: str | Path | None = None,
    options: list[str] | None = None,
    cache_dir: str | Path | None = None,
    command: str = "train",
    config: dict[str, Any] | None = None,
) -> Job:
    """Start ``python -m core train`` (or ``sweep``) in the background.

    Parameters
    ----------
    cohort : path
        Cohort folder.
    name : str
        Run name.
    preset : {"seed", "quick", "voice"}
        Settings preset (ignored when ``config`` is given).
    runs_dir : path, optional
        Run store (default: ``$VOE_RUNS_DIR`` or ``./runs``).
    options : list of str, optional
        Extra ``train`` arguments, e.g. ``["--backbone", "resnet50", "--repeats", "3"]``.
    cache_dir : path, optional
    command : {"train", "sweep"}
        The sub-command; a sweep's runs are followed like one run (the newest of the job).
    config : dict, optional
        A whole experiment config (:meth:`core.config.ExperimentConfig.to_dict`): written to
        a JSON file beside the job's log and handed over as ``train --config FILE``.

    Raises
    ------
    JobError
        When another training job is running (its run name and pid are in the message).
    """
    root = runs.runs_root(runs_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    if command not in ("train", "sweep"):
        raise JobError(f"job command {command!r}; expected train or sweep")
    if config is not None and command != "train":
        raise JobError("a config file is handed to train only; a sweep takes its grid as options")
    # unique per launch: a refused launch removes its own config file, never another job's
    stem = root / f".train-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    log, config_file = stem.with_suffix(".log"), stem.with_suffix(".config.json")
    settings = ["--preset", preset]
    if config is not None:
        atomic_write_text(config_file, json.dumps(config, indent=2, sort_keys=True))
        settings = ["--config", str(config_file)]
    args = [command, "--cohort", str(cohort), *settings, "--name", name, "--json", "--runs-dir", str(root)]
    args += [*(options or []), *(["--cache-dir", str(cache_dir)] if cache_dir is not None else [])]
    try:
        return background.start_cli(
            args,
            lock=root / LOCK_NAME,
            log=log,
            note={"what": name, "runs_dir": str(root)},
            refused=lambda holder: str(locks.busy_training(holder)),
            job=lambda pid, argv: Job(pid, name, str(root), str(log), time.time(), argv),
            hand_down=True,
        )
    except JobError:
        config_file.unlink(missing_ok=True)  # nothing started: the request keeps its config (queue)
        raise


def run_dir_of(job: Job) -> Path | None:
    """The run folder the job created (matched by pid), or None before it exists."""
    root = Path(job.runs_dir)
    if not root.is_dir():
        return None
    for run_dir in sorted(root.iterdir(), reverse=True):
        manifest_path = run_dir / runs.MANIFEST
        if manifest_path.is_file() and manifest_path.stat().st_mtime >= job.started - 1:
            try:
                if int(runs.read_manifest(run_dir).get("pid", -1)) == job.pid:
                    return run_dir
            except RunError:
                continue
    return None


def status(job: Job) -> dict[str, Any]:
    """What a page shows while polling.

    Returns
    -------
    state : dict
        ``alive`` (bool), ``run_dir`` (str or None), ``status`` (the run's effective
        status, "starting" before the folder exists), ``progress`` (latest event from
        ``progress.json``), ``log_tail`` (last lines of the job's log).
    """
    alive = background.alive(job.pid)
    run_dir = run_dir_of(job)
    state = "starting" if alive else "failed"
    progress: dict[str, Any] = {}
    if run_dir is not None:
        state = runs.effective_status(runs.read_manifest(run_dir), run_dir)
        progress = runs.read_progress(run_dir)
    return {
        "alive": alive,
        "run_dir": str(run_dir) if run_dir else None,
        "status": state,
        "progress": progress,
        "log_tail": background.log_tail(job.log),
    }


def cancel(job: Job, *, timeout: float = 30.0) -> bool:
    """Ask the job to stop (SIGTERM to its process group) and wait up to ``timeout`` seconds.

    Returns
    -------
    stopped : bool
        True when the process is gone (its run is then "cancelled").
    """
    return background.cancel(job, timeout=timeout)


def wait(job: Job, *, timeout: float | None = None, poll: float = 0.5) -> dict[str, Any]:
    """Block until the job ends (or ``timeout``); return its last :func:`status`."""
    background.wait_for(job, timeout=timeout, poll=poll)
    return status(job)


def progress_text(state: dict[str, Any]) -> tuple[float, str]:
    """Fraction done (0..1) and a one-line description of a :func:`status` result.

    Epochs of both stages count equally; a fold is done after its planned epochs
    (early stopping makes the bar jump ahead, never back).
    """
    if not state["alive"] and state["status"] in ("complete", "failed", "cancelled"):
        return (1.0 if state["status"] == "complete" else 0.0), f"Run {state['status']}"
    event = state.get("progress") or {}
    if not event or not state.get("run_dir"):
        return 0.0, "Starting: loading TensorFlow and building the segment dataset…"
    if event.get("kind") == "weights":  # before the first fold: the ImageNet file is being fetched
        from core.models.download import download_text

        metrics, manifest = event.get("metrics") or {}, runs.read_manifest(state["run_dir"])
        backbone = manifest["config"]["model"]["backbone"]
        return download_text(backbone, metrics.get("bytes", 0), metrics.get("total"))
    train = runs.read_manifest(state["run_dir"])["config"]["train"]
    warmup, finetune = int(train["warmup_epochs"]), int(train["finetune_epochs"])
    n_folds = max(int(event.get("n_folds", 1)), 1)
    fold_index = int(event.get("fold_index", 0))
    epoch = int(event.get("epoch", 0))
    stage = event.get("stage", "")
    done_in_fold = {"warmup": epoch, "finetune": warmup + epoch}.get(stage, 0)
    if event.get("kind") == "fold_end":
        done_in_fold = warmup + finetune
    fraction = min(1.0, (fold_index + done_in_fold / max(warmup + finetune, 1)) / n_folds)
    where = f"fold {fold_index + 1} of {n_folds}"
    if event.get("kind") == "cache":
        return fraction, f"{where}: computing the frozen backbone's features once for all epochs"
    if stage:
        metrics = event.get("metrics") or {}
        auroc = metrics.get("val_auroc")
        tail = f" · val AUROC {auroc:.3f}" if isinstance(auroc, (int, float)) and auroc == auroc else ""
        left = time_left(
            metrics,
            stage=stage,
            epoch=epoch,
            warmup=warmup,
            finetune=finetune,
            folds_after=n_folds - fold_index - 1,
        )
        if left is not None:
            tail += f" · at most {_minutes(left)} left (early stopping often ends sooner)"
        return fraction, f"{where} · {stage} epoch {epoch} of {event.get('epochs', '?')}{tail}"
    return fraction, where


def time_left(
    metrics: dict[str, Any], *, stage: str, epoch: int, warmup: int, finetune: int, folds_after: int
) -> float | None:
    """Upper bound of a run's remaining seconds from the epoch times of the current fold.

    Counts every planned epoch (early stopping can only make it shorter): the rest of
    this fold's fine-tuning, then all epochs of the folds after it, at this fold's median
    epoch time per stage. None until the current fold has timed a fine-tune epoch
    (warm-up epochs on cached features say nothing about fine-tuning).

    Parameters
    ----------
    metrics : dict
        An epoch event's metrics, with ``finetune_epoch_s`` and ``warmup_epoch_s``.
    stage : {"warmup", "finetune"}
    epoch : int
        Epoch within the stage (1-based).
    warmup, finetune : int
        Planned epochs per stage.
    folds_after : int
        Folds still to train after the current one.
    """
    per_finetune = metrics.get("finetune_epoch_s")
    if stage != "finetune" or not isinstance(per_finetune, (int, float)):
        return None
    per_warmup = float(metrics.get("warmup_epoch_s") or 0.0)
    return max(0, finetune - epoch) * per_finetune + folds_after * (
        warmup * per_warmup + finetune * per_finetune
    )


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    return f"{round(seconds / 60)} min"


__all__ = [
    "Job",
    "JobError",
    "active_job",
    "cancel",
    "launch",
    "progress_text",
    "run_dir_of",
    "status",
    "time_left",
    "wait",
]
