"""The smallest real training config the run-store, locking and model-file tests train with."""

from __future__ import annotations

from core.config import ExperimentConfig, preset, with_overrides


def tiny_config(**overrides) -> ExperimentConfig:
    """Seed preset on a small CNN: 2 patient folds, one warm-up and one fine-tune epoch."""
    base = {
        "model.backbone": "small_cnn",
        "model.weights": "random",
        "split.n_folds": 2,
        "split.val_ratio": 0.25,
        "train.warmup_epochs": 1,
        "train.warmup_lr": 1e-3,
        "train.finetune_epochs": 1,
        "train.finetune_lr": 1e-3,
        "train.unfreeze_ratio": 0.5,
        "train.batch_size": 8,
    }
    return with_overrides(preset("seed"), {**base, **overrides})
