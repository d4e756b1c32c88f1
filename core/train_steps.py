"""What one training step of a fold needs: cached backbone features, augmentation, compiled steps.

:class:`FeatureCache` holds the frozen prefix's output (and the pooled warm-up features)
of every segment per backbone state; :class:`FoldSteps` compiles a stage's train step and
evaluates on the cached features; :func:`augment_images` (brightness/contrast) and
:func:`core.augment.spec_augment` (masks, mixup) are the input augmentation of the
uncached path. :func:`core.training.train_fold` drives them (see its module docstring
for why the cache makes training fast).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from core.augment import spec_augment
from core.config import ExperimentConfig
from core.models.dual import DualModel
from core.models.runtime import tensorflow


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


class FoldSteps:
    """Train steps and cached evaluation of one fold."""

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
        prepare: Callable[[list[Any], Any, Any], tuple[list[Any], Any, Any]] | None = None,
    ) -> Any:
        """A compiled train step; ``specs`` give the inputs' shapes with a free batch size.

        The signature is fixed up front, so the short last batch of an epoch does not
        trace the step a second time. ``prepare(inputs, y, w)`` (augmentation that may
        change labels and weights, :mod:`core.augment`) runs first when given.
        """
        tf = self.tf
        optimizer = self.keras.optimizers.Adam(learning_rate=lr)
        optimizer.build(variables)
        vector = tf.TensorSpec((None,), tf.float32)

        @tf.function(input_signature=[specs, vector, vector], autograph=False)
        def step(inputs: list[Any], y: Any, w: Any) -> Any:
            if prepare is not None:
                inputs, y, w = prepare(inputs, y, w)
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

        def prepare(inputs: list[Any], y: Any, w: Any) -> tuple[list[Any], Any, Any]:
            seed = inputs[-1]
            images = list(inputs[:-1])
            if train.augment:
                images = [
                    augment_images(
                        x,
                        brightness=train.brightness,
                        contrast_low=train.contrast_low,
                        contrast_high=train.contrast_high,
                        seed=seed + i,
                    )
                    for i, x in enumerate(images)
                ]
            images, y, w = spec_augment(
                images,
                y,
                w,
                mode=train.spec_augment,
                mask_time=train.mask_time,
                mask_freq=train.mask_freq,
                masks=train.masks,
                mixup_alpha=train.mixup_alpha,
                seed=seed + 7919,  # apart from the brightness/contrast seeds (seed + branch)
            )
            return [*images, seed], y, w

        def forward(inputs: list[Any]) -> Any:
            maps = [model.tail(model.prefix(x)) for x in inputs[:-1]]
            return model.head(*maps, training=True)

        first = self.images[branches[0]]
        image_spec = spec(first.shape[1:], tf.as_dtype(first.dtype))
        specs = [image_spec] * len(branches) + [tf.TensorSpec((2,), tf.int32)]
        step = self._step(forward, variables, model.head_model, lr, specs, prepare)
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


__all__ = ["FeatureCache", "FoldSteps", "augment_images"]
