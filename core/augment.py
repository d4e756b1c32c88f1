"""Spectrogram augmentation of a training batch: SpecAugment's time/frequency masks and mixup.

``train.spec_augment`` chooses it (:class:`core.config.TrainConfig`):

- ``"off"``: nothing (the study's training);
- ``"mask"``: SpecAugment (Park et al. 2019) on the images: ``train.masks`` time masks
  (bands of columns, each at most ``train.mask_time`` of the image width) and as many
  frequency masks (bands of rows, at most ``train.mask_freq`` of the height) per image,
  set to the image's floor (its lowest value, the quietest level it shows);
- ``"mask+mix"``: the masks, then mixup (Zhang et al. 2018) between pairs of the batch:
  images, labels and sample weights mixed with one weight λ ~ Beta(α, α) per pair,
  α = ``train.mixup_alpha``.

The two branches of a segment (Mel and STFT) share a time axis, so they get the same time
masks (the same moments hidden) and the same mixup partner and λ; their frequency axes
differ, so each branch draws its own frequency masks.

Random window crops are not offered: the windows are already crops. The voice preset cuts
the whole voiced region into 0.4 s windows every 0.2 s (up to 24 per recording), so the
model already sees every recording at many time offsets, each as its own example; a
crop inside a window would either shorten it (then resized, the ms axis is no longer
true) or shift it by less than the hop (what neighbouring windows already show). Time
masking gives the robustness to missing moments that crops aim at.

Every draw is stateless (``tf.random.stateless_*``) from the step's seed, which
:func:`core.training.train_fold` draws from the fold's seeded generator, so a run
repeats exactly given its seed.

What it costs: the input changes at every step, so the frozen backbone's features
cannot be cached per image (:class:`core.train_steps.FeatureCache`); training batches go
through the whole model, as brightness/contrast ``train.augment`` does. Evaluation
(validation, test) is never augmented and still reads the cache.
"""

from __future__ import annotations

from typing import Any

from core.config import TRAIN_CHOICES
from core.models.runtime import tensorflow

#: Values of ``train.spec_augment``.
SPEC_AUGMENT_MODES: tuple[str, ...] = TRAIN_CHOICES["spec_augment"]


def _seed(seed: Any, salt: int) -> Any:
    """An independent stateless seed [shape=(2,), int32] derived from ``seed``."""
    tf = tensorflow()
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int32), salt)


def band_mask(n: Any, size: int, *, max_width: int, count: int, seed: Any) -> Any:
    """``count`` random bands per row of ``n``: True where masked.

    Each band has a width drawn uniformly from 0..``max_width`` and a start drawn
    uniformly from the positions where it fits.

    Parameters
    ----------
    n : int or tf.Tensor
        Number of images.
    size : int
        Length of the masked axis (rows or columns).
    seed : tf.Tensor [shape=(2,), dtype=int32]

    Returns
    -------
    mask : tf.Tensor [shape=(n, size), dtype=bool]
    """
    tf = tensorflow()
    positions = tf.range(size)[None, :]
    mask = tf.zeros([n, size], tf.bool)
    max_width = max(0, min(int(max_width), size))
    for k in range(count):
        seeds = tf.random.experimental.stateless_split(_seed(seed, k), 2)
        width = tf.random.stateless_uniform([n, 1], seeds[0], 0, max_width + 1, dtype=tf.int32)
        start = tf.cast(
            tf.floor(tf.random.stateless_uniform([n, 1], seeds[1]) * tf.cast(size - width + 1, tf.float32)),
            tf.int32,
        )
        start = tf.minimum(start, size - width)
        mask = mask | ((positions >= start) & (positions < start + width))
    return mask


def apply_masks(images: Any, *, rows: Any, columns: Any) -> Any:
    """Set masked rows and columns of each image to that image's floor (its minimum).

    Parameters
    ----------
    images : tf.Tensor [shape=(n, H, W, C)]
    rows : tf.Tensor [shape=(n, H), dtype=bool]
        Frequency bands to mask (row 0 = highest frequency, as drawn).
    columns : tf.Tensor [shape=(n, W), dtype=bool]
        Time bands to mask.

    Returns
    -------
    masked : tf.Tensor [shape=(n, H, W, C), dtype=float32]
    """
    tf = tensorflow()
    x = tf.cast(images, tf.float32)
    floor = tf.reduce_min(x, axis=[1, 2, 3], keepdims=True)
    hidden = rows[:, :, None, None] | columns[:, None, :, None]
    return tf.where(hidden, floor, x)


def mixup(images: list[Any], y: Any, w: Any, *, alpha: float, seed: Any) -> tuple[list[Any], Any, Any]:
    """Mix every example with a random partner of the batch (the same partner and λ in every branch).

    Parameters
    ----------
    images : list of tf.Tensor [shape=(n, H, W, C)]
        One batch per branch, rows aligned.
    y, w : tf.Tensor [shape=(n,), dtype=float32]
        Labels and sample weights.
    alpha : float
        λ ~ Beta(α, α) per example.

    Returns
    -------
    images, y, w
        ``λ·a + (1 − λ)·a[partner]`` for each of them (images as float32).
    """
    tf = tensorflow()
    n = tf.shape(y)[0]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), 3)
    partner = tf.argsort(tf.random.stateless_uniform([n], seeds[0]))
    g1 = tf.random.stateless_gamma([n], seeds[1], alpha=alpha)
    g2 = tf.random.stateless_gamma([n], seeds[2], alpha=alpha)
    lam = g1 / tf.maximum(g1 + g2, 1e-12)

    def mix(a: Any) -> Any:
        a = tf.cast(a, tf.float32)
        shape = tf.concat([[n], tf.ones([tf.rank(a) - 1], tf.int32)], axis=0)
        weight = tf.reshape(lam, shape)
        return weight * a + (1.0 - weight) * tf.gather(a, partner)

    return [mix(x) for x in images], mix(y), mix(w)


def spec_augment(
    images: list[Any],
    y: Any,
    w: Any,
    *,
    mode: str,
    mask_time: float,
    mask_freq: float,
    masks: int,
    mixup_alpha: float,
    seed: Any,
) -> tuple[list[Any], Any, Any]:
    """Augment one training batch as ``mode`` says (see the module docstring); "off" returns the inputs.

    Parameters
    ----------
    images : list of tf.Tensor [shape=(n, S, S, 3)]
        One batch per branch (Mel, STFT), 0..255.
    y, w : tf.Tensor [shape=(n,), dtype=float32]
    mode : {"off", "mask", "mask+mix"}
    mask_time, mask_freq : float
        Widest mask as a share of the image's columns / rows.
    masks : int
        Time masks and frequency masks per image (each).
    mixup_alpha : float
    seed : tf.Tensor [shape=(2,), dtype=int32]
    """
    if mode == "off":
        return images, y, w
    tf = tensorflow()
    n = tf.shape(y)[0]
    height, width = int(images[0].shape[1]), int(images[0].shape[2])
    columns = band_mask(n, width, max_width=int(mask_time * width), count=masks, seed=_seed(seed, 101))
    out = []
    for i, x in enumerate(images):
        rows = band_mask(n, height, max_width=int(mask_freq * height), count=masks, seed=_seed(seed, 201 + i))
        out.append(apply_masks(x, rows=rows, columns=columns))
    if mode == "mask+mix":
        return mixup(out, y, w, alpha=mixup_alpha, seed=_seed(seed, 301))
    return out, y, w


__all__ = ["SPEC_AUGMENT_MODES", "apply_masks", "band_mask", "mixup", "spec_augment"]
