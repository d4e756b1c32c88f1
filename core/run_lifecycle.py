"""A run from start to finish: create its folder, train every fold, resume it after a stop.

:func:`start_run` builds the cohort's segment dataset (:mod:`core.training_data`),
creates the run folder (:func:`core.runs.create_run`) and executes it;
:func:`resume_run` continues a failed or cancelled run from its first unfinished fold
on the same cohort (fingerprint checked); :func:`execute_run` trains the folds not yet
done, one after another (:func:`core.training.train_fold`) or as Ray tasks
(:mod:`core.backends`), saving each as it ends, while holding the run's claim and
beating its heartbeat (:mod:`core.run_health`). A run stopped by :class:`RunCancelled`
or Ctrl-C is marked "cancelled", any other exception "failed" (and re-raised).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from core import runs
from core.config import ExperimentConfig
from core.errors import RunError, TrainingError
from core.models.backbones import get_backbone
from core.models.download import ensure_imagenet
from core.models.weights import resolve_weights
from core.precision import precision_record
from core.progress import ProgressCallback, ProgressEvent
from core.run import Manifest
from core.run_health import Heartbeat, claim
from core.splits import make_folds
from core.train_steps import FeatureCache
from core.training import train_fold
from core.training_data import load_training_data

if TYPE_CHECKING:
    from core.cohort.source import CohortSource
    from core.dataset import SegmentDataset


class RunCancelled(Exception):
    """Raised inside a run (e.g. by a SIGTERM handler) to stop it as "cancelled"."""


def execute_run(
    run_dir: str | Path,
    dataset: SegmentDataset,
    config: ExperimentConfig,
    *,
    progress: ProgressCallback | None = None,
    fail_after: int | None = None,
    backend: str = "local",
) -> dict:
    """Train every fold of a run that is not done yet, saving each, then finish the run.

    Parameters
    ----------
    run_dir : path
        Folder made by :func:`core.runs.create_run` (or an earlier run being resumed).
    dataset : SegmentDataset
    config : ExperimentConfig
        Must hash to the manifest's ``config_hash``.
    progress : callable, optional
        Receives :class:`~core.progress.ProgressEvent`; every event also goes to
        ``progress.json``.
    fail_after : int, optional
        Raise after this many newly trained folds (tests of the failed/resume path).
    backend : {"local", "ray"}
        Folds one after another here, or as parallel Ray tasks (:mod:`core.backends`).

    Returns
    -------
    manifest : dict
        The final manifest (status "complete", or the run is marked "failed" /
        "cancelled" and the exception re-raised).

    Raises
    ------
    core.locks.LockBusy
        "run X is being trained by process N": another process trains this run; nothing
        is written.
    """
    run_dir = Path(run_dir)
    with claim(run_dir), Heartbeat(run_dir):
        manifest = runs.claim_run(run_dir)
        if manifest["config_hash"] != config.hash():
            raise TrainingError(
                f"run {run_dir.name}: config hash {config.hash()} differs from {manifest['config_hash']}"
            )
        folds = make_folds(dataset.segments, config.split, patients=dataset.cohort_patients)
        done = set(manifest["folds_done"])
        todo = [f for f in folds if f.key not in done]
        already = float(manifest["timings"].get("seconds", 0.0))
        start = time.perf_counter()

        def emit(event: ProgressEvent) -> None:
            runs.write_progress(
                run_dir, {**asdict(event), "folds_done": len(done), "n_folds_total": len(folds)}
            )
            if progress is not None:
                progress(event)

        if not manifest.get("weights"):  # known before any fold ends, so a stopped run still says it
            _record_weights(run_dir, config, emit)
        runs.update_manifest(run_dir, precision=precision_record(config.train.precision))
        try:
            cache_seconds = _train_folds(
                run_dir, dataset, config, todo, done, emit=emit, fail_after=fail_after, backend=backend
            )
            timings = runs.read_manifest(run_dir)["timings"]
            timings["cache_seconds"] = timings.get("cache_seconds", 0.0) + cache_seconds
            runs.update_manifest(run_dir, timings=timings)
            return runs.finish_run(run_dir, status="complete", seconds=already + time.perf_counter() - start)
        except BaseException as exc:
            cancelled = isinstance(exc, (RunCancelled, KeyboardInterrupt))
            runs.finish_run(
                run_dir,
                status="cancelled" if cancelled else "failed",
                error="cancelled by the user" if cancelled else f"{type(exc).__name__}: {exc}",
                seconds=already + time.perf_counter() - start,
            )
            raise


def _record_weights(run_dir: Path, config: ExperimentConfig, emit: ProgressCallback) -> None:
    """Fetch the ImageNet file when asked for (offline: fails fast, folds start random); record the choice."""
    spec = get_backbone(config.model.backbone)
    if config.model.weights == "imagenet":
        ensure_imagenet(
            spec.name,
            progress=lambda got, total: emit(
                ProgressEvent("weights", metrics={"bytes": float(got), "total": float(total or 0)})
            ),
        )
    choice = resolve_weights(spec, config.model.weights)
    runs.update_manifest(
        run_dir,
        weights=choice.source,
        weights_reason=choice.reason,
        weights_file=choice.path.name if choice.path else "",
        weights_sha256=choice.sha256 or "",
    )


def _train_folds(
    run_dir: Path,
    dataset: SegmentDataset,
    config: ExperimentConfig,
    todo: list,
    done: set[str],
    *,
    emit: ProgressCallback,
    fail_after: int | None,
    backend: str,
) -> float:
    """Train and save the folds of ``todo`` (each key added to ``done``); return the cache seconds."""
    if backend == "ray":  # one Ray task per fold (core.backends.ray_backend), saved here as each ends
        from core.backends.ray_backend import train_into_run

        return train_into_run(run_dir, dataset, config, todo, emit=emit, done=done)
    cache = FeatureCache()
    for index, fold in enumerate(todo):
        if fail_after is not None and index >= fail_after:
            raise TrainingError(f"stopped on purpose after {fail_after} fold(s)")
        result = train_fold(
            dataset, fold, config, cache=cache, fold_index=index, n_folds=len(todo), progress=emit
        )
        runs.save_fold(run_dir, result)
        done.add(fold.key)
    return cache.seconds


def start_run(
    cohort_dir: str | Path | CohortSource,
    config: ExperimentConfig,
    *,
    name: str,
    root: str | Path | None = None,
    cache_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    fail_after: int | None = None,
    backend: str = "local",
) -> Path:
    """Build the dataset, create a run folder and train it; return the run folder.

    ``cohort_dir`` is a folder or a :class:`~core.cohort.source.CohortSource` (label sheet).
    """
    run_dir, dataset = prepare_run(cohort_dir, config, name=name, root=root, cache_dir=cache_dir)
    execute_run(run_dir, dataset, config, progress=progress, fail_after=fail_after, backend=backend)
    return run_dir


def prepare_run(
    cohort_dir: str | Path | CohortSource,
    config: ExperimentConfig,
    *,
    name: str,
    root: str | Path | None = None,
    cache_dir: Path | None = None,
) -> tuple[Path, SegmentDataset]:
    """Validate the config, build the dataset and create the run folder (nothing trained yet).

    Returns
    -------
    run_dir : Path
        The new run folder, its manifest listing every planned repeat × fold.
    dataset : SegmentDataset
        The dataset the run trains on (:func:`execute_run`).
    """
    config.validate()
    dataset, data = load_training_data(cohort_dir, config, cache_dir=cache_dir)
    folds = make_folds(dataset.segments, config.split, patients=dataset.cohort_patients)
    run_dir = runs.create_run(
        config.to_dict(),
        name=name,
        config_hash=config.hash(),
        data=data,
        folds=[f.key for f in folds],
        root=root,
    )
    return run_dir, dataset


def resume_run(
    run: str | Path,
    *,
    root: str | Path | None = None,
    cache_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    backend: str = "local",
) -> Path:
    """Continue a failed or cancelled run from its first unfinished fold.

    Raises
    ------
    RunError
        When the run is complete, or its cohort changed (fingerprint);
        :class:`core.locks.LockBusy` ("run X is being trained by process N") when
        another process trains it. The claim is taken first, so of two resumes started
        together exactly one trains.
    """
    from core.cohort import CohortSource

    run_dir = runs.find_run(run, root=root)
    with claim(run_dir):  # held from here to the end: a "running" manifest is a dead process's
        manifest = Manifest.from_dict(runs.read_manifest(run_dir))
        if manifest.status == "complete":
            raise RunError(f"run {run_dir.name} is already complete")
        source = CohortSource.from_run_data(dict(manifest.data))
        dataset, data = load_training_data(source, manifest.config, cache_dir=cache_dir)
        if data["fingerprint"] != manifest.fingerprint:
            raise RunError(
                f"run {run_dir.name}: the cohort at {data['cohort_dir']} changed since the run started "
                f"(fingerprint {data['fingerprint']} != {manifest.fingerprint})"
            )
        execute_run(run_dir, dataset, manifest.config, progress=progress, backend=backend)
    return run_dir


__all__ = ["RunCancelled", "execute_run", "resume_run", "start_run"]
