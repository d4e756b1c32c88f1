"""Preprocessing speed: our array path (cold and warm cache) against the study's PNG path.

Usage::

    python benchmarks/preprocess.py [--cohort DIR] [--reference-segments 60]

Without ``--cohort`` the demo cohort (``core.workspace.ensure_demo_cohort``, generated
once into ``./demo_cohort`` or ``$VOE_DEMO_DIR``) is used. Its pre-op /a/ recordings
are turned into all segment arrays three ways, in one process:

- ``cold_s``: ``build_dataset`` with an empty cache folder (reads, hashes, resamples,
  trims, cuts, computes every Mel/STFT matrix and image, writes the cache).
- ``warm_s``: the same call again with the cache populated (first call; ``warm_best_s``
  is the best of three).
- ``reference_s``: the study's way. Audio is loaded with ``librosa.load(sr=16000)``,
  trimmed and cut (timed on all recordings), then each segment's Mel and STFT are
  computed with per-segment librosa calls, drawn with matplotlib ``imshow`` on a 4x4 in
  figure at 120 dpi, saved to PNG in memory, decoded with ``cv2.imdecode``, turned grey,
  resized to 224x224 and tiled to 3 channels. The rendering is timed on a fixed random
  subset of segments (``reference_segments_timed``) and extrapolated per segment.

One-time process costs (importing librosa's lazily loaded modules) are paid before
timing and reported as ``warmup_s``. Progress lines come first; the last line printed
is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import cv2  # noqa: E402
import librosa  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import core.cohort.model as cohort_model  # noqa: E402
from core.audio import cut_segments, normalise, plan_windows, trim_region  # noqa: E402
from core.cohort import load_cohort  # noqa: E402
from core.config import PreprocessConfig, preset  # noqa: E402
from core.dataset import build_dataset  # noqa: E402
from core.spectrogram import db_matrix, to_grey_images  # noqa: E402

# The study's 64 mels on a 128-point FFT leave empty filters; librosa says so on every call.
warnings.filterwarnings("ignore", message="Empty filters detected", category=UserWarning)


def log(message: str) -> None:
    print(message, flush=True)


def demo_root(scratch: Path) -> Path:
    """The workspace demo cohort, or one generated under ``scratch`` without the workspace helper."""
    log("demo cohort: generating or reusing ...")
    try:
        from core.workspace import ensure_demo_cohort

        return ensure_demo_cohort()
    except ImportError:
        from core.demo import generate_cohort

        generate_cohort(scratch / "demo", patients=43, seed=0)
        return scratch / "demo"


def warm_up(config: PreprocessConfig) -> float:
    """Pay librosa's lazy imports and first-call costs on a synthetic signal."""
    started = time.perf_counter()
    y = np.sin(np.arange(22_050) / 10).astype(np.float32)
    y16 = librosa.resample(y, orig_sr=44_100, target_sr=16_000, res_type="soxr_hq")
    region = trim_region(y16, sr=16_000, config=config.trim)
    segments = cut_segments(y16, plan_windows(y16, region, sr=16_000, config=config.window))
    to_grey_images(
        db_matrix("mel", segments, sr=16_000, config=config.spectrogram), config=config.spectrogram
    )
    to_grey_images(
        db_matrix("stft", segments, sr=16_000, config=config.spectrogram), config=config.spectrogram
    )
    return time.perf_counter() - started


def reference_audio(
    cohort, recording_ids: list[str], config: PreprocessConfig
) -> tuple[float, list[np.ndarray]]:
    """Study's audio step for every recording: librosa.load, normalise, trim, cut."""
    started = time.perf_counter()
    cuts = []
    for rid in recording_ids:
        y, sr = librosa.load(cohort.audio_path(rid), sr=config.audio.sample_rate, mono=True)
        y = normalise(y)
        region = trim_region(y, sr=sr, config=config.trim)
        cuts.append(cut_segments(y, plan_windows(y, region, sr=sr, config=config.window)))
    return time.perf_counter() - started, cuts


def study_image(db: np.ndarray, size: int) -> np.ndarray:
    """Render one dB matrix the study's way and read it back as a 3-channel image."""
    fig = plt.figure(figsize=(4, 4), dpi=120)
    ax = fig.add_axes((0, 0, 1, 1))
    low, high = np.percentile(db, [5, 95])
    if high - low < 10:
        low, high = (low + high) / 2 - 5, (low + high) / 2 + 5
    ax.imshow(db, origin="lower", aspect="auto", vmin=low, vmax=high)
    ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    decoded = cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_COLOR)
    grey = cv2.cvtColor(decoded, cv2.COLOR_BGR2GRAY)
    resized = cv2.resize(grey, (size, size))
    return np.repeat(resized[..., None], 3, axis=-1)


