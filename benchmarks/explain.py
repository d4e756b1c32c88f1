"""Explainer speed on the demo run: Grad-CAM, batched vs one-at-a-time occlusion, masking.

Usage::

    python benchmarks/explain.py [--run RUN] [--runs-dir DIR] [--no-efficientnet]

The model is fold 0 of ``--run`` or, without it, of the newest complete "quick"-preset
run in the run store; when there is none, a demo run is trained first on the demo
cohort (``python -m core train --preset quick`` in-process, a few minutes). Its test
segments are the data. Timed, after one warm-up call of each path (tracing):

- ``gradcam_ms``: median of ``--repeats`` Grad-CAM calls on one segment pair, both
  branches (forward through the backbone, head gradient, upsampled heatmaps);
- ``occlusion_s``: median time of all 2 × (10 + 10) occlusions of one segment, batched:
  the 40 occluded images and the intact pair go through the shared backbone in ONE call
  (42 images) and the head recombines each variant with the intact other branch;
- ``occlusion_unbatched_s``: the same 40 occluded pairs, one forward call each through
  Keras' ``model.predict([mel, stft])`` of the end-to-end model (a full pair through the
  backbone per call, 80 images; the naive loop, as in the study's notebook);
- ``batching_ratio`` = unbatched / batched;
- ``occlusion_unbatched_compiled_s`` / ``batching_ratio_compiled``: the one-call-per-pair
  loop through our own compiled backbone function instead, i.e. the gain of batching
  alone, without the model API's per-call overhead;
- ``masking_s``: branch masking of the fold's test segments (both branches).

The same figures for an EfficientNetB0 staged model of the study's shape (224 px, random
weights unless ImageNet weights are cached) are under ``"efficientnetb0"``. TensorFlow
uses ``--threads`` intra-op threads (2, the target machine). Progress lines first; the
last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGETS = {"gradcam_ms": 250.0, "occlusion_s": 1.5, "batching_ratio": 5.0}


def log(message: str) -> None:
    print(message, flush=True)


def median_time(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def find_or_train_run(args: argparse.Namespace) -> Path:
    from core import runs

    if args.run:
        return runs.find_run(args.run, root=args.runs_dir)
    table = runs.list_runs(args.runs_dir)
    quick = (
        table[(table["status"] == "complete") & (table["preset"] == "quick")] if not table.empty else table
    )
    if not quick.empty:
        return Path(quick.iloc[0]["run_dir"])
    from core.config import preset
    from core.run_lifecycle import start_run
    from core.workspace import ensure_demo_cohort

    log("no complete quick run found: training a demo run (quick preset) first")
    cohort = ensure_demo_cohort()
    return start_run(
        cohort,
        preset("quick"),
        name="demo",
        root=args.runs_dir,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
    )


def occluded_variants(image: np.ndarray, masks: np.ndarray, fill: float) -> np.ndarray:
    """Every band- and chunk-occluded copy of one image [shape=(K, S, S, 3), float32], one per mask."""
    return np.asarray(image, dtype=np.float32)[None] * (1.0 - masks) + np.float32(fill) * masks


def measure(model: Any, mel: np.ndarray, stft: np.ndarray, *, repeats: int) -> dict[str, Any]:
    """Timings on one model; ``mel``/``stft`` are the fold's test images, segment 0 is timed."""
    from core.explain import GradCam, branch_masking
    from core.explain.occlusion import occlusion_masks, occlusion_probabilities
    from core.explain.staged import runner_for

    runner = runner_for(model, batch_size=64)
    one_mel, one_stft = np.asarray(mel[:1]), np.asarray(stft[:1])
    gradcam = GradCam()
    for _ in range(2):
        gradcam.explain(model, one_mel, one_stft)
    gradcam_s = median_time(lambda: gradcam.explain(model, one_mel, one_stft), repeats)
    log(f"  grad-cam (both branches): {gradcam_s * 1000:.0f} ms")

    occlusion_probabilities(runner, one_mel, one_stft)
    occlusion_s = median_time(
        lambda: occlusion_probabilities(runner, one_mel, one_stft), max(3, repeats // 2)
    )
    log(f"  occlusion, 40 variants in one call: {occlusion_s:.3f} s")

    def one_call_each(forward: Any) -> Any:
        def run() -> np.ndarray:
            out = []
            for b, images in (("mel", one_mel), ("stft", one_stft)):
                for variant in occluded_variants(
                    images[0], occlusion_masks(images.shape[1]), float(images.mean())
                ):
                    pair = {"mel": one_mel, "stft": one_stft, b: variant[None]}
                    out.append(forward(pair["mel"], pair["stft"]))
            return np.concatenate(out)

        return run

    # The naive way: Keras' predict of the end-to-end model, once per occluded pair (as the
    # study's notebook did); a staged test model without a Keras model uses the runner.
    keras_model = getattr(model, "keras_model", None)
    if keras_model is not None:

        def keras_predict(mel_pair: np.ndarray, stft_pair: np.ndarray) -> np.ndarray:
            inputs = [x for b, x in (("mel", mel_pair), ("stft", stft_pair)) if b in model.branches]
            return keras_model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0).reshape(-1)

        naive = keras_predict
    else:
        naive = runner.predict
    unbatched = one_call_each(naive)
    # The same, but each call through our compiled backbone function (pure batching gain).
    unbatched_compiled = one_call_each(runner.predict)
    batched_prob = occlusion_probabilities(runner, one_mel, one_stft)[1]
    batched_flat = np.concatenate([batched_prob["mel"][0], batched_prob["stft"][0]])
    agree = float(
        max(np.abs(batched_flat - unbatched()).max(), np.abs(batched_flat - unbatched_compiled()).max())
    )
    unbatched_s = median_time(unbatched, 3)
    compiled_s = median_time(unbatched_compiled, 3)
    log(
        f"  occlusion, 40 calls of Keras predict: {unbatched_s:.3f} s; "
        f"40 compiled single calls: {compiled_s:.3f} s "
        f"(max |Δp| vs batched {agree:.1e})"
    )

    branch_masking(runner, mel[:2], stft[:2])
    masking_s = median_time(lambda: branch_masking(runner, mel, stft), 3)
    log(f"  masking of {mel.shape[0]} test segments: {masking_s:.3f} s")
    result = {
        "gradcam_ms": round(gradcam_s * 1000, 1),
        "occlusion_s": round(occlusion_s, 4),
        "occlusion_unbatched_s": round(unbatched_s, 4),
        "batching_ratio": round(unbatched_s / occlusion_s, 2),
        "occlusion_unbatched_compiled_s": round(compiled_s, 4),
        "batching_ratio_compiled": round(compiled_s / occlusion_s, 2),
        "masking_s": round(masking_s, 3),
        "masking_segments": int(mel.shape[0]),
        "occlusion_backbone_images": 2 + 40,
        "occlusion_unbatched_backbone_images": 2 * 40,
        "batched_vs_unbatched_max_abs_diff": agree,
        "image_size": int(mel.shape[1]),
    }
    result["meets_targets"] = {
        "gradcam_ms": result["gradcam_ms"] <= TARGETS["gradcam_ms"],
        "occlusion_s": result["occlusion_s"] <= TARGETS["occlusion_s"],
        "batching_ratio": result["batching_ratio"] >= TARGETS["batching_ratio"],
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--run", help="run id, folder or name (default: newest complete quick run, else train one)"
    )
    parser.add_argument("--runs-dir", help="run store (default: $VOE_RUNS_DIR or ./runs)")
    parser.add_argument("--cache-dir", help="array cache (default: $VOE_CACHE_DIR or ./.cache/voe)")
    parser.add_argument("--repeats", type=int, default=10, help="timed repeats of Grad-CAM (default 10)")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads (default 2)")
    parser.add_argument("--no-efficientnet", action="store_true", help="skip the EfficientNetB0 model")
    args = parser.parse_args(argv)
    os.environ["VOE_TF_THREADS"] = str(args.threads)

    from core.models.runtime import tensorflow

    tensorflow()
    from core.explain.fold import load_fold
    from core.run import load_run
    from core.runs import read_manifest

    run_dir = find_or_train_run(args)
    log(f"run: {run_dir.name}")
    data = load_fold(load_run(run_dir), 0, cache_dir=Path(args.cache_dir) if args.cache_dir else None)
    ids = data.predictions["segment_id"].to_numpy(dtype=int)
    mel, stft = np.asarray(data.mel[ids]), np.asarray(data.stft[ids])
    info = data.model.info
    preset_name = read_manifest(run_dir).get("preset", "")
    log(f"fold {data.fold_key}: {info.backbone}, {len(ids)} test segments, {mel.shape[1]} px")
    result: dict[str, Any] = {
        "model": f"demo run {run_dir.name} fold {data.fold_key}: {info.backbone} trained with preset "
        f"{preset_name!r} ({info.weights} init), feature map {list(info.feature_shape)}",
        "threads": args.threads,
        **measure(data.model, mel, stft, repeats=args.repeats),
    }
    if not args.no_efficientnet:
        from core.config import ModelConfig
        from core.models.dual import build_model

        log("efficientnetb0 staged model (study shape)")
        b0 = build_model(ModelConfig(backbone="efficientnetb0"), image_size=mel.shape[1], unfreeze_ratio=0.2)
        result["efficientnetb0"] = {
            "model": f"EfficientNetB0 dual model, {b0.info.weights} weights"
            + (f" ({b0.info.weights_reason})" if b0.info.weights_reason else "")
            + f", untrained head, feature map {list(b0.info.feature_shape)}",
            **measure(b0, mel, stft, repeats=args.repeats),
        }
    result["targets"] = TARGETS
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
