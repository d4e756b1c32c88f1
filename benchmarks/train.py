"""Training speed: the study's plain loop versus the cached-prefix trainer, one fold.

Usage::

    python benchmarks/train.py [--cohort DIR] [--warmup 2] [--finetune 2] [--skip-reference] [--image-size N]

On the demo cohort (generated into the workspace when --cohort is not given), the seed
preset (EfficientNetB0; ImageNet weights when cached, random otherwise — the speed is
the same), fold r0f0, a few epochs of each stage:

(a) reference, written like the study's notebook: ``model.fit`` on the full images for
    one epoch, then ``model.predict`` on the full train, validation and test images;
(b) ours: :func:`core.training.train_fold` (prefix features cached once, per-epoch
    evaluation on cached features), with ``train.curves="full"`` and again with
    ``"fast"`` (only validation predicted per epoch): ``curves_fast_ratio`` is the
    full fine-tune epoch time over the fast one; and again with
    ``train.precision="bfloat16"`` (Keras mixed precision, its own feature cache):
    ``precision_bf16_ratio`` is the float32 fine-tune epoch time over the bfloat16 one
    (above 1: bfloat16 is faster). ``bf16_hardware`` says whether a GPU or the CPU's
    ``avx512_bf16``/``amx_bf16`` computed it, or "none" (TensorFlow emulates it: slower).

Projection of a full 5-fold seed-preset run: every fold runs all 20 + 60 epochs (early
stopping ignored, an upper bound); ours adds the one-time feature cache and the
measured per-fold fixed cost (model build, tracing, saving excluded). Progress lines go
to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def reference_epochs(dataset, fold, config, *, warmup: int, finetune: int) -> dict[str, list[float]]:
    """The notebook's loop: fit one epoch on full images, then predict train/val/test."""
    import keras

    from core.models.dual import build_model
    from core.training import class_weights

    y = dataset.segments["label"].to_numpy(dtype="float64", na_value=np.nan).astype(np.float32)
    model = build_model(
        config.model,
        image_size=dataset.mel.shape[1],
        unfreeze_ratio=config.train.unfreeze_ratio,
        backbone_seed=config.split.seed,
        head_seed=fold.seed,
    )
    net = model.keras_model
    weights = class_weights(y[fold.train], enabled=config.train.class_weight)
    times: dict[str, list[float]] = {"warmup": [], "finetune": []}
    loss = keras.losses.BinaryCrossentropy(label_smoothing=config.train.label_smoothing)
    for stage, epochs, lr in (
        ("warmup", warmup, config.train.warmup_lr),
        ("finetune", finetune, config.train.finetune_lr),
    ):
        model.set_stage(stage)
        net.compile(optimizer=keras.optimizers.Adam(lr), loss=loss)
        for epoch in range(epochs):
            tick = time.perf_counter()
            net.fit(
                [dataset.mel[fold.train], dataset.stft[fold.train]],
                y[fold.train],
                batch_size=config.train.batch_size,
                epochs=1,
                class_weight=weights,
                shuffle=True,
                verbose=0,
            )
            for rows in (fold.train, fold.val, fold.test):
                net.predict(
                    [dataset.mel[rows], dataset.stft[rows]], batch_size=config.train.batch_size, verbose=0
                )
            times[stage].append(time.perf_counter() - tick)
            log(f"reference {stage} epoch {epoch + 1}/{epochs}: {times[stage][-1]:.1f} s")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", help="cohort folder (default: the workspace demo cohort)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up epochs measured")
    parser.add_argument("--finetune", type=int, default=2, help="fine-tune epochs measured")
    parser.add_argument("--skip-reference", action="store_true", help="skip the notebook-style loop (a)")
    parser.add_argument(
        "--image-size",
        type=int,
        help="image side in pixels (default: the seed preset's 224; smaller is a quick look)",
    )
    args = parser.parse_args()

    from core.config import preset, with_overrides
    from core.models.runtime import tensorflow
    from core.precision import PrecisionWarning, bf16_hardware, gpu_count
    from core.splits import make_folds
    from core.train_steps import FeatureCache
    from core.training import train_fold
    from core.training_data import load_training_data
    from core.workspace import ensure_demo_cohort

    tensorflow()
    cohort = Path(args.cohort) if args.cohort else ensure_demo_cohort()
    full = preset("seed")
    config = with_overrides(
        full,
        {
            "train.warmup_epochs": args.warmup,
            "train.finetune_epochs": args.finetune,
            "train.patience": 10_000,
            **({"preprocess.spectrogram.image_size": args.image_size} if args.image_size else {}),
        },
    )
    started = time.perf_counter()
    dataset, data = load_training_data(cohort, config)
    log(
        f"dataset: {data['n_segments']} segments of {data['n_patients']} patients "
        f"({time.perf_counter() - started:.1f} s)"
    )
    fold = make_folds(dataset.segments, config.split)[0]

    cache = FeatureCache()
    tick = time.perf_counter()
    result = train_fold(
        dataset,
        fold,
        config,
        cache=cache,
        progress=lambda e: (
            e.kind == "epoch"
            and log(f"ours {e.stage} epoch {e.epoch}/{e.epochs}: {e.metrics['seconds']:.2f} s")
        ),
    )
    ours_total = time.perf_counter() - tick
    history = result.history
    ours = {
        stage: history.loc[history["stage"] == stage, "seconds"].tolist() for stage in ("warmup", "finetune")
    }
    fixed = ours_total - cache.seconds - history["seconds"].sum()
    log(f"ours: cache {cache.seconds:.1f} s once, fixed per fold {fixed:.1f} s")

    # train.curves="fast": the same fold again (cache reused), predicting only validation per epoch
    fast = train_fold(dataset, fold, with_overrides(config, {"train.curves": "fast"}), cache=cache).history
    fast_s = {stage: fast.loc[fast["stage"] == stage, "seconds"].tolist() for stage in ("warmup", "finetune")}
    # train.precision="bfloat16": the same fold in mixed precision (its features differ: a cache of its own)
    bf16_cache = FeatureCache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)  # reported below as bf16_hardware
        bf16 = train_fold(
            dataset, fold, with_overrides(config, {"train.precision": "bfloat16"}), cache=bf16_cache
        ).history
    bf16_s = {stage: bf16.loc[bf16["stage"] == stage, "seconds"].tolist() for stage in ("warmup", "finetune")}
    if args.skip_reference:
        reference = {stage: [float("nan")] for stage in ("warmup", "finetune")}
    else:
        reference = reference_epochs(dataset, fold, config, warmup=args.warmup, finetune=args.finetune)

    def per_stage(times: dict[str, list[float]]) -> dict[str, float]:
        # the first epoch of a stage pays tracing; use the later ones when there are any
        return {s: float(np.mean(t[1:] if len(t) > 1 else t)) for s, t in times.items()}

    ref_s, our_s, our_fast, our_bf16 = (
        per_stage(reference),
        per_stage(ours),
        per_stage(fast_s),
        per_stage(bf16_s),
    )
    w, f = full.train.warmup_epochs, full.train.finetune_epochs
    folds = full.split.n_folds
    reference_epoch = (w * ref_s["warmup"] + f * ref_s["finetune"]) / (w + f)
    ours_epoch = (w * our_s["warmup"] + f * our_s["finetune"]) / (w + f)
    projected_ours = cache.seconds + folds * (fixed + (w + f) * ours_epoch)
    projected_reference = folds * (w + f) * reference_epoch
    report = {
        "device": "gpu" if gpu_count() else "cpu",
        "backbone": config.model.backbone,
        "weights": result.model.info.weights,
        "image_size": config.preprocess.spectrogram.image_size,
        "segments": data["n_segments"],
        "fold_sizes": {"train": len(fold.train), "val": len(fold.val), "test": len(fold.test)},
        "reference_warmup_epoch_s": round(ref_s["warmup"], 3),
        "reference_finetune_epoch_s": round(ref_s["finetune"], 3),
        "ours_warmup_epoch_s": round(our_s["warmup"], 3),
        "ours_finetune_epoch_s": round(our_s["finetune"], 3),
        "ours_cache_s": round(cache.seconds, 2),
        "ours_fixed_per_fold_s": round(fixed, 2),
        "reference_epoch_s": round(reference_epoch, 3),
        "ours_epoch_s": round(ours_epoch, 3),
        "ratio": round(reference_epoch / ours_epoch, 2),
        "curves_fast_finetune_epoch_s": round(our_fast["finetune"], 3),
        "curves_fast_ratio": round(our_s["finetune"] / our_fast["finetune"], 2),
        "precision_bf16_warmup_epoch_s": round(our_bf16["warmup"], 3),
        "precision_bf16_finetune_epoch_s": round(our_bf16["finetune"], 3),
        "precision_bf16_cache_s": round(bf16_cache.seconds, 2),
        "precision_bf16_ratio": round(our_s["finetune"] / our_bf16["finetune"], 2),
        "bf16_hardware": bf16_hardware() or "none (emulated)",
        "projected_full_cv_s": round(projected_ours, 1),
        "projected_reference_full_cv_s": round(projected_reference, 1),
        "projected_ratio": round(projected_reference / projected_ours, 2),
        "projection": f"{folds} folds x ({w} warm-up + {f} fine-tune) epochs, early stopping ignored",
    }
    print(json.dumps({k: None if isinstance(v, float) and np.isnan(v) else v for k, v in report.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
