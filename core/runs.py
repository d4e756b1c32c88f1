"""The run store: one folder per training run, written atomically, listed and loaded by pages.

Layout of ``<root>/<YYYYmmdd-HHMMSS>-<name>/``::

    manifest.json             config + hash, data fingerprint, package versions, weights
                              source, status, pid/heartbeat, timings, finished folds, summary
    epochs.csv                per-epoch curves of every fold (repeat, fold, epoch, stage, ...)
    folds.csv                 per-fold metrics at the best epoch (level, part, ACC ... AUROC,
                              counts, threshold, best_epoch)
    predictions_segments.csv  one row per (fold, segment): part, label, prob
    predictions_patients.csv  one row per (fold, patient): part, label, prob, n_segments
    models/<fold>.keras       the fold's model (+ ``<fold>.json`` stage metadata)
    progress.json             latest progress event (for the dashboard)

Every file is written to a temporary name and moved into place with ``os.replace``, so
a reader never sees half a file. A run whose manifest says "running" but that no process
trains (its claim lock is free, or its heartbeat stopped; :mod:`core.run_health`) is
reported as "failed" with the reason; only a run that finished every fold is
"complete". Each fold model's size and SHA-256 are recorded when it is saved and
checked when it is loaded (:mod:`core.model_files`).
No audio path is written: segments are named by ``recording_id`` and pseudonymous
``patient_id``.

The root is an argument, else :func:`core.workspace.runs_dir` (``$VOE_RUNS_DIR`` or ``./runs``).
This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.atomic import atomic_write_text
from core.errors import RunError
from core.folds import FoldKey
from core.model_files import check_model_file, damaged_folds, record_model_file
from core.run import Run, load_run
from core.run_health import process_alive, run_state
from core.run_statistics import compute_summary, fold_table
from core.workspace import RUNS_ENV, runs_dir

STATUSES = ("running", "complete", "failed", "cancelled")
PACKAGES = ("tensorflow", "keras", "numpy", "pandas", "scikit-learn", "librosa", "scipy")
MANIFEST = "manifest.json"
#: Columns of :func:`list_runs`, in the order pages show them.
LIST_COLUMNS: tuple[str, ...] = tuple(
    (
        "run_id name status preset backbone inputs split weights patient_auroc_mean "
        "patient_auroc_std segment_auroc_mean segment_auroc_std folds_done n_folds seconds run_dir "
        "damaged_folds"
    ).split()
)


def runs_root(root: str | Path | None = None) -> Path:
    """The run store folder: ``root`` if given, else :func:`core.workspace.runs_dir`."""
    return Path(root) if root is not None else runs_dir()


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=_json_default))


def atomic_write_csv(path: Path, table: pd.DataFrame) -> None:
    atomic_write_text(path, table.to_csv(index=False))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if np.isnan(obj) else float(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape results."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name.strip()).strip("-.")
    if not slug:
        raise RunError(f"run name {name!r}; expected letters, digits, '-', '_' or '.'")
    return slug[:60]


def create_run(
    config: dict[str, Any],
    *,
    name: str,
    config_hash: str,
    data: dict[str, Any],
    folds: list[str],
    root: str | Path | None = None,
) -> Path:
    """Make a new run folder with a "running" manifest and return its path.

    Parameters
    ----------
    config : dict
        ``ExperimentConfig.to_dict()``.
    name : str
        Short name; the folder is ``<YYYYmmdd-HHMMSS>-<name>`` (``-leaky`` appended for
        the segment-level split, so the label travels with the folder name).
    config_hash : str
    data : dict
        Data description: ``fingerprint``, ``cohort_dir``, ``n_segments``, ``n_patients``,
        class counts (no audio paths).
    folds : list of str
        Fold keys the run will train, in order.
    root : path, optional
    """
    base = runs_root(root)
    base.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    leaky = config.get("split", {}).get("kind") == "segment_leaky"
    slug = _slug(name) + ("-leaky" if leaky and not _slug(name).endswith("leaky") else "")
    run_dir = base / f"{stamp}-{slug}"
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = base / f"{stamp}-{slug}-{suffix}"
    (run_dir / "models").mkdir(parents=True)
    now = time.time()
    manifest = {
        "run_id": run_dir.name,
        "name": name,
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "status": "running",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "heartbeat": now,
        "config": config,
        "config_hash": config_hash,
        "preset": config.get("preset", ""),
        "leaky": leaky,
        "data": data,
        "packages": package_versions(),
        "folds": folds,
        "folds_done": [],
        "weights": "",
        "weights_reason": "",
        "model": {},
        "timings": {"started": now, "seconds": 0.0, "cache_seconds": 0.0, "folds": {}},
        "error": "",
        "summary": {},
    }
    atomic_write_json(run_dir / MANIFEST, manifest)
    return run_dir


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """The manifest of a run folder.

    Raises
    ------
    RunError
        When the folder has no readable manifest.
    """
    path = Path(run_dir) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{Path(run_dir).name}: no {MANIFEST}; expected a run folder") from None
    except json.JSONDecodeError as exc:
        raise RunError(f"{path}: unreadable manifest ({exc})") from None


def update_manifest(run_dir: str | Path, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into the manifest (refreshing the heartbeat) and write it atomically."""
    manifest = read_manifest(run_dir)
    manifest.update(changes)
    manifest["heartbeat"] = time.time()
    atomic_write_json(Path(run_dir) / MANIFEST, manifest)
    return manifest


