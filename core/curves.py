"""Per-epoch learning-curve points in the two ``train.curves`` modes.

- ``"full"`` (default, the study's way): after every epoch the model in inference mode
  predicts the train, validation and test parts; each gets loss, accuracy and AUROC.
- ``"fast"``: only the validation part is predicted (early stopping and the choice of
  the best epoch need it); the train point comes from the probabilities the training
  steps produced during the epoch (training mode: dropout on, weights moving), as
  Keras ``fit`` reports training metrics; the test point is not computed (NaN). The
  final model's predictions and metrics are the same in both modes: only the curves
  differ, and an epoch skips predicting the train and test parts.
"""

from __future__ import annotations

import numpy as np

from core.errors import ConfigError
from core.metrics import epoch_point

CURVES: tuple[str, ...] = ("full", "fast")


def rows_to_predict(mode: str, parts: dict[str, np.ndarray]) -> np.ndarray:
    """Row positions to predict after an epoch: all parts ("full") or validation only ("fast").

    Parameters
    ----------
    parts : dict of np.ndarray
        ``train``, ``val``, ``test`` row positions, in that order.
    """
    if mode not in CURVES:
        raise ConfigError(f"train.curves={mode!r}; expected one of {CURVES}")
    return np.concatenate(list(parts.values())) if mode == "full" else parts["val"]


def epoch_points(
    mode: str,
    y: np.ndarray,
    parts: dict[str, np.ndarray],
    prob: np.ndarray,
    *,
    label_smoothing: float,
    step_rows: np.ndarray | None = None,
    step_prob: np.ndarray | None = None,
) -> dict[str, float]:
    """``{part}_loss``, ``{part}_acc`` and ``{part}_auroc`` of one epoch for train, val and test.

    Parameters
    ----------
    mode : {"full", "fast"}
    y : np.ndarray [shape=(n_segments,)]
        Labels of every segment.
    parts : dict of np.ndarray
        ``train``, ``val``, ``test`` row positions.
    prob : np.ndarray [shape=(n_predicted,)]
        Inference-mode probabilities of :func:`rows_to_predict` rows, in that order.
    step_rows, step_prob : np.ndarray [shape=(n_train,)]
        "fast" only: the training rows in the order the steps saw them and the
        probabilities the steps produced.
    """
    row: dict[str, float] = {}
    if mode == "full":
        bounds = np.cumsum([0] + [len(r) for r in parts.values()])
        for k, (part, rows) in enumerate(parts.items()):
            point = epoch_point(y[rows], prob[bounds[k] : bounds[k + 1]], label_smoothing=label_smoothing)
            row.update({f"{part}_{name}": value for name, value in point.items()})
        return row
    if step_rows is None or step_prob is None:
        raise ConfigError("train.curves='fast' needs the training steps' probabilities")
    points = {
        "train": epoch_point(y[step_rows], step_prob, label_smoothing=label_smoothing),
        "val": epoch_point(y[parts["val"]], prob, label_smoothing=label_smoothing),
        "test": {"loss": float("nan"), "acc": float("nan"), "auroc": float("nan")},
    }
    for part, point in points.items():
        row.update({f"{part}_{name}": value for name, value in point.items()})
    return row


def curves_caption(mode: str) -> str:
    """What a run's learning curves show, in its ``train.curves`` mode (a caption under the plot)."""
    if mode not in CURVES:
        raise ConfigError(f"train.curves={mode!r}; expected one of {CURVES}")
    if mode == "full":
        return (
            "After every epoch the model in inference mode predicted the train, validation and "
            "test parts. Test curves are drawn for inspection only: epochs and thresholds are "
            "chosen on validation."
        )
    return (
        "train.curves=fast: only the validation curve is the model in inference mode after each "
        "epoch. The train curve comes from the training steps themselves (dropout on, weights "
        "moving during the epoch), as Keras reports it; test curves were not computed. Epochs "
        "and thresholds are chosen on validation."
    )
