"""Spectrogram augmentation (core.augment): masks hide exactly their bands, mixup mixes labels convexly,
training with it runs and differs, "off" leaves training as it was."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from core.augment import apply_masks, band_mask, mixup, spec_augment
from core.config import ExperimentConfig
from core.errors import ConfigError
from core.splits import make_folds
from core.training import train_fold
from tests.test_training import tiny_config


def images(n: int = 6, size: int = 32, seed: int = 0) -> np.ndarray:
    """Random grey 0..255 images tiled to 3 channels, floor 7 (never masked by chance: values >= 7)."""
    rng = np.random.default_rng(seed)
    grey = rng.integers(8, 256, (n, size, size)).astype(np.uint8)
    grey[:, 0, 0] = 7
    return np.repeat(grey[..., None], 3, axis=3)


def masked_bands(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of each image that ``after`` holds entirely at the image's floor."""
    floor = before.min(axis=(1, 2, 3))[:, None, None]
    at_floor = after[..., 0] == floor
    return at_floor.all(axis=2), at_floor.all(axis=1)


def test_masks_set_exactly_the_chosen_bands_to_the_floor() -> None:
    x = images()
    rows = np.zeros((6, 32), bool)
    cols = np.zeros((6, 32), bool)
    rows[0, 3:9] = True
    cols[0, 20:25] = True
    cols[1, 0:4] = True
    out = apply_masks(tf.constant(x), rows=tf.constant(rows), columns=tf.constant(cols)).numpy()
    hidden = rows[:, :, None] | cols[:, None, :]
    np.testing.assert_array_equal(out[..., 0][hidden], 7.0)
    np.testing.assert_array_equal(out[..., 0][~hidden], x[..., 0][~hidden].astype(np.float32))
    assert (out[2:] == x[2:]).all()


def test_spec_augment_masks_are_bands_shared_in_time_and_seeded() -> None:
    mel, stft = images(seed=1), images(seed=2)
    y = tf.constant(np.array([0, 1, 0, 1, 1, 0], np.float32))
    kwargs = dict(mode="mask", mask_time=0.25, mask_freq=0.2, masks=1, mixup_alpha=0.2)
    seed = tf.constant([5, 0], tf.int32)
    (a_mel, a_stft), ay, aw = spec_augment([tf.constant(mel), tf.constant(stft)], y, y, seed=seed, **kwargs)
    (b_mel, _), _, _ = spec_augment([tf.constant(mel), tf.constant(stft)], y, y, seed=seed, **kwargs)
    np.testing.assert_array_equal(a_mel.numpy(), b_mel.numpy())
    np.testing.assert_array_equal(ay.numpy(), y.numpy())  # masks leave labels alone
    masks = []
    for before, after in ((mel, a_mel.numpy()), (stft, a_stft.numpy())):
        rows, cols = masked_bands(before, after)
        hidden = rows[:, :, None] | cols[:, None, :]
        np.testing.assert_array_equal(after[..., 0][~hidden], before[..., 0][~hidden])
        for band, limit in ((rows, int(0.2 * 32)), (cols, int(0.25 * 32))):
            for line in band:
                where = np.flatnonzero(line)
                assert len(where) <= limit
                assert len(where) == 0 or where[-1] - where[0] + 1 == len(where)  # one contiguous band
        masks.append((rows, cols))
    np.testing.assert_array_equal(masks[0][1], masks[1][1])  # the same moments hidden in both branches
    assert masks[0][1].any() and masks[0][0].any()
    (c_mel, _), _, _ = spec_augment(
        [tf.constant(mel), tf.constant(stft)], y, y, seed=tf.constant([6, 0], tf.int32), **kwargs
    )
    assert not np.array_equal(c_mel.numpy(), a_mel.numpy())


def test_band_mask_widths_stay_within_the_limit_and_use_it() -> None:
    mask = band_mask(2000, 64, max_width=9, count=1, seed=tf.constant([1, 2], tf.int32)).numpy()
    widths = mask.sum(axis=1)
    assert widths.max() == 9 and widths.min() == 0
    assert set(np.unique(widths)) == set(range(10))