def claim_run(run_dir: str | Path) -> dict[str, Any]:
    """Mark a run as "running" in this process (the caller holds :func:`core.run_health.claim`)."""
    return update_manifest(run_dir, status="running", pid=os.getpid(), host=socket.gethostname(), error="")


def effective_status(manifest: dict[str, Any], run_dir: str | Path | None = None) -> str:
    """The status to show: "running" only while a process really trains the run.

    See :func:`core.run_health.run_state` (claim lock, process id, heartbeat); pass
    ``run_dir`` so the run's claim can be checked.
    """
    return run_state(manifest, run_dir)[0]


def _append_csv(path: Path, table: pd.DataFrame, *, replace_fold: tuple[int, int]) -> None:
    """Add a fold's rows to a CSV, dropping rows of the same fold left by a killed attempt."""
    if path.is_file():
        old = pd.read_csv(path)
        keep = ~((old["repeat"] == replace_fold[0]) & (old["fold"] == replace_fold[1]))
        table = pd.concat([old[keep], table], ignore_index=True)
    atomic_write_csv(path, table)


def save_fold(run_dir: str | Path, result: Any) -> None:
    """Write one trained fold (a :class:`core.training.FoldResult`) and mark it done.

    The CSVs and the model land first; the manifest's ``folds_done`` is updated last, so
    a fold killed half-way is trained again by ``resume``.
    """
    from core.metrics import aggregate_patients

    run_dir = Path(run_dir)
    fold = result.fold
    ids = {"repeat": fold.repeat, "fold": fold.fold}
    key = (fold.repeat, fold.fold)
    history = result.history.assign(**ids)
    _append_csv(
        run_dir / "epochs.csv", history[["repeat", "fold", *result.history.columns]], replace_fold=key
    )
    metrics = result.metrics.assign(**ids, best_epoch=result.best_epoch)
    _append_csv(
        run_dir / "folds.csv",
        metrics[["repeat", "fold", *result.metrics.columns, "best_epoch"]],
        replace_fold=key,
    )
    segments = result.predictions.assign(**ids)
    _append_csv(
        run_dir / "predictions_segments.csv",
        segments[["repeat", "fold", *result.predictions.columns]],
        replace_fold=key,
    )
    manifest = read_manifest(run_dir)
    how = manifest["config"].get("train", {}).get("patient_aggregation", "mean")
    patients = aggregate_patients(
        segments[["repeat", "fold", "part", "patient_id", "label", "prob"]], how=how
    )
    _append_csv(run_dir / "predictions_patients.csv", patients, replace_fold=key)
    model_file = result.model.save(run_dir / "models" / f"{fold.key}.keras")
    record_model_file(run_dir, fold.key, model_file)
    done = [k for k in manifest["folds_done"] if k != fold.key] + [fold.key]
    timings = manifest["timings"]
    timings["folds"][fold.key] = result.seconds
    info = result.model.info
    update_manifest(
        run_dir,
        folds_done=done,
        timings=timings,
        weights=info.weights,
        weights_reason=info.weights_reason,
        model={k: v for k, v in info.to_dict().items() if k != "trainable_layers"},
        cached=bool(result.cached),
        training_path="cached frozen-prefix features"
        if result.cached
        else "uncached: whole model every batch (input augmentation on)",
    )


def finish_run(
    run_dir: str | Path, *, status: str, error: str = "", seconds: float | None = None
) -> dict[str, Any]:
    """Set the final status ("complete" needs every fold done), the summary and timings."""
    if status not in STATUSES:
        raise RunError(f"status {status!r}; expected one of {STATUSES}")
    manifest = read_manifest(run_dir)
    if status == "complete" and set(manifest["folds"]) - set(manifest["folds_done"]):
        status, error = "failed", error or "not every fold finished"
    timings = manifest["timings"]
    if seconds is not None:
        timings["seconds"] = seconds
    summary = compute_summary(run_dir) if manifest["folds_done"] else {}
    return update_manifest(run_dir, status=status, error=error, timings=timings, summary=summary)