def reference_segment(segment: np.ndarray, config: PreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Study's per-segment step: librosa Mel and STFT, each rendered to PNG and decoded."""
    spec, sr = config.spectrogram, config.audio.sample_rate
    mel = librosa.feature.melspectrogram(
        y=segment, sr=sr, n_fft=spec.n_fft, hop_length=spec.hop_length, n_mels=spec.n_mels
    )
    mel = librosa.power_to_db(mel, ref=1.0, top_db=spec.top_db)
    stft = np.abs(librosa.stft(segment, n_fft=spec.n_fft, hop_length=spec.hop_length, center=False)) ** 2
    stft = librosa.power_to_db(stft, ref=1.0, top_db=spec.top_db)
    return study_image(mel, spec.image_size), study_image(stft, spec.image_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cohort", type=Path, default=None, help="cohort folder (default: the demo cohort)")
    parser.add_argument(
        "--reference-segments", type=int, default=60, help="segments rendered the study's way"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the reference subset")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="voe-bench-"))
    try:
        run(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(args: argparse.Namespace, scratch: Path) -> None:
    config = preset("seed").preprocess
    root = args.cohort or demo_root(scratch)
    started = time.perf_counter()
    cohort = load_cohort(root)
    cohort_s = time.perf_counter() - started
    selected = cohort.recordings[
        cohort.recordings["phase"].isin(config.selection.phases)
        & cohort.recordings["vowel"].isin(config.selection.vowels)
    ]
    log(f"cohort loaded in {cohort_s:.2f} s: {len(selected)} pre-op /a/ recordings")

    warmup_s = warm_up(config)
    log(f"warm-up (lazy imports) {warmup_s:.2f} s")

    cache = scratch / "cache"
    cohort_model._DIGEST_CACHE.clear()  # cold includes hashing the audio files
    started = time.perf_counter()
    dataset = build_dataset(cohort, config, cache_dir=cache)
    cold_s = time.perf_counter() - started
    log(f"cold: {len(dataset)} segments in {cold_s:.3f} s")

    warm_times = []
    for _ in range(3):
        started = time.perf_counter()
        warm = build_dataset(cohort, config, cache_dir=cache)
        warm_times.append(time.perf_counter() - started)
    assert np.array_equal(warm.mel, dataset.mel) and np.array_equal(warm.stft_db, dataset.stft_db)
    log(f"warm: {warm_times[0]:.3f} s (best of 3 {min(warm_times):.3f} s)")

    started = time.perf_counter()
    materialised = (np.array(warm.mel), np.array(warm.stft))
    materialise_s = time.perf_counter() - started
    log(f"materialising writeable 3-channel copies would add {materialise_s:.3f} s")
    del materialised
    cache_mb = sum(f.stat().st_size for f in cache.rglob("*.npy")) / 2**20

    recording_ids = sorted(set(dataset.segments["recording_id"]), key=list(selected["recording_id"]).index)
    audio_s, cuts = reference_audio(cohort, recording_ids, config)
    log(f"reference audio step (librosa.load, trim, cut) {audio_s:.3f} s for {len(recording_ids)} recordings")
    segments = np.concatenate(cuts)
    rng = np.random.default_rng(args.seed)
    timed = min(args.reference_segments, len(segments))
    subset = rng.choice(len(segments), size=timed, replace=False)
    started = time.perf_counter()
    for i in subset:
        reference_segment(segments[i], config)
    per_segment_s = (time.perf_counter() - started) / timed
    reference_s = audio_s + per_segment_s * len(segments)
    log(
        f"reference: {per_segment_s * 1000:.1f} ms per segment x {len(segments)} + audio "
        f"= {reference_s:.2f} s"
    )

    result = {
        "cohort": "demo" if args.cohort is None else "custom",
        "recordings": len(recording_ids),
        "segments": len(dataset),
        "cold_s": round(cold_s, 3),
        "warm_s": round(warm_times[0], 3),
        "warm_best_s": round(min(warm_times), 3),
        "reference_s": round(reference_s, 2),
        "reference_audio_s": round(audio_s, 3),
        "reference_per_segment_ms": round(per_segment_s * 1000, 2),
        "reference_segments_timed": timed,
        "ratio": round(reference_s / cold_s, 1),
        "ratio_warm": round(reference_s / warm_times[0], 1),
        "warmup_s": round(warmup_s, 3),
        "cohort_load_s": round(cohort_s, 3),
        "materialise_3ch_s": round(materialise_s, 3),
        "cache_mb": round(cache_mb, 1),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
