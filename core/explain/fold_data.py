"""What one fold's explanations are computed from, gathered from a stored :class:`~core.run.Run`.

:func:`load_fold` asks the run for the fold's model, its test predictions and
segment-level threshold, its training segments, and the segment images rebuilt from the
run's cohort and preprocessing config (:meth:`core.run.Run.dataset`, fingerprint
checked). :func:`model_key` names the version of a fold's model file, so cached
explanations of an older model are never shown for a newer one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.cohort.classes import ClassNames
from core.errors import RunError
from core.explain.masking import masking_summary
from core.explain.regions import ImageAxes
from core.explain.staged import StagedModel
from core.explain.store import ExplainStore
from core.folds import FoldKey, sorted_keys
from core.run import Run, load_run
from core.runs import find_run, read_manifest

if TYPE_CHECKING:
    from core.cohort.model import Cohort


@dataclass
class FoldData:
    """Everything a fold's explanations are computed from.

    Attributes
    ----------
    run_dir : Path
    fold_key : str
        e.g. "r0f1".
    model : StagedModel
    segments : pd.DataFrame
        The dataset's segment table (``segment_id`` = row position).
    mel, stft : np.ndarray [shape=(N, S, S, 3), dtype=uint8]
        Images of every segment of the dataset.
    predictions : pd.DataFrame
        The fold's test predictions: ``segment_id, patient_id, label, prob``.
    train_ids : np.ndarray [shape=(m,), dtype=int]
        The fold's training segments (for the training-mean baseline).
    threshold : float
        The fold's segment-level decision threshold (chosen on validation).
    axes : ImageAxes
    model_key : str
        Identifies the model file's version (size and modification time).
    class_names : (str, str)
        The run's names of label 0 and 1.
    """

    run_dir: Path
    fold_key: str
    model: StagedModel
    segments: pd.DataFrame
    mel: np.ndarray
    stft: np.ndarray
    predictions: pd.DataFrame
    train_ids: np.ndarray
    threshold: float
    axes: ImageAxes
    model_key: str
    class_names: ClassNames

    @property
    def fold(self) -> FoldKey:
        return FoldKey.parse(self.fold_key)


def model_key(run_dir: Path, fold_key: str | FoldKey) -> str:
    """Identifies the version of a fold's model file (its size and modification time)."""
    key = FoldKey.parse(fold_key).key
    path = Path(run_dir) / "models" / f"{key}.keras"
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise RunError(f"run {Path(run_dir).name}: no model for fold {key}") from None
    return hashlib.sha1(f"{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]


def fold_keys(run: Run | str | Path, *, root: str | Path | None = None) -> list[str]:
    """Keys of a run's finished folds in (repeat, fold) order, whatever order they finished in."""
    return [key.key for key in _finished(run, root)[1]]


def _finished(run: Run | str | Path, root: str | Path | None) -> tuple[Path, list[FoldKey]]:
    """The run folder and its finished folds, reading only the manifest when given a path."""
    if isinstance(run, Run):
        return run.path, list(run.fold_keys)
    run_dir = find_run(run, root=root)
    return run_dir, [FoldKey.parse(k) for k in sorted_keys(read_manifest(run_dir).get("folds_done", []))]


def cached_masking_table(
    run: Run | str | Path, *, baseline: str = "black", root: str | Path | None = None
) -> pd.DataFrame:
    """The study's per-fold masking table from what is cached, without loading any model.

    Returns
    -------
    table : pd.DataFrame
        One row per fold whose masking for the current model file is cached (see
        :meth:`~core.explain.fold.FoldExplainer.masking_summary`); empty when none is.
    """
    run_dir, keys = _finished(run, root)
    store = ExplainStore(run_dir)
    rows = []
    for key in keys:
        params = {"fold": key.key, "model": model_key(run_dir, key), "baseline": baseline}
        table = store.load_table(key.fold, "masking", params)
        if table is not None:
            rows.append(masking_summary(table, fold=key.fold).assign(fold_key=key.key, baseline=baseline))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def load_fold(
    run: Run | str | Path,
    fold: int | str | FoldKey,
    *,
    repeat: int = 0,
    root: str | Path | None = None,
    cache_dir: Path | None = None,
    cohort: Cohort | None = None,
) -> FoldData:
    """Load one fold of a run for explanation.

    Parameters
    ----------
    run : Run, str or Path
        A loaded run (its dataset is rebuilt once for all its folds), or a run folder,
        id or unique name.
    fold : int, str or FoldKey
        Fold number as stored by the run (0-based), its key ("r0f1") or a FoldKey.
    repeat : int
    root, cache_dir : Path, optional
        Run store and preprocessing cache.
    cohort : Cohort, optional
        The run's cohort, already loaded (default: loaded from the run's manifest).

    Raises
    ------
    RunError
        When the run, fold, model or predictions are missing, or the cohort changed.
    """
    loaded = run if isinstance(run, Run) else load_run(run, root=root)
    key = loaded.fold(fold, repeat=repeat)
    dataset = loaded.dataset(cohort=cohort, cache_dir=cache_dir)
    test = loaded.predictions("segment", fold=key, part="test")
    if test.empty:
        raise RunError(f"run {loaded.name}: no test predictions for fold {key.key}")
    threshold = loaded.threshold(key, level="segment")
    train = loaded.predictions("segment", fold=key, part="train")
    return FoldData(
        run_dir=loaded.path,
        fold_key=key.key,
        model=loaded.model(key),
        segments=dataset.segments,
        mel=dataset.mel,
        stft=dataset.stft,
        predictions=test[["segment_id", "patient_id", "label", "prob"]].reset_index(drop=True),
        train_ids=train["segment_id"].to_numpy(dtype=int),
        threshold=threshold,
        axes=ImageAxes.from_config(loaded.config.preprocess),
        model_key=model_key(loaded.path, key),
        class_names=loaded.class_names,
    )


__all__ = ["FoldData", "cached_masking_table", "fold_keys", "load_fold", "model_key"]