def run_summary(run_dir: str | Path, *, verify_models: bool = False) -> dict[str, Any]:
    """The one-object summary printed by ``train --json`` and ``runs show --json``.

    ``error`` is the manifest's error or why a "running" run is shown as failed;
    ``damaged_folds`` maps each fold whose model file is missing or changed to the
    reason (sizes only, or SHA-256 too with ``verify_models``).
    """
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    # a run still in progress gets a light summary (no bootstrap) so listing stays fast
    summary = manifest.get("summary") or compute_summary(run_dir, n_boot=0)
    status, reason = run_state(manifest, run_dir)
    damaged = damaged_folds(run_dir, manifest, full=verify_models)
    return {
        "run_dir": str(run_dir),
        "run_id": manifest["run_id"],
        "name": manifest["name"],
        "status": status,
        "preset": manifest.get("preset", ""),
        "backbone": manifest["config"].get("model", {}).get("backbone", ""),
        "inputs": manifest["config"].get("model", {}).get("inputs", ""),
        "leaky": bool(manifest.get("leaky")),
        "split": _split_label(manifest),
        "weights": manifest.get("weights") or "",
        "weights_reason": manifest.get("weights_reason", ""),
        "patient_auroc_mean": summary.get("patient_auroc_mean"),
        "patient_auroc_std": summary.get("patient_auroc_std"),
        "segment_auroc_mean": summary.get("segment_auroc_mean"),
        "segment_auroc_std": summary.get("segment_auroc_std"),
        "patient_auroc_ci_repeats": summary.get("patient_auroc_ci_repeats"),
        "patient_auroc_ci_bootstrap": summary.get("patient_auroc_ci_bootstrap"),
        "folds_done": len(manifest.get("folds_done", [])),
        "n_folds": len(manifest.get("folds", [])),
        "cached": manifest.get("cached"),
        "training_path": manifest.get("training_path", ""),
        "seconds": manifest.get("timings", {}).get("seconds"),
        "error": reason,
        "damaged_folds": damaged,
    }


def _split_label(manifest: dict[str, Any]) -> str:
    """:func:`core.splits.split_label` of the run's split settings (older runs: defaults filled in)."""
    from core.config import SplitConfig
    from core.splits import split_label

    settings = manifest.get("config", {}).get("split", {})
    known = {k: v for k, v in settings.items() if k in SplitConfig.__dataclass_fields__}
    return split_label(SplitConfig(**known))


def list_runs(root: str | Path | None = None) -> pd.DataFrame:
    """Every run under the root, newest first, one row of :func:`run_summary` each.

    Folders without a readable manifest are skipped.
    """
    base = runs_root(root)
    rows = []
    if base.is_dir():
        for run_dir in sorted(base.iterdir(), reverse=True):
            if (run_dir / MANIFEST).is_file():
                try:
                    rows.append(run_summary(run_dir))
                except (RunError, KeyError):
                    continue
    return (
        pd.DataFrame(rows, columns=list(LIST_COLUMNS)) if rows else pd.DataFrame(columns=list(LIST_COLUMNS))
    )


def find_run(run: str | Path, *, root: str | Path | None = None) -> Path:
    """Resolve a run given as a folder path, a run id, or a unique name / id prefix.

    Raises
    ------
    RunError
        When nothing or more than one run matches.
    """
    path = Path(run)
    if (path / MANIFEST).is_file():
        return path
    base = runs_root(root)
    if (base / str(run) / MANIFEST).is_file():
        return base / str(run)
    matches = (
        [
            d
            for d in sorted(base.iterdir())
            if (d / MANIFEST).is_file() and (d.name.startswith(str(run)) or d.name.endswith(f"-{run}"))
        ]
        if base.is_dir()
        else []
    )
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunError(f"no run {str(run)!r} under {base}")
    raise RunError(
        f"run {str(run)!r} matches {len(matches)} runs: {[m.name for m in matches][:5]}; use the full id"
    )


def load_fold_model(
    run: str | Path, fold: int | str, *, repeat: int = 0, root: str | Path | None = None
) -> Any:
    """The saved :class:`core.models.dual.DualModel` of one fold (imports TensorFlow).

    Raises
    ------
    RunError
        When the file is missing, or its size or SHA-256 differs from the one recorded
        when the fold was saved ("damaged"), or Keras cannot read it.
    """
    from core.models.dual import DualModel

    run_dir = find_run(run, root=root)
    key = FoldKey.of(fold, repeat=repeat).key
    path = run_dir / "models" / f"{key}.keras"
    if not path.is_file():
        raise RunError(f"run {run_dir.name}: no model for fold {key}")
    problem = check_model_file(run_dir, key, full=True)
    if problem:
        raise RunError(f"run {run_dir.name}: the model of fold {key} is damaged ({problem})")
    try:
        return DualModel.load(path)
    except RunError:
        raise RunError(f"run {run_dir.name}: the model of fold {key} cannot be read (damaged file)") from None


def write_progress(run_dir: str | Path, event: dict[str, Any]) -> None:
    """Write the latest progress event to ``progress.json`` atomically."""
    atomic_write_json(Path(run_dir) / "progress.json", {**event, "time": time.time()})


def read_progress(run_dir: str | Path) -> dict[str, Any]:
    """The latest progress event, or an empty dict."""
    path = Path(run_dir) / "progress.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


__all__ = [
    "RUNS_ENV",
    "Run",
    "STATUSES",
    "atomic_write_json",
    "claim_run",
    "compute_summary",
    "create_run",
    "effective_status",
    "find_run",
    "finish_run",
    "fold_table",
    "list_runs",
    "process_alive",
    "load_fold_model",
    "load_run",
    "read_manifest",
    "read_progress",
    "run_summary",
    "runs_root",
    "save_fold",
    "update_manifest",
    "write_progress",
]
