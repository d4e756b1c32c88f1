"""Background training: one ``python -m core train`` subprocess at a time, polled through files.

The dashboard never trains in its own process. :func:`launch` takes the run store's
training lock (:mod:`core.locks`, the same OS lock that ``python -m core train`` and
``train --resume`` take in a terminal), starts the CLI in a new session (so it survives
page reruns and can be cancelled as a group) and hands the locked file to it: the lock
lives exactly as long as the training process, and a second launch, from any page,
session or terminal, is refused with a :class:`JobError` naming the busy run. The
page polls :func:`status`, which reads the run's ``progress.json`` and manifest;
:func:`cancel` sends SIGTERM, which the CLI turns into a clean "cancelled" status.

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core import locks, runs
from core.errors import RunError

LOCK_NAME = locks.TRAINING_LOCK
_CHILDREN: dict[int, subprocess.Popen] = {}


class JobError(RunError):
    """A training job cannot be started, found or cancelled."""


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


def _lock_path(runs_dir: str | Path | None) -> Path:
    return runs.runs_root(runs_dir) / LOCK_NAME


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    return runs.process_alive(pid)


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
) -> Job:
    """Start ``python -m core train`` (or ``sweep``) in the background.

    Parameters
    ----------
    cohort : path
        Cohort folder.
    name : str
        Run name.
    preset : {"seed", "quick"}
    runs_dir : path, optional
        Run store (default: ``$VOE_RUNS_DIR`` or ``./runs``).
    options : list of str, optional
        Extra ``train`` arguments, e.g. ``["--backbone", "resnet50", "--repeats", "3"]``.
    cache_dir : path, optional
    command : {"train", "sweep"}
        The sub-command; a sweep's runs are followed like one run (the newest of the job).

    Raises
    ------
    JobError
        When another training job is running (its run name and pid are in the message).
    """
    root = runs.runs_root(runs_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    if command not in ("train", "sweep"):
        raise JobError(f"job command {command!r}; expected train or sweep")
    argv = [
        sys.executable,
        "-m",
        "core",
        command,
        "--cohort",
        str(cohort),
        "--preset",
        preset,
        "--name",
        name,
        "--json",
        "--runs-dir",
        str(root),
        *(options or []),
    ]
    if cache_dir is not None:
        argv += ["--cache-dir", str(cache_dir)]
    lock = locks.FileLock(root / LOCK_NAME)
    try:
        lock.acquire(wait=1.0, note={"what": name, "runs_dir": str(root)})
    except locks.LockBusy as exc:
        raise JobError(str(locks.busy_training(exc.holder))) from None
    log = root / f".train-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        with open(log, "wb") as out:
            child = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=Path(__file__).resolve().parents[1],
                start_new_session=True,
                pass_fds=(lock.fd,),
                env={**os.environ, locks.LOCK_FD_ENV: str(lock.fd)},
            )
        _CHILDREN[child.pid] = child
        job = Job(
            pid=child.pid, name=name, runs_dir=str(root), log=str(log), started=time.time(), argv=argv[1:]
        )
        lock.write_note(asdict(job))
    finally:
        lock.release()  # closes this process's copy; the child's inherited copy keeps the lock
    return job


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
    alive = _alive(job.pid)
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
        "log_tail": _tail(Path(job.log)),
    }


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])


def cancel(job: Job, *, timeout: float = 30.0) -> bool:
    """Ask the job to stop (SIGTERM to its process group) and wait up to ``timeout`` seconds.

    Returns
    -------
    stopped : bool
        True when the process is gone (its run is then "cancelled").
    """
    if not _alive(job.pid):
        return True
    try:
        os.killpg(job.pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not _alive(job.pid):
            return True
        time.sleep(0.2)
    return False


def wait(job: Job, *, timeout: float | None = None, poll: float = 0.5) -> dict[str, Any]:
    """Block until the job ends (or ``timeout``); return its last :func:`status`."""
    deadline = None if timeout is None else time.time() + timeout
    while _alive(job.pid) and (deadline is None or time.time() < deadline):
        time.sleep(poll)
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