def test_mixup_mixes_images_labels_and_weights_with_one_lambda_per_pair() -> None:
    n = 8
    base = np.arange(n, dtype=np.float32) * 10 + 5
    mel = np.broadcast_to(base[:, None, None, None], (n, 4, 4, 3)).copy()
    other = base**2 / 100  # strictly convex in base: chords from one example meet only there, one (j, λ) fits
    stft = np.broadcast_to(other[:, None, None, None], (n, 4, 4, 3)).copy()
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1], np.float32)
    w = np.array([0.5, 1, 1, 0.5, 1, 0.5, 0.5, 1], np.float32)
    (m_mel, m_stft), my, mw = mixup(
        [tf.constant(mel), tf.constant(stft)],
        tf.constant(y),
        tf.constant(w),
        alpha=0.4,
        seed=tf.constant([9, 1], tf.int32),
    )
    m_mel, m_stft, my, mw = m_mel.numpy(), m_stft.numpy(), my.numpy(), mw.numpy()
    mixed = 0
    for i in range(n):
        value = m_mel[i, 0, 0, 0]
        found = False
        for j in range(n):
            lam = 1.0 if j == i else (value - base[j]) / (base[i] - base[j])
            if not -1e-5 <= lam <= 1 + 1e-5 or not np.isclose(value, lam * base[i] + (1 - lam) * base[j]):
                continue
            if np.isclose(m_stft[i, 0, 0, 0], lam * other[i] + (1 - lam) * other[j], atol=1e-3):
                assert np.isclose(my[i], lam * y[i] + (1 - lam) * y[j], atol=1e-5)
                assert np.isclose(mw[i], lam * w[i] + (1 - lam) * w[j], atol=1e-5)
                found = True
                mixed += int(j != i and 0.01 < lam < 0.99)
                break
        assert found, f"example {i} is not a convex mix of two examples"
        assert (m_mel[i] == m_mel[i, 0, 0, 0]).all()  # one λ over the whole image
    assert 0 <= my.min() and my.max() <= 1 and mixed >= 3


def test_off_returns_the_batch_untouched() -> None:
    x = tf.constant(images(n=3))
    y = tf.constant([0.0, 1.0, 1.0])
    out, oy, ow = spec_augment(
        [x],
        y,
        y,
        mode="off",
        mask_time=0.2,
        mask_freq=0.2,
        masks=1,
        mixup_alpha=0.2,
        seed=tf.constant([0, 0]),
    )
    assert out[0] is x and oy is y and ow is y


def test_config_validates_the_new_fields_and_old_configs_mean_off() -> None:
    with pytest.raises(ConfigError, match="spec_augment"):
        tiny_config(**{"train.spec_augment": "crop"})
    with pytest.raises(ConfigError, match="mask_time"):
        tiny_config(**{"train.mask_time": 1.5})
    with pytest.raises(ConfigError, match="mixup_alpha"):
        tiny_config(**{"train.mixup_alpha": 0})
    data = tiny_config().to_dict()
    for key in ("spec_augment", "mask_time", "mask_freq", "masks", "mixup_alpha"):
        data["train"].pop(key)
    assert ExperimentConfig.from_dict(data) == tiny_config()  # a manifest from before the field: off


@pytest.mark.slow
def test_training_with_masks_and_mixup_is_finite_seeded_and_differs_from_off(synthetic_dataset) -> None:
    dataset = synthetic_dataset(patients=8, per_patient=3)
    common = {"split.n_folds": 2, "train.finetune_epochs": 2, "train.warmup_epochs": 0}
    fold = make_folds(dataset.segments, tiny_config(**common).split)[0]
    off = train_fold(dataset, fold, tiny_config(**common))
    off_uncached = train_fold(dataset, fold, tiny_config(**common), force_uncached=True)
    np.testing.assert_allclose(off.predictions["prob"], off_uncached.predictions["prob"], atol=1e-4)
    inert = train_fold(
        dataset, fold, tiny_config(**common, **{"train.mask_time": 0.5, "train.mixup_alpha": 1.0})
    )
    np.testing.assert_array_equal(inert.predictions["prob"], off.predictions["prob"])  # off: settings unused
    runs = {}
    for mode in ("mask", "mask+mix"):
        config = tiny_config(**common, **{"train.spec_augment": mode, "train.mask_time": 0.3})
        first = train_fold(dataset, fold, config)
        again = train_fold(dataset, fold, config)
        assert not first.cached and np.isfinite(first.history["loss"]).all()
        np.testing.assert_array_equal(first.predictions["prob"], again.predictions["prob"])  # seeded
        assert np.abs(first.predictions["prob"].to_numpy() - off.predictions["prob"].to_numpy()).max() > 1e-4
        weights = [w.numpy() for w in first.model.head_model.trainable_variables]
        reference = [w.numpy() for w in off.model.head_model.trainable_variables]
        assert any(not np.allclose(a, b) for a, b in zip(weights, reference, strict=True))
        runs[mode] = first.predictions["prob"].to_numpy()
    assert not np.allclose(runs["mask"], runs["mask+mix"])
