"""Explanations cached in the run folder, so a page never recomputes what it showed before.

Layout: ``<run_dir>/explain/fold<k>/<name>-<key>.csv`` (tables) or ``.npz`` (arrays),
each with a ``<name>-<key>.json`` sidecar holding the parameters; ``key`` is the hash
of those parameters (:func:`core.config.config_hash`), so changing a setting (method,
target, fill, segments, model file) gives a new entry instead of a stale hit. Every
file is written to a temporary name and renamed into place (atomic on one file
system), so a reader never sees half a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.atomic import atomic_write
from core.config import config_hash
from core.errors import RunError


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


class ExplainStore:
    """Cache of one run's explanations.

    Parameters
    ----------
    run_dir : str or Path
        The run folder; entries go under ``<run_dir>/explain``.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.root = self.run_dir / "explain"

    def fold_dir(self, fold: int) -> Path:
        return self.root / f"fold{int(fold)}"

    @staticmethod
    def key(params: dict[str, Any]) -> str:
        """Hash of the parameters that determine an entry."""
        return config_hash(_jsonable(params))

    def path(self, fold: int, name: str, params: dict[str, Any], suffix: str) -> Path:
        if not name or any(c in name for c in "/\\.") or name.startswith("-"):
            raise RunError(
                f"explanation entry name {name!r}; expected a plain name without '/', '\\\\' or '.'"
            )
        return self.fold_dir(fold) / f"{name}-{self.key(params)}{suffix}"

    def _write_sidecar(self, data_path: Path, name: str, params: dict[str, Any]) -> None:
        meta = {
            "name": name,
            "key": data_path.stem.rsplit("-", 1)[1],
            "file": data_path.name,
            "params": _jsonable(params),
        }
        atomic_write(data_path.with_suffix(".json"), lambda fh: json.dump(meta, fh, indent=2, sort_keys=True))

    def has(self, fold: int, name: str, params: dict[str, Any], *, kind: str = "table") -> bool:
        return self.path(fold, name, params, ".csv" if kind == "table" else ".npz").is_file()

    def save_table(self, fold: int, name: str, params: dict[str, Any], table: pd.DataFrame) -> Path:
        """Write a table; returns its path."""
        path = self.path(fold, name, params, ".csv")
        atomic_write(path, lambda fh: table.to_csv(fh, index=False))
        self._write_sidecar(path, name, params)
        return path

    def load_table(self, fold: int, name: str, params: dict[str, Any]) -> pd.DataFrame | None:
        """The cached table, or None when there is none for these parameters."""
        path = self.path(fold, name, params, ".csv")
        if not path.is_file():
            return None
        try:
            return pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise RunError(f"cannot read cached explanation {path}: {exc}") from None

    def save_arrays(
        self, fold: int, name: str, params: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> Path:
        """Write named arrays (compressed ``.npz``); returns its path."""
        path = self.path(fold, name, params, ".npz")
        atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays), binary=True)
        self._write_sidecar(path, name, params)
        return path

    def load_arrays(self, fold: int, name: str, params: dict[str, Any]) -> dict[str, np.ndarray] | None:
        """The cached arrays, or None when there are none for these parameters."""
        path = self.path(fold, name, params, ".npz")
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise RunError(f"cannot read cached explanation {path}: {exc}") from None

    def table(
        self, fold: int, name: str, params: dict[str, Any], compute: Callable[[], pd.DataFrame]
    ) -> pd.DataFrame:
        """The cached table for these parameters, computing and saving it the first time."""
        cached = self.load_table(fold, name, params)
        if cached is not None:
            return cached
        table = compute()
        self.save_table(fold, name, params, table)
        return table

    def arrays(
        self, fold: int, name: str, params: dict[str, Any], compute: Callable[[], dict[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """The cached arrays for these parameters, computing and saving them the first time."""
        cached = self.load_arrays(fold, name, params)
        if cached is not None:
            return cached
        arrays = compute()
        self.save_arrays(fold, name, params, arrays)
        return arrays

    def entries(self, fold: int | None = None) -> pd.DataFrame:
        """What is cached: columns ``fold, name, key, file, params`` (params as a dict)."""
        folds = [self.fold_dir(fold)] if fold is not None else sorted(self.root.glob("fold*"))
        rows = []
        for folder in folds:
            for side in sorted(folder.glob("*.json")):
                try:
                    meta = json.loads(side.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if (folder / meta.get("file", "")).is_file():
                    rows.append(
                        {
                            "fold": int(folder.name[4:]),
                            "name": meta["name"],
                            "key": meta["key"],
                            "file": meta["file"],
                            "params": meta["params"],
                        }
                    )
        return pd.DataFrame(rows, columns=["fold", "name", "key", "file", "params"])
