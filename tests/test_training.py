"""Two-stage fold training: cached == uncached, early stopping, best epoch, progress, augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow  # noqa: F401  (a hard requirement: imported plainly, never skipped)

from core.config import SplitConfig, preset, with_overrides
from core.errors import TrainingError
from core.splits import make_folds  # noqa: E402
from core.train_steps import FeatureCache, augment_images  # noqa: E402
from core.training import class_weights, train_fold  # noqa: E402


def tiny_config(**overrides):
    base = {
        "model.backbone": "small_cnn",
        "model.weights": "random",
        "split.n_folds": 3,
        "split.val_ratio": 0.25,
        "train.warmup_epochs": 1,
        "train.warmup_lr": 1e-3,
        "train.finetune_epochs": 2,
        "train.finetune_lr": 1e-3,
        "train.unfreeze_ratio": 0.5,
        "train.batch_size": 8,
    }
    return with_overrides(preset("seed"), {**base, **overrides})


def test_class_weights_are_pos_over_neg_for_class_zero() -> None:
    labels = np.array([1, 1, 1, 0, 0, 1])
    assert class_weights(labels) == {0: 2.0, 1: 1.0}
    assert class_weights(labels, enabled=False) == {0: 1.0, 1: 1.0}
    with pytest.raises(TrainingError, match="both classes"):
        class_weights(np.ones(4))


def test_cached_training_equals_uncached_training(synthetic_dataset) -> None:
    dataset = synthetic_dataset()
    config = tiny_config()
    fold = make_folds(dataset.segments, config.split)[0]
    cached = train_fold(dataset, fold, config, cache=FeatureCache())
    uncached = train_fold(dataset, fold, config, cache=FeatureCache(), force_uncached=True)
    assert cached.cached and not uncached.cached
    np.testing.assert_allclose(cached.predictions["prob"], uncached.predictions["prob"], atol=1e-4)
    np.testing.assert_allclose(cached.history["val_auroc"], uncached.history["val_auroc"], atol=1e-4)
    direct = cached.model.predict(dataset.mel[fold.test], dataset.stft[fold.test])
    test_rows = cached.predictions["part"] == "test"
    np.testing.assert_allclose(cached.predictions.loc[test_rows, "prob"], direct, atol=1e-4)


def test_fold_learns_a_visible_band_and_reports_the_best_epoch(synthetic_dataset) -> None:
    dataset = synthetic_dataset(patients=12, per_patient=4, strength=90)
    config = tiny_config(**{"train.finetune_epochs": 4})
    fold = make_folds(dataset.segments, config.split)[1]
    events = []
    result = train_fold(dataset, fold, config, progress=events.append)
    history = result.history
    assert list(history["stage"]) == ["warmup"] + ["finetune"] * 4
    assert result.best_epoch == int(history.loc[history["val_auroc"].idxmax(), "epoch"])
    parts = result.predictions["part"].value_counts()
    assert (
        parts["test"] == len(fold.test)
        and parts["val"] == len(fold.val)
        and parts["train"] == len(fold.train)
    )
    test = result.metrics[(result.metrics["level"] == "segment") & (result.metrics["part"] == "test")].iloc[0]
    assert test["auroc"] > 0.8
    kinds = [e.kind for e in events]
    assert kinds[0] == "cache" and kinds[1] == "fold_start" and kinds[-1] == "fold_end"
    assert sum(k == "epoch" for k in kinds) == 5
    assert events[-1].metrics["best_epoch"] == result.best_epoch


def test_early_stopping_ends_a_stage_without_improvement(synthetic_dataset) -> None:
    dataset = synthetic_dataset(patients=8, per_patient=2)
    config = tiny_config(
        **{
            "train.warmup_lr": 0.0,
            "train.finetune_lr": 0.0,
            "train.warmup_epochs": 6,
            "train.finetune_epochs": 6,
            "train.patience": 2,
            "split.n_folds": 2,
        }
    )
    fold = make_folds(dataset.segments, config.split)[0]
    result = train_fold(dataset, fold, config)
    assert result.history["stage"].value_counts().to_dict() == {"warmup": 3, "finetune": 3}
    assert result.best_epoch == 1


def test_feature_cache_is_reused_across_folds_with_the_same_backbone(synthetic_dataset) -> None:
    dataset = synthetic_dataset(patients=8, per_patient=2)
    config = tiny_config(**{"split.n_folds": 2, "train.finetune_epochs": 1})
    cache = FeatureCache()
    events = []
    for fold in make_folds(dataset.segments, config.split):
        train_fold(dataset, fold, config, cache=cache, progress=events.append)
    assert [e.kind for e in events].count("cache") == 1


def test_augmentation_stays_in_range_is_seeded_and_forces_uncached(synthetic_dataset) -> None:
    import tensorflow as tf

    x = tf.constant(np.full((4, 8, 8, 3), 128, np.uint8))
    seed = tf.constant([3, 0], tf.int32)
    a = augment_images(x, brightness=0.08, contrast_low=0.9, contrast_high=1.1, seed=seed).numpy()
    b = augment_images(x, brightness=0.08, contrast_low=0.9, contrast_high=1.1, seed=seed).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 255 and np.abs(a - 128).max() <= 0.08 * 255 + 1e-3
    assert np.unique(a[:, 0, 0, 0]).size > 1
    dataset = synthetic_dataset(patients=8, per_patient=2)
    config = tiny_config(**{"split.n_folds": 2, "train.finetune_epochs": 1, "train.augment": True})
    result = train_fold(dataset, make_folds(dataset.segments, config.split)[0], config)
    assert not result.cached


@pytest.mark.slow
def test_leaky_fold_trains_too(synthetic_dataset) -> None:
    dataset = synthetic_dataset(patients=8, per_patient=3)
    config = tiny_config(**{"split.n_folds": 2, "train.finetune_epochs": 1})
    fold = make_folds(dataset.segments, SplitConfig(kind="segment_leaky", n_folds=2, val_ratio=0.25))[0]
    result = train_fold(dataset, fold, config)
    assert result.fold.leaky and len(result.predictions) == len(dataset)


def test_predictions_carry_the_vowel_and_patients_aggregate_over_all_vowels(synthetic_dataset) -> None:
    from core.metrics import aggregate_patients

    dataset = synthetic_dataset(patients=8, per_patient=4)
    dataset.segments["vowel"] = np.tile(["A", "I", "U", "E"], 8)
    config = tiny_config(**{"split.n_folds": 2, "train.finetune_epochs": 1})
    result = train_fold(dataset, make_folds(dataset.segments, config.split)[0], config)
    predictions = result.predictions
    expected = dataset.segments.set_index("segment_id").loc[predictions["segment_id"], "vowel"]
    np.testing.assert_array_equal(predictions["vowel"].to_numpy(), expected.to_numpy())
    patients = aggregate_patients(predictions)
    assert (patients["n_segments"] == 4).all() and set(predictions["vowel"]) == {"A", "I", "U", "E"}
    first = patients.iloc[0]
    mine = predictions[
        (predictions["patient_id"] == first["patient_id"]) & (predictions["part"] == first["part"])
    ]
    assert np.isclose(first["prob"], mine["prob"].mean())
