"""Train a sweep's grid into run folders, and resume a sweep that stopped.

:func:`run_sweep` creates the sweep folder (:mod:`core.sweep`) and trains every
configuration as a normal run; :func:`resume_sweep` continues an interrupted, cancelled
or failed sweep: a configuration whose run is complete is skipped, one whose run exists
but is not complete is resumed from its first unfinished fold
(:func:`core.run_lifecycle.resume_run`, so every finished repeat × fold is kept), and one
that never started gets its run. A configuration's run id is written to ``sweep.json`` as
soon as its folder exists, so even a sweep killed outright can be resumed.

This module imports neither TensorFlow nor Ray until a run trains.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.cohort.source import CohortSource, as_source
from core.config import ExperimentConfig
from core.errors import ConfigError, RunError
from core.sweep import SweepSpec, configurations, list_sweeps, read_sweep, sweeps_root, write_sweep

OnConfig = Callable[[int, int, str], None]


def run_sweep(
    cohort_dir: str | Path | CohortSource,
    spec: SweepSpec,
    *,
    name: str,
    root: str | Path | None = None,
    cache_dir: Path | None = None,
    backend: str = "local",
    reference: str = "",
    progress: Callable[[Any], None] | None = None,
    on_config: OnConfig | None = None,
) -> Path:
    """Train every configuration of ``spec`` into its own run folder; return the sweep folder.

    Configurations run one after another (with ``backend="ray"`` the folds and repeats of
    each run in parallel, in one Ray session for the whole sweep). A configuration that
    fails is recorded as failed and the sweep goes on; a cancel (SIGTERM, Ctrl-C) stops it
    and marks it "cancelled" (:func:`resume_sweep` continues it).

    Parameters
    ----------
    cohort_dir : str, Path or CohortSource
        The cohort folder, or a folder with its label mapping (every run of the grid gets it).
    reference : str
        Label of the configuration the table compares against (default: the first).
    on_config : callable, optional
        ``on_config(index, total, label)`` before each configuration trains.
    """
    from core.runs import _slug

    grid = configurations(spec)
    labels = [label for label, _ in grid]
    if reference and reference not in labels:
        raise ConfigError(f"sweep reference {reference!r} is not one of {labels}")
    source = as_source(cohort_dir)
    base = sweeps_root(root)
    base.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    sweep_dir = base / f"{stamp}-{_slug(name)}"
    suffix = 1
    while sweep_dir.exists():
        suffix += 1
        sweep_dir = base / f"{stamp}-{_slug(name)}-{suffix}"
    sweep_dir.mkdir()
    manifest: dict[str, Any] = {
        "sweep_id": sweep_dir.name,
        "name": name,
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "spec": spec.to_dict(),
        "cohort": source.to_dict(),
        "reference": reference or labels[0],
        "backend": backend,
        "status": "running",
        "configurations": [
            {"label": label, "config_hash": config.hash(), "run_id": "", "status": "pending", "error": ""}
            for label, config in grid
        ],
    }
    write_sweep(sweep_dir, manifest)
    return _train_grid(
        sweep_dir,
        manifest,
        grid,
        source,
        root=root,
        cache_dir=cache_dir,
        backend=backend,
        progress=progress,
        on_config=on_config,
    )


def find_sweep(sweep: str | Path, root: str | Path | None = None) -> Path:
    """A sweep folder from its path, its id, or a unique prefix or suffix of the id.

    Raises
    ------
    RunError
        When no sweep or more than one matches.
    """
    path = Path(sweep)
    if (path / "sweep.json").is_file():
        return path
    text = str(sweep)
    found = [
        p for p in list_sweeps(root) if p.name == text or p.name.startswith(text) or p.name.endswith(text)
    ]
    if len(found) != 1:
        raise RunError(f"sweep {text!r}: {'no' if not found else len(found)} sweeps match")
    return found[0]


def resume_sweep(
    sweep: str | Path,
    *,
    root: str | Path | None = None,
    cache_dir: Path | None = None,
    backend: str = "local",
    progress: Callable[[Any], None] | None = None,
    on_config: OnConfig | None = None,
) -> Path:
    """Continue a sweep that stopped: skip complete runs, resume incomplete ones, start missing ones.

    Parameters
    ----------
    sweep : str or Path
        Sweep folder or id (see :func:`find_sweep`).
    backend : {"local", "ray"}
        May differ from the one the sweep started with.

    Returns
    -------
    sweep_dir : Path

    Raises
    ------
    RunError
        When the sweep is already complete, or its grid no longer gives the configurations
        it started with (the settings' defaults changed since: start a new sweep).
    """
    sweep_dir = find_sweep(sweep, root)
    manifest = read_sweep(sweep_dir)
    if manifest.get("status") == "complete":
        raise RunError(f"sweep {sweep_dir.name} is already complete")
    grid = configurations(SweepSpec.from_dict(manifest["spec"]))
    hashes = [config.hash() for _, config in grid]
    if hashes != [entry["config_hash"] for entry in manifest["configurations"]]:
        raise RunError(
            f"sweep {sweep_dir.name}: its grid now gives other configurations than it started with "
            "(settings changed since); start a new sweep"
        )
    source = _source_of(manifest, sweep_dir)
    manifest.update(status="running", backend=backend)
    write_sweep(sweep_dir, manifest)
    return _train_grid(
        sweep_dir,
        manifest,
        grid,
        source,
        root=root,
        cache_dir=cache_dir,
        backend=backend,
        progress=progress,
        on_config=on_config,
    )


def _source_of(manifest: dict[str, Any], sweep_dir: Path) -> CohortSource:
    """The sweep's cohort; sweeps made before it was recorded take it from one of their runs."""
    from core import runs
    from core.sweep import sweep_runs

    if manifest.get("cohort"):
        return CohortSource.from_dict(manifest["cohort"])
    for _, run_dir in sweep_runs(sweep_dir):
        if run_dir is not None:
            return CohortSource.from_run_data(runs.read_manifest(run_dir).get("data", {}))
    raise RunError(f"sweep {sweep_dir.name} names no cohort and has no run to take it from")


def _train_grid(
    sweep_dir: Path,
    manifest: dict[str, Any],
    grid: list[tuple[str, ExperimentConfig]],
    source: CohortSource,
    *,
    root: str | Path | None,
    cache_dir: Path | None,
    backend: str,
    progress: Callable[[Any], None] | None,
    on_config: OnConfig | None,
) -> Path:
    """Train every configuration whose run is not complete yet; write ``sweep.json`` as it goes."""
    from core.run_lifecycle import RunCancelled

    session: Any = contextlib.nullcontext()
    if backend == "ray":
        from core.backends.ray_backend import ray_session

        session = ray_session()
    status = "complete"
    with session:
        for index, (label, config) in enumerate(grid):
            entry = manifest["configurations"][index]
            run_dir = _run_of(entry, root)
            if run_dir is not None and _is_complete(run_dir):
                entry.update(status="complete", error="")
                continue
            if on_config is not None:
                on_config(index, len(grid), label)
            entry.update(status="running", error="")
            write_sweep(sweep_dir, manifest)
            try:
                _train_one(
                    entry,
                    run_dir,
                    source,
                    config,
                    name=f"{manifest['name']}-{label}",
                    root=root,
                    cache_dir=cache_dir,
                    backend=backend,
                    progress=progress,
                    on_created=lambda: write_sweep(sweep_dir, manifest),
                )
                entry["status"] = "complete"
            except (RunCancelled, KeyboardInterrupt):
                entry["status"] = "cancelled"
                manifest["status"] = "cancelled"
                write_sweep(sweep_dir, manifest)
                raise
            except Exception as exc:
                entry.update(status="failed", error=f"{type(exc).__name__}: {exc}")
                status = "failed"
            write_sweep(sweep_dir, manifest)
    manifest["status"] = status
    write_sweep(sweep_dir, manifest)
    return sweep_dir


def _train_one(
    entry: dict[str, Any],
    run_dir: Path | None,
    source: CohortSource,
    config: ExperimentConfig,
    *,
    name: str,
    root: str | Path | None,
    cache_dir: Path | None,
    backend: str,
    progress: Callable[[Any], None] | None,
    on_created: Callable[[], None],
) -> None:
    """Resume the configuration's run, or create it (its id into ``entry`` at once) and train it."""
    from core.run_lifecycle import execute_run, prepare_run, resume_run

    if run_dir is not None:
        resume_run(run_dir, root=root, cache_dir=cache_dir, progress=progress, backend=backend)
        return
    run_dir, dataset = prepare_run(source, config, name=name, root=root, cache_dir=cache_dir)
    entry["run_id"] = run_dir.name
    on_created()
    execute_run(run_dir, dataset, config, progress=progress, backend=backend)


def _run_of(entry: dict[str, Any], root: str | Path | None) -> Path | None:
    from core.runs import runs_root

    if not entry.get("run_id"):
        return None
    run_dir = runs_root(root) / entry["run_id"]
    return run_dir if (run_dir / "manifest.json").is_file() else None


def _is_complete(run_dir: Path) -> bool:
    from core import runs

    return runs.read_manifest(run_dir).get("status") == "complete"


__all__ = ["find_sweep", "resume_sweep", "run_sweep"]
