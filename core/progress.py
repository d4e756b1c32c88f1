"""Progress of a training run: the events the CLI bar, the dashboard and ``progress.json`` read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProgressEvent:
    """One step of progress, for the CLI bar and the dashboard's progress file.

    Attributes
    ----------
    kind : {"weights", "cache", "fold_start", "epoch", "fold_end"}
    fold : str
        Fold key such as "r0f2" ("" for run-level events).
    fold_index, n_folds : int
        Position of the fold among the folds being trained (0-based) and their number.
        With the Ray backend folds train in parallel: ``fold_index`` is then the number
        of folds finished before the event (:mod:`core.backends.ray_backend`).
    stage : str
        "warmup", "finetune" or "" .
    epoch, epochs : int
        Epoch within the stage (1-based) and the stage's planned epochs.
    metrics : dict
        For "epoch": the history row (loss, train/val/test loss, acc, auroc, seconds) plus
        ``warmup_epoch_s`` / ``finetune_epoch_s``, the median epoch time of each stage so
        far in this fold; for "fold_end": the fold's test AUROCs, best epoch and seconds;
        for "weights" (ImageNet file being downloaded): ``bytes`` and ``total`` (0: unknown).
    """

    kind: str
    fold: str = ""
    fold_index: int = 0
    n_folds: int = 0
    stage: str = ""
    epoch: int = 0
    epochs: int = 0
    metrics: dict[str, float] = field(default_factory=dict)


ProgressCallback = Callable[[ProgressEvent], None]


def fold_end(result: Any, *, fold_index: int, n_folds: int) -> ProgressEvent:
    """The ``fold_end`` event of a trained fold: its test AUROCs, best epoch and seconds.

    Parameters
    ----------
    result : core.training.FoldResult
        Or a Ray task's :class:`~core.backends.ray_backend.RemoteFoldResult`.
    fold_index, n_folds : int
        Position of the fold among those being trained (0-based) and their number.
    """
    test = result.metrics[result.metrics["part"] == "test"].set_index("level")
    scores = {
        "segment_auroc": float(test.loc["segment", "auroc"]),
        "patient_auroc": float(test.loc["patient", "auroc"]),
        "best_epoch": int(result.best_epoch),
        "seconds": float(result.seconds),
    }
    return ProgressEvent("fold_end", result.fold.key, fold_index, n_folds, metrics=scores)


__all__ = ["ProgressCallback", "ProgressEvent", "fold_end"]
