"""Fold model files checked against the size and SHA-256 recorded when they were saved.

:func:`record_model_file` writes ``manifest["model_files"][fold] = {"bytes", "sha256"}``
right after a fold's ``.keras`` file is saved. :func:`check_model_file` compares a
file with that record: the size always (a stat, cheap enough for listings), the hash
on request (when a model is loaded, and in ``runs show``). A truncated, replaced or
deleted model is thus named as damaged instead of failing later inside Keras. Runs
saved before hashes were recorded are checked for presence only.

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

#: Manifest key of the records.
MODEL_FILES = "model_files"


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def record_model_file(run_dir: str | Path, key: str, path: str | Path) -> dict[str, Any]:
    """Record the size and SHA-256 of fold ``key``'s model file in the run's manifest."""
    from core.runs import read_manifest, update_manifest

    path = Path(path)
    entry = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
    records = dict(read_manifest(run_dir).get(MODEL_FILES) or {})
    records[key] = entry
    update_manifest(run_dir, **{MODEL_FILES: records})
    return entry


def _manifest(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def check_model_file(
    run_dir: str | Path, key: str, *, full: bool = True, manifest: dict[str, Any] | None = None
) -> str:
    """Why fold ``key``'s model file is not the one saved, or "" when it is.

    Parameters
    ----------
    run_dir : path
    key : str
        Fold key such as "r0f2".
    full : bool
        Compare the SHA-256 too (reads the whole file); otherwise the size only.
    manifest : dict, optional
        The run's manifest when already read.
    """
    run_dir = Path(run_dir)
    path = run_dir / "models" / f"{key}.keras"
    if not path.is_file():
        return "model file missing"
    record = ((manifest if manifest is not None else _manifest(run_dir)).get(MODEL_FILES) or {}).get(key)
    if not record:
        return ""
    size = path.stat().st_size
    if size != record.get("bytes"):
        return f"model file has {size} bytes, {record.get('bytes')} were saved"
    if full and file_sha256(path) != record.get("sha256"):
        return "model file content changed since it was saved (SHA-256 differs)"
    return ""


def damaged_folds(run_dir: str | Path, manifest: dict[str, Any], *, full: bool = False) -> dict[str, str]:
    """Every finished fold whose model file is missing or differs from its record, with the reason."""
    found = {}
    for key in manifest.get("folds_done", []):
        problem = check_model_file(run_dir, key, full=full, manifest=manifest)
        if problem:
            found[key] = problem
    return found


__all__ = ["MODEL_FILES", "check_model_file", "damaged_folds", "file_sha256", "record_model_file"]
