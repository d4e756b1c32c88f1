"""Two-stage training of one fold with cached frozen-prefix features.

Protocol (DESIGN.md §2, the "seed" preset):

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
while a fold trains. It is computed once (:class:`FeatureCache`) and reused by every
epoch, and by every fold while the backbone starts from the same weights (ImageNet, or
the run's seeded random initialisation). In warm-up the whole backbone is frozen, so the
pooled tail output is cached too and an epoch trains only the small classifier.
Per-epoch evaluation of train, validation and test runs on the cached features, tail and
head in one compiled graph per batch, so no feature map leaves the graph
(:meth:`core.models.dual.DualModel.predict_prefix`). Train steps and evaluation are
traced once per stage with a free batch size, so an epoch's short last batch costs no
second trace. With input augmentation on, training batches must go through the whole
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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.config import ExperimentConfig
from core.curves import epoch_points, rows_to_predict
from core.errors import TrainingError
from core.metrics import fold_metrics
from core.models.backbones import get_backbone
from core.models.download import ensure_imagenet
from core.models.dual import DualModel, build_model
from core.models.runtime import tensorflow
from core.models.weights import resolve_weights
from core.splits import Fold

if TYPE_CHECKING:
    from core.cohort.source import CohortSource


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
        One row per segment of the fold: ``segment_id, recording_id, patient_id, part,
        label, prob``.
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


class FeatureCache:
    """Prefix outputs (and pooled warm-up features) of every segment, per backbone state.

    Reused across folds while the fingerprint of the backbone weights is the same, so a
    run with ImageNet or seeded random weights computes them once.
    """

    def __init__(self) -> None:
        self.fingerprint = ""
        self.prefix: dict[str, np.ndarray] = {}
        self.pooled: dict[str, np.ndarray] = {}
        self.seconds = 0.0

    def ensure(
        self, model: DualModel, images: dict[str, np.ndarray], *, batch_size: int = 64, fingerprint: str = ""
    ) -> bool:
        """Compute the features unless the cache already holds them for this backbone.

        Parameters
        ----------
        model : DualModel
            Fresh from :func:`build_model` (backbone weights as they start a fold).
        images : dict of np.ndarray [shape=(n, S, S, 3), dtype=uint8]
            Images of every segment, keyed by branch.

        Returns
        -------
        computed : bool
            True when the features were (re)computed.
        """
        fingerprint = fingerprint or model.backbone_fingerprint()
        if fingerprint == self.fingerprint and all(b in self.prefix for b in model.branches):
            return False
        start = time.perf_counter()
        self.prefix, self.pooled = {}, {}
        for branch in model.branches:
            prefix = model.run_stage("prefix", images[branch], batch_size=batch_size)
            self.prefix[branch] = prefix
            self.pooled[branch] = model.run_stage("pooled", prefix, batch_size=batch_size)
        self.fingerprint = fingerprint
        self.seconds += time.perf_counter() - start
        return True


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


def augment_images(
    images: Any, *, brightness: float, contrast_low: float, contrast_high: float, seed: Any
) -> Any:
    """Random brightness (± ``brightness`` of full scale) and contrast per image, 0..255 in and out.

    Parameters
    ----------
    images : tf.Tensor [shape=(n, S, S, 3)]
    seed : tf.Tensor [shape=(2,), dtype=int32]
        Stateless seed, so an epoch's augmentation is reproducible.
    """
    tf = tensorflow()
    x = tf.cast(images, tf.float32) / 255.0
    n = tf.shape(x)[0]
    seeds = tf.random.experimental.stateless_split(seed, 2)
    delta = tf.random.stateless_uniform([n, 1, 1, 1], seeds[0], -brightness, brightness)
    factor = tf.random.stateless_uniform([n, 1, 1, 1], seeds[1], contrast_low, contrast_high)
    x = x + delta
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    x = tf.clip_by_value((x - mean) * factor + mean, 0.0, 1.0)
    return x * 255.0


class _Trainer:
    """Train steps and cached evaluation of one fold (internal)."""

    def __init__(
        self,
        model: DualModel,
        config: ExperimentConfig,
        *,
        cache: FeatureCache,
        images: dict[str, np.ndarray],
    ):
        self.tf = tensorflow()
        import keras

        self.keras = keras
        self.model = model
        self.config = config
        self.cache = cache
        self.images = images
        self.loss_fn = keras.losses.BinaryCrossentropy(label_smoothing=config.train.label_smoothing)

    def _step(
        self,
        forward: Callable[[list[Any]], Any],
        variables: list[Any],
        losses_of: Any,
        lr: float,
        specs: list[Any],
    ) -> Any:
        """A compiled train step; ``specs`` give the inputs' shapes with a free batch size.

        The signature is fixed up front, so the short last batch of an epoch does not
        trace the step a second time.
        """
        tf = self.tf
        optimizer = self.keras.optimizers.Adam(learning_rate=lr)
        optimizer.build(variables)
        vector = tf.TensorSpec((None,), tf.float32)

        @tf.function(input_signature=[specs, vector, vector], autograph=False)
        def step(inputs: list[Any], y: Any, w: Any) -> Any:
            with tf.GradientTape() as tape:
                prob = forward(inputs)
                loss = self.loss_fn(y[:, None], prob[:, None], sample_weight=w)
                penalties = losses_of.losses
                if penalties:
                    loss = loss + tf.add_n(penalties)
            grads = tape.gradient(loss, variables)
            optimizer.apply(grads, variables)
            return loss, prob

        return step

    def make_step(
        self, stage: str, lr: float, *, cached: bool
    ) -> tuple[Any, Callable[[np.ndarray, int], list[Any]]]:
        """Return (step, batch_inputs) for a stage; ``batch_inputs(rows, seed)`` builds a batch."""
        tf = self.tf
        model = self.model
        model.set_stage(stage)
        branches = model.branches

        def spec(shape: tuple[int, ...], dtype: Any = tf.float32) -> Any:
            return tf.TensorSpec((None, *shape), dtype)

        if cached and stage == "warmup":
            pooled = np.concatenate([self.cache.pooled[b] for b in branches], axis=1)
            step = self._step(
                lambda inputs: tf.reshape(model.classifier(inputs[0], training=True), [-1]),
                model.classifier.trainable_variables,
                model.classifier,
                lr,
                [spec(pooled.shape[1:])],
            )
            return step, lambda rows, seed: [tf.constant(pooled[rows])]
        if cached:
            variables = [*model.tail_model.trainable_variables, *model.head_model.trainable_variables]
            step = self._step(
                lambda inputs: model.head(*(model.tail(x) for x in inputs), training=True),
                variables,
                model.head_model,
                lr,
                [spec(model.info.prefix_shape)] * len(branches),
            )
            return step, lambda rows, seed: [tf.constant(self.cache.prefix[b][rows]) for b in branches]
        train = self.config.train
        variables = [*model.tail_model.trainable_variables, *model.head_model.trainable_variables]

        def forward(inputs: list[Any]) -> Any:
            seed = inputs[-1]
            maps = []
            for i, x in enumerate(inputs[:-1]):
                if train.augment:
                    x = augment_images(
                        x,
                        brightness=train.brightness,
                        contrast_low=train.contrast_low,
                        contrast_high=train.contrast_high,
                        seed=seed + i,
                    )
                maps.append(model.tail(model.prefix(x)))
            return model.head(*maps, training=True)

        first = self.images[branches[0]]
        image_spec = spec(first.shape[1:], tf.as_dtype(first.dtype))
        specs = [image_spec] * len(branches) + [tf.TensorSpec((2,), tf.int32)]
        step = self._step(forward, variables, model.head_model, lr, specs)
        return step, lambda rows, seed: [
            *(tf.constant(self.images[b][rows]) for b in branches),
            tf.constant([seed, 0], dtype=tf.int32),
        ]

    def evaluate(self, stage: str, rows: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
        """Inference-mode probabilities of ``rows`` from cached features, ``[len(rows)]``."""
        model = self.model
        if stage == "warmup":
            pooled = np.concatenate([self.cache.pooled[b][rows] for b in model.branches], axis=1)
            return model.classifier.predict_on_batch(pooled).reshape(-1) if len(rows) else np.zeros(0)
        return model.predict_prefix(
            *(self.cache.prefix[b][rows] for b in model.branches), batch_size=batch_size
        )


def train_fold(
    dataset: Any,
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
    cached = not (train_cfg.augment or force_uncached)
    trainer = _Trainer(model, config, cache=cache, images=images)
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
    test = metrics[metrics["part"] == "test"].set_index("level")
    emit(
        ProgressEvent(
            "fold_end",
            fold.key,
            fold_index,
            n_folds,
            metrics={
                "segment_auroc": float(test.loc["segment", "auroc"]),
                "patient_auroc": float(test.loc["patient", "auroc"]),
                "best_epoch": result.best_epoch,
                "seconds": result.seconds,
            },
        )
    )
    return result


class RunCancelled(Exception):
    """Raised inside a run (e.g. by a SIGTERM handler) to stop it as "cancelled"."""


def load_training_data(
    cohort_dir: str | Path | CohortSource, config: ExperimentConfig, *, cache_dir: Path | None = None
) -> tuple[Any, dict[str, Any]]:
    """Load a cohort and build its segment dataset; return it with a manifest description.

    Parameters
    ----------
    cohort_dir : path or CohortSource
        The cohort folder, or a source (folder + label sheet, columns, positive value).

    Returns
    -------
    dataset : SegmentDataset
    data : dict
        ``fingerprint`` (cohort audio + labels), ``preprocess_hash``, ``cohort_dir``
        (the folder, never an audio path), ``cohort_source`` (how to load it again),
        ``class_names`` (label 0, label 1), counts of segments, patients and classes,
        and the number of recordings that gave no segment.
    """
    from core.cohort import as_source
    from core.dataset import build_dataset
    from core.pairing import is_synthetic_cohort
    from core.workspace import cache_dir as default_cache_dir

    source = as_source(cohort_dir)
    cohort_dir = source.root
    cohort = source.load()
    dataset = build_dataset(cohort, config.preprocess, cache_dir=cache_dir or default_cache_dir())
    segments = dataset.segments
    labelled = segments[segments["label"].notna()]
    per_patient = labelled.groupby("patient_id")["label"].first()
    data = {
        "fingerprint": cohort.fingerprint(),
        "preprocess_hash": config.preprocess.hash(),
        "cohort_dir": str(Path(cohort_dir).resolve()),
        "cohort_source": source.to_dict(),
        "class_names": list(cohort.class_names),
        "synthetic": is_synthetic_cohort(cohort_dir),
        "n_segments": int(len(labelled)),
        "n_patients": int(per_patient.size),
        "patients_well": int((per_patient == 0).sum()),
        "patients_poor": int((per_patient == 1).sum()),
        "segments_well": int((labelled["label"] == 0).sum()),
        "segments_poor": int((labelled["label"] == 1).sum()),
        "problems": int(len(dataset.problems)),
    }
    if data["n_segments"] == 0:
        raise TrainingError(f"cohort {Path(cohort_dir).name!r} gave no labelled segments to train on")
    return dataset, data


def execute_run(
    run_dir: str | Path,
    dataset: Any,
    config: ExperimentConfig,
    *,
    progress: ProgressCallback | None = None,
    fail_after: int | None = None,
    backend: str = "local",
) -> dict[str, Any]:
    """:func:`_execute_run` while holding the run's claim and beating its heartbeat.

    Raises
    ------
    core.locks.LockBusy
        "run X is being trained by process N": another process trains this run; nothing
        is written.
    """
    from core.run_health import Heartbeat, claim

    with claim(run_dir), Heartbeat(run_dir):
        return _execute_run(
            run_dir, dataset, config, progress=progress, fail_after=fail_after, backend=backend
        )


def _execute_run(
    run_dir: str | Path,
    dataset: Any,
    config: ExperimentConfig,
    *,
    progress: ProgressCallback | None = None,
    fail_after: int | None = None,
    backend: str = "local",
) -> dict[str, Any]:
    """Train every fold of a run that is not done yet, saving each, then finish the run.

    Parameters
    ----------
    run_dir : path
        Folder made by :func:`core.runs.create_run` (or an earlier run being resumed).
    dataset : SegmentDataset
    config : ExperimentConfig
        Must hash to the manifest's ``config_hash``.
    progress : callable, optional
        Receives :class:`ProgressEvent`; every event also goes to ``progress.json``.
    fail_after : int, optional
        Raise after this many newly trained folds (tests of the failed/resume path).
    backend : {"local", "ray"}
        Folds one after another here, or as parallel Ray tasks (:mod:`core.backends`).

    Returns
    -------
    manifest : dict
        The final manifest (status "complete", or the run is marked "failed" /
        "cancelled" and the exception re-raised).
    """
    from core import runs
    from core.splits import make_folds

    run_dir = Path(run_dir)
    manifest = runs.claim_run(run_dir)
    if manifest["config_hash"] != config.hash():
        raise TrainingError(
            f"run {run_dir.name}: config hash {config.hash()} differs from {manifest['config_hash']}"
        )
    folds = make_folds(dataset.segments, config.split)
    done = set(manifest["folds_done"])
    todo = [f for f in folds if f.key not in done]
    already = float(manifest["timings"].get("seconds", 0.0))
    start = time.perf_counter()
    cache = FeatureCache()

    def emit(event: ProgressEvent) -> None:
        runs.write_progress(run_dir, {**asdict(event), "folds_done": len(done), "n_folds_total": len(folds)})
        if progress is not None:
            progress(event)

    if not manifest.get("weights"):
        # known before any fold finishes, so a cancelled or failed run still says it
        spec = get_backbone(config.model.backbone)
        if config.model.weights == "imagenet":  # online: fetch now; offline: fails fast, folds start random
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

    try:
        if backend == "ray":  # one Ray task per fold (core.backends.ray_backend), saved here as each ends
            from core.backends.ray_backend import train_into_run

            cache.seconds += train_into_run(run_dir, dataset, config, todo, emit=emit, done=done)
        for index, fold in enumerate([] if backend == "ray" else todo):
            if fail_after is not None and index >= fail_after:
                raise TrainingError(f"stopped on purpose after {fail_after} fold(s)")
            result = train_fold(
                dataset, fold, config, cache=cache, fold_index=index, n_folds=len(todo), progress=emit
            )
            runs.save_fold(run_dir, result)
            done.add(fold.key)
        timings = runs.read_manifest(run_dir)["timings"]
        timings["cache_seconds"] = timings.get("cache_seconds", 0.0) + cache.seconds
        runs.update_manifest(run_dir, timings=timings)
        return runs.finish_run(run_dir, status="complete", seconds=already + time.perf_counter() - start)
    except (RunCancelled, KeyboardInterrupt):
        runs.finish_run(
            run_dir,
            status="cancelled",
            error="cancelled by the user",
            seconds=already + time.perf_counter() - start,
        )
        raise
    except BaseException as exc:
        runs.finish_run(
            run_dir,
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            seconds=already + time.perf_counter() - start,
        )
        raise


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
    from core import runs
    from core.splits import make_folds

    config.validate()
    dataset, data = load_training_data(cohort_dir, config, cache_dir=cache_dir)
    folds = make_folds(dataset.segments, config.split)
    run_dir = runs.create_run(
        config.to_dict(),
        name=name,
        config_hash=config.hash(),
        data=data,
        folds=[f.key for f in folds],
        root=root,
    )
    execute_run(run_dir, dataset, config, progress=progress, fail_after=fail_after, backend=backend)
    return run_dir


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
    from core import runs
    from core.errors import RunError
    from core.run_health import claim

    run_dir = runs.find_run(run, root=root)
    with claim(run_dir):  # held from here to the end: a "running" manifest is a dead process's
        manifest = runs.read_manifest(run_dir)
        if manifest.get("status") == "complete":
            raise RunError(f"run {run_dir.name} is already complete")
        config = ExperimentConfig.from_dict(manifest["config"])
        from core.cohort import CohortSource

        source = CohortSource.from_run_data(manifest["data"])
        dataset, data = load_training_data(source, config, cache_dir=cache_dir)
        if data["fingerprint"] != manifest["data"]["fingerprint"]:
            raise RunError(
                f"run {run_dir.name}: the cohort at {data['cohort_dir']} changed since the run started "
                f"(fingerprint {data['fingerprint']} != {manifest['data']['fingerprint']})"
            )
        execute_run(run_dir, dataset, config, progress=progress, backend=backend)
    return run_dir


__all__ = [
    "FeatureCache",
    "FoldResult",
    "ProgressCallback",
    "ProgressEvent",
    "RunCancelled",
    "augment_images",
    "class_weights",
    "execute_run",
    "load_training_data",
    "resume_run",
    "start_run",
    "train_fold",
]
