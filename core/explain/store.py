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


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


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
        return self._save(fold, name, params, ".csv", lambda fh: table.to_csv(fh, index=False))

    def load_table(self, fold: int, name: str, params: dict[str, Any]) -> pd.DataFrame | None:
        """The cached table, or None when there is none for these parameters."""
        return self._load(self.path(fold, name, params, ".csv"), pd.read_csv)

    def save_arrays(
        self, fold: int, name: str, params: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> Path:
        """Write named arrays (compressed ``.npz``); returns its path."""
        return self._save(
            fold, name, params, ".npz", lambda fh: np.savez_compressed(fh, **arrays), binary=True
        )

    def load_arrays(self, fold: int, name: str, params: dict[str, Any]) -> dict[str, np.ndarray] | None:
        """The cached arrays, or None when there are none for these parameters."""
        return self._load(self.path(fold, name, params, ".npz"), _read_npz)

    def table(
        self, fold: int, name: str, params: dict[str, Any], compute: Callable[[], pd.DataFrame]
    ) -> pd.DataFrame:
        """The cached table for these parameters, computing and saving it the first time."""
        return self._cached(self.load_table, self.save_table, fold, name, params, compute)

    def arrays(
        self, fold: int, name: str, params: dict[str, Any], compute: Callable[[], dict[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """The cached arrays for these parameters, computing and saving them the first time."""
        return self._cached(self.load_arrays, self.save_arrays, fold, name, params, compute)

    def _save(
        self,
        fold: int,
        name: str,
        params: dict[str, Any],
        suffix: str,
        write: Callable[[Any], Any],
        *,
        binary: bool = False,
    ) -> Path:
        path = self.path(fold, name, params, suffix)
        atomic_write(path, write, binary=binary)
        self._write_sidecar(path, name, params)
        return path

    @staticmethod
    def _load(path: Path, read: Callable[[Path], Any]) -> Any:
        if not path.is_file():
            return None
        try:
            return read(path)
        except (OSError, ValueError) as exc:
            raise RunError(f"cannot read cached explanation {path}: {exc}") from None

    @staticmethod
    def _cached(load: Callable, save: Callable, fold: int, name: str, params: dict, compute: Callable) -> Any:
        cached = load(fold, name, params)
        if cached is not None:
            return cached
        value = compute()
        save(fold, name, params, value)
        return value

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
