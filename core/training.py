"""Two-stage training of one fold with cached frozen-prefix features.

Protocol (the "seed" preset):

1. Warm-up: backbone frozen, ``warmup_epochs`` epochs, Adam ``warmup_lr``.
2. Fine-tune: the study's last ``unfreeze_ratio`` of backbone layers trainable (BatchNorm
   frozen), ``finetune_epochs`` epochs, Adam ``finetune_lr``.

Both stages: batch ``batch_size`` segments, binary cross-entropy with label smoothing,
sample weights from ``class_weight = {0: n_pos / n_neg, 1: 1}`` of the training part, the
head's L2 penalty added to the loss, early stopping on validation AUROC (patience, no
min_delta, the stage's best weights restored at its end, as Keras' ``EarlyStopping``
does). Fine-tuning starts from the warm-up's best weights; the fold's final model is
the epoch with the highest validation AUROC over both stages (the earliest on ties).
Thresholds are chosen on validation by :func:`core.metrics.fold_metrics`.

Speed by construction
---------------------
The backbone runs in inference mode, so the prefix output of a segment never changes
while a fold trains. It is computed once (:class:`~core.train_steps.FeatureCache`) and reused by every
epoch, and by every fold while the backbone starts from the same weights (ImageNet, or
the run's seeded random initialisation). In warm-up the whole backbone is frozen, so the
pooled tail output is cached too and an epoch trains only the small classifier.
Per-epoch evaluation of train, validation and test runs on the cached features, tail and
head in one compiled graph per batch, so no feature map leaves the graph
(:meth:`core.models.dual.DualModel.predict_prefix`). Train steps and evaluation are
traced once per stage with a free batch size, so an epoch's short last batch costs no
second trace. With input augmentation on (``train.augment``, or ``train.spec_augment``:
masks and mixup, :mod:`core.augment`), training batches must go through the whole
model ("uncached" path); evaluation still uses the cache (evaluation is never
augmented).

Where the time goes (EfficientNetB0, seed preset, 2 CPU cores): a fine-tune epoch is
about two thirds train steps (forward and backward through block6c..top_conv for every
training pair) and one third evaluation of the ~860 images of the fold; the warm-up
epochs train only the classifier on pooled features and take milliseconds.

Determinism
-----------
``keras.utils.set_random_seed`` seeds Python, NumPy and TensorFlow before each model is
built (backbone with the run seed, head and dropout with the fold seed), and batches
are shuffled by a NumPy generator seeded per fold. On CPU with the same thread counts
the results repeat run to run; oneDNN may sum in a different order with a different
number of threads, which moves results by float round-off (about 1e-6).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.config import ExperimentConfig
from core.curves import epoch_points, rows_to_predict
from core.errors import TrainingError
from core.metrics import fold_metrics
from core.models.dual import DualModel, build_model
from core.precision import precision_scope
from core.progress import ProgressCallback, ProgressEvent, fold_end
from core.splits import Fold
from core.train_steps import FeatureCache, FoldSteps

if TYPE_CHECKING:
    from core.dataset import SegmentDataset


@dataclass
class FoldResult:
    """Everything one trained fold produced.

    Attributes
    ----------
    fold : Fold
    model : DualModel
        Weights of the best epoch.
    history : pd.DataFrame
        One row per epoch: ``epoch`` (1-based over both stages), ``stage``,
        ``stage_epoch``, ``loss`` (mean training batch loss, weighted, with L2), then
        ``train_/val_/test_`` ``loss`` (BCE with label smoothing), ``acc`` (at 0.5) and
        ``auroc`` in inference mode, ``seconds``.
    best_epoch : int
        Epoch (1-based over both stages) with the highest validation AUROC.
    predictions : pd.DataFrame
        One row per segment of the fold: ``segment_id, recording_id, patient_id, vowel,
        part, label, prob``. A patient's probability aggregates all of the patient's
        segments, over every selected vowel (``preprocess.selection.vowels``).
    metrics : pd.DataFrame
        :func:`core.metrics.fold_metrics` of ``predictions``.
    seconds : float
    cached : bool
        False when augmentation forced the uncached training path.
    """

    fold: Fold
    model: DualModel
    history: pd.DataFrame
    best_epoch: int
    predictions: pd.DataFrame
    metrics: pd.DataFrame
    seconds: float
    cached: bool


def class_weights(labels: np.ndarray, *, enabled: bool = True) -> dict[int, float]:
    """The study's ``{0: n_pos / n_neg, 1: 1}`` from training labels (all 1.0 when disabled).

    Raises
    ------
    TrainingError
        When the training part lacks one class.
    """
    n_pos = int(np.sum(labels == 1))
    n_neg = int(np.sum(labels == 0))
    if n_pos == 0 or n_neg == 0:
        raise TrainingError(
            f"training part has {n_neg} well and {n_pos} poor segments; expected both classes"
        )
    return {0: n_pos / n_neg if enabled else 1.0, 1: 1.0}


def train_fold(
    dataset: SegmentDataset,
    fold: Fold,
    config: ExperimentConfig,
    *,
    cache: FeatureCache | None = None,
    fold_index: int = 0,
    n_folds: int = 1,
    progress: ProgressCallback | None = None,
    force_uncached: bool = False,
) -> FoldResult:
    """Train and evaluate one fold with the two-stage protocol.

    Parameters
    ----------
    dataset : SegmentDataset
        ``segments`` table plus ``mel`` / ``stft`` arrays [shape=(n, S, S, 3), dtype=uint8].
    fold : Fold
        Row positions of train, validation and test segments.
    config : ExperimentConfig
    cache : FeatureCache, optional
        Shared across folds of a run; a fresh one is made when omitted.
    fold_index, n_folds : int
        For progress events.
    progress : callable, optional
        Receives :class:`ProgressEvent` objects.
    force_uncached : bool
        Train through the whole model even without augmentation (for tests and the
        benchmark; results equal the cached path up to float round-off).
    """
    start = time.perf_counter()
    emit = progress or (lambda event: None)
    config.validate()
    train_cfg = config.train
    segments = dataset.segments
    labels = segments["label"].to_numpy(dtype="float64", na_value=np.nan)
    if np.isnan(labels[np.concatenate([fold.train, fold.val, fold.test])]).any():
        raise TrainingError(f"fold {fold.key} holds segments without a label")
    y = np.nan_to_num(labels).astype(np.float32)
    weights_of = class_weights(y[fold.train], enabled=train_cfg.class_weight)
    sample_weight = np.where(y == 1, weights_of[1], weights_of[0]).astype(np.float32)

    image_size = int(dataset.mel.shape[1])
    with precision_scope(train_cfg.precision):  # train.precision: the layers keep the policy they get here
        model = build_model(
            config.model,
            image_size=image_size,
            unfreeze_ratio=train_cfg.unfreeze_ratio,
            backbone_seed=config.split.seed,
            head_seed=fold.seed * 100 + fold.fold,
        )
    images = {"mel": dataset.mel, "stft": dataset.stft}
    cache = cache if cache is not None else FeatureCache()
    if cache.ensure(model, images):
        emit(ProgressEvent("cache", fold.key, fold_index, n_folds, metrics={"seconds": cache.seconds}))
    cached = not (train_cfg.augment or train_cfg.spec_augment != "off" or force_uncached)
    trainer = FoldSteps(model, config, cache=cache, images=images)
    rng = np.random.default_rng(fold.seed * 100 + fold.fold)
    emit(ProgressEvent("fold_start", fold.key, fold_index, n_folds))

    parts = {"train": fold.train, "val": fold.val, "test": fold.test}
    eval_rows = np.concatenate(list(parts.values()))
    history: list[dict[str, Any]] = []
    best = {"auroc": -np.inf, "epoch": 0, "state": model.get_trainable_state()}
    stage_seconds: dict[str, list[float]] = {}  # for the time-left estimate of the progress events
    plan = [
        ("warmup", train_cfg.warmup_epochs, train_cfg.warmup_lr),
        ("finetune", train_cfg.finetune_epochs, train_cfg.finetune_lr),
    ]
    for stage, epochs, lr in plan:
        if epochs == 0:
            continue
        step, batch_inputs = trainer.make_step(stage, lr, cached=cached)
        stage_best, wait = -np.inf, 0
        stage_state = model.get_trainable_state()
        for stage_epoch in range(1, epochs + 1):
            tick = time.perf_counter()
            order = rng.permutation(fold.train)
            losses, seen = [], []
            for i in range(0, len(order), train_cfg.batch_size):
                rows = order[i : i + train_cfg.batch_size]
                seed = int(rng.integers(0, 2**31 - 1))
                loss, step_prob = step(
                    batch_inputs(rows, seed),
                    trainer.tf.constant(y[rows]),
                    trainer.tf.constant(sample_weight[rows]),
                )
                losses.append(float(loss))
                seen.append(step_prob)
            prob = trainer.evaluate(
                stage, rows_to_predict(train_cfg.curves, parts)
            )  # train.curves: core.curves
            row: dict[str, Any] = {
                "epoch": len(history) + 1,
                "stage": stage,
                "stage_epoch": stage_epoch,
                "loss": float(np.mean(losses)),
            }
            row.update(
                epoch_points(
                    train_cfg.curves,
                    y,
                    parts,
                    prob,
                    label_smoothing=train_cfg.label_smoothing,
                    step_rows=order,
                    step_prob=np.concatenate([p.numpy() for p in seen]),
                )
            )
            row["seconds"] = time.perf_counter() - tick
            history.append(row)
            stage_seconds.setdefault(stage, []).append(row["seconds"])
            timing = {f"{name}_epoch_s": float(np.median(times)) for name, times in stage_seconds.items()}
            emit(
                ProgressEvent(
                    "epoch", fold.key, fold_index, n_folds, stage, stage_epoch, epochs, {**row, **timing}
                )
            )
            val_auroc = row["val_auroc"] if not np.isnan(row["val_auroc"]) else -np.inf
            wait += 1
            if val_auroc > stage_best or stage_epoch == 1:
                stage_best, wait = val_auroc, 0
                stage_state = model.get_trainable_state()
                if val_auroc > best["auroc"] or best["epoch"] == 0:
                    best = {"auroc": val_auroc, "epoch": row["epoch"], "state": stage_state}
            if wait >= train_cfg.patience:
                break
        model.set_trainable_state(stage_state)
    model.set_trainable_state(best["state"])
    model.set_stage("warmup")

    final_stage = "warmup" if train_cfg.finetune_epochs == 0 else "finetune"
    prob = trainer.evaluate(final_stage, eval_rows)
    part_names = np.repeat(list(parts), [len(r) for r in parts.values()])
    chosen = segments.iloc[eval_rows]
    predictions = pd.DataFrame(
        {
            "segment_id": chosen["segment_id"].to_numpy(),
            "recording_id": chosen["recording_id"].to_numpy(),
            "patient_id": chosen["patient_id"].to_numpy(),
            "vowel": chosen["vowel"].to_numpy(),
            "part": part_names,
            "label": y[eval_rows].astype(int),
            "prob": prob.astype(float),
        }
    )
    metrics = fold_metrics(
        predictions, threshold_steps=train_cfg.threshold_steps, aggregation=train_cfg.patient_aggregation
    )
    result = FoldResult(
        fold=fold,
        model=model,
        history=pd.DataFrame(history),
        best_epoch=int(best["epoch"]),
        predictions=predictions,
        metrics=metrics,
        seconds=time.perf_counter() - start,
        cached=cached,
    )
    emit(fold_end(result, fold_index=fold_index, n_folds=n_folds))
    return result


__all__ = ["FoldResult", "class_weights", "train_fold"]
