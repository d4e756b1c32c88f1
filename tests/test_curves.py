"""train.curves: "fast" predicts only validation per epoch; the model and its predictions stay the same."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import preset, with_overrides
from core.curves import epoch_points, rows_to_predict
from core.errors import ConfigError


def test_full_and_fast_points_on_real_arrays() -> None:
    y = np.array([0, 1, 0, 1, 0, 1, 1, 0], dtype=float)
    parts = {"train": np.array([0, 1, 2, 3]), "val": np.array([4, 5]), "test": np.array([6, 7])}
    assert rows_to_predict("full", parts).tolist() == list(range(8))
    assert rows_to_predict("fast", parts).tolist() == [4, 5]
    prob = np.array([0.1, 0.9, 0.4, 0.6, 0.2, 0.8, 0.3, 0.7])
    full = epoch_points("full", y, parts, prob, label_smoothing=0.0)
    assert full["train_auroc"] == 1.0 and full["val_acc"] == 1.0 and full["test_auroc"] == 0.0
    assert full["train_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.9, 0.6, 0.6])))
    order = np.array([3, 0, 2, 1])
    fast = epoch_points(
        "fast",
        y,
        parts,
        prob[4:6],
        label_smoothing=0.0,
        step_rows=order,
        step_prob=np.array([0.4, 0.3, 0.6, 0.7]),
    )
    assert fast["val_auroc"] == full["val_auroc"] and fast["val_loss"] == pytest.approx(full["val_loss"])
    assert fast["train_auroc"] == 0.75 and fast["train_acc"] == 0.5  # y[order] = 1, 0, 0, 1
    assert np.isnan(fast["test_auroc"]) and np.isnan(fast["test_loss"])
    with pytest.raises(ConfigError, match="train.curves"):
        rows_to_predict("slow", parts)
    with pytest.raises(ConfigError, match="train.curves"):
        with_overrides(preset("quick"), {"train.curves": "slow"})


def test_fast_curves_train_the_same_model_as_full_curves(synthetic_dataset) -> None:
    from core.config import SplitConfig
    from core.splits import make_folds
    from core.training import train_fold

    dataset = synthetic_dataset()
    base = {
        "model.backbone": "small_cnn",
        "model.weights": "random",
        "split.n_folds": 3,
        "split.val_ratio": 0.25,
        "train.warmup_epochs": 1,
        "train.warmup_lr": 1e-3,
        "train.finetune_epochs": 3,
        "train.finetune_lr": 1e-3,
        "train.unfreeze_ratio": 0.5,
        "train.batch_size": 8,
    }
    fold = make_folds(dataset.segments, SplitConfig(n_folds=3, val_ratio=0.25))[0]
    full = train_fold(dataset, fold, with_overrides(preset("seed"), base))
    fast = train_fold(dataset, fold, with_overrides(preset("seed"), {**base, "train.curves": "fast"}))
    assert full.best_epoch == fast.best_epoch
    np.testing.assert_allclose(fast.history["val_auroc"], full.history["val_auroc"], atol=1e-6)
    np.testing.assert_allclose(fast.history["loss"], full.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(fast.predictions["prob"], full.predictions["prob"], atol=1e-5)
    assert fast.history["test_auroc"].isna().all() and full.history["test_auroc"].notna().all()
    assert fast.history["train_auroc"].between(0, 1).all()


def test_the_caption_says_what_each_mode_drew() -> None:
    from core.curves import curves_caption

    assert "test parts" in curves_caption("full") and "not computed" not in curves_caption("full")
    fast = curves_caption("fast")
    assert "training steps" in fast and "test curves were not computed" in fast
    with pytest.raises(ConfigError, match="train.curves='slow'"):
        curves_caption("slow")
