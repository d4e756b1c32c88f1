"""Loading, trimming and sliding windows (core.audio) on synthetic and real recordings."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from core.audio import (
    cut_recording,
    cut_segments,
    load_audio,
    normalise,
    plan_windows,
    trim_region,
    window_config_from_overlap,
    window_lengths,
)
from core.config import AudioConfig, TrimConfig, WindowConfig, preset
from core.errors import AudioError

SR = 16_000


def vowel(duration_s: float, *, sr: int = SR, f0: float = 150.0, seed: int = 0) -> np.ndarray:
    """A harmonic tone with a little noise, peak 0.5."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(duration_s * sr)) / sr
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) + 0.01 * rng.standard_normal(t.size)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def with_silence(
    y: np.ndarray, *, lead_s: float, tail_s: float, sr: int = SR, level: float = 1e-4
) -> np.ndarray:
    rng = np.random.default_rng(1)
    lead = level * rng.standard_normal(round(lead_s * sr))
    tail = level * rng.standard_normal(round(tail_s * sr))
    return np.concatenate([lead, y, tail]).astype(np.float32)


@pytest.mark.parametrize(
    ("rate", "channels", "subtype"),
    [
        (44_100, 2, "PCM_16"),
        (48_000, 1, "PCM_24"),
        (8_000, 1, "FLOAT"),
        (22_050, 1, "PCM_U8"),
        (16_000, 1, "PCM_16"),
    ],
)
def test_load_audio_any_format_gives_16k_mono_mean_free_peak_one(
    tmp_path: Path, rate: int, channels: int, subtype: str
) -> None:
    mono = vowel(0.8, sr=rate) + 0.1  # DC offset to be removed
    data = np.stack([mono, 0.5 * mono], axis=1) if channels == 2 else mono
    path = tmp_path / f"clip_{rate}.wav"
    sf.write(path, data, rate, subtype=subtype)

    y = load_audio(path)

    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.shape[0] - round(0.8 * SR)) <= 1
    assert abs(float(y.mean())) < 1e-5
    assert np.abs(y).max() == pytest.approx(1.0, abs=1e-6)
    reference, _ = librosa.load(path, sr=SR, mono=True)
    reference = reference - reference.mean()
    reference = reference / np.abs(reference).max()
    np.testing.assert_allclose(y, reference, atol=1e-5)


def test_load_audio_keeps_other_target_rates(tmp_path: Path) -> None:
    path = tmp_path / "clip.wav"
    sf.write(path, vowel(0.5, sr=44_100), 44_100)
    y = load_audio(path, config=AudioConfig(sample_rate=22_050))
    assert abs(y.shape[0] - round(0.5 * 22_050)) <= 1


def test_load_audio_rejects_empty_silent_nan_and_non_audio(tmp_path: Path) -> None:
    cases = {
        "empty.wav": (np.zeros(0, np.float32), "zero length: the file holds no samples"),
        "silent.wav": (np.zeros(8000, np.float32), "all-silent: every sample is zero"),
        "nan.wav": (np.full(8000, np.nan, np.float32), "NaN samples: 8000 of 8000"),
    }
    for name, (data, reason) in cases.items():
        path = tmp_path / name
        sf.write(path, data, SR, subtype="FLOAT")
        with pytest.raises(AudioError, match=reason) as info:
            load_audio(path)
        assert name in str(info.value)
    not_audio = tmp_path / "12345678S1.wav"
    not_audio.write_text("this is not audio")
    with pytest.raises(AudioError, match="not audio: the file does not start") as info:
        load_audio(not_audio, name="P01/pre/P01S1.wav")
    # The raw path (which may carry a record number) is replaced by the given name.
    assert "12345678" not in str(info.value) and "P01/pre/P01S1.wav" in str(info.value)


def test_normalise_rejects_dc_only_signal() -> None:
    with pytest.raises(AudioError, match="silent"):
        normalise(np.full(1000, 0.3, np.float32))


def test_trim_region_finds_voiced_part_relative_to_peak() -> None:
    y = normalise(with_silence(vowel(1.0), lead_s=0.2, tail_s=0.3))
    start, end = trim_region(y, sr=SR)
    assert abs(start - 0.2 * SR) <= 0.02 * SR
    assert abs(end - 1.2 * SR) <= 0.02 * SR
    assert trim_region(y, sr=SR, config=TrimConfig(enabled=False)) == (0, y.shape[0])


def test_trim_threshold_decides_whether_a_quiet_part_is_kept() -> None:
    # A tail 50 dB below the vowel: trimmed at 40 dB, kept at 60 dB.
    quiet = vowel(0.5, seed=3) * 10 ** (-50 / 20)
    y = normalise(np.concatenate([vowel(1.0), quiet, np.zeros(4000, np.float32)]))
    _, end_40 = trim_region(y, sr=SR, config=TrimConfig(threshold_db=40))
    _, end_60 = trim_region(y, sr=SR, config=TrimConfig(threshold_db=60))
    assert abs(end_40 - 1.0 * SR) <= 0.02 * SR
    assert abs(end_60 - 1.5 * SR) <= 0.02 * SR


def test_seed_windows_are_ten_800_sample_windows_in_a_300ms_span() -> None:
    window_config = preset("seed").preprocess.window
    window, hop, span = window_lengths(sr=SR, config=window_config)
    assert (window, span) == (800, 4800)
    assert abs(hop - 445) <= 1
    y = normalise(with_silence(vowel(1.0), lead_s=0.1, tail_s=0.1))
    region = trim_region(y, sr=SR)
    plan = plan_windows(y, region, sr=SR, config=window_config)

    assert len(plan) == 10 and plan.skipped is None
    assert np.all(plan.ends - plan.starts == 800)
    assert np.all(np.abs(np.diff(plan.starts) - 445) <= 1)
    assert plan.starts[0] == region[0] == plan.span[0]
    assert plan.ends[-1] <= plan.span[1] == plan.span[0] + int(0.3 * SR)
    assert not plan.padded.any()
    segments = cut_segments(y, plan)
    assert segments.shape == (10, 800) and segments.dtype == np.float32
    np.testing.assert_array_equal(segments[3], y[plan.starts[3] : plan.ends[3]])


def test_overlap_form_gives_the_study_count() -> None:
    config = window_config_from_overlap(0.444, span_s=0.3, window_s=0.05)
    assert config.count == 10
    assert config.overlap == pytest.approx(0.444, abs=0.002)


def test_centre_and_stable_positions() -> None:
    steady = vowel(1.0, seed=4)
    t = np.arange(SR) / SR
    wobbly = vowel(1.0, seed=5) * (0.55 + 0.45 * np.sin(2 * np.pi * 7 * t)).astype(np.float32)
    y = normalise(np.concatenate([wobbly, steady]))
    region = (0, y.shape[0])

    centre = plan_windows(y, region, sr=SR, config=WindowConfig(position="centre"))
    assert centre.span[0] == (y.shape[0] - 4800) // 2

    stable = plan_windows(y, region, sr=SR, config=WindowConfig(position="stable"))
    assert stable.span[0] >= SR - 0.02 * SR  # inside the steady second half
    assert stable.span[1] <= region[1]


def test_short_clip_pad_policy_zero_fills_past_the_region() -> None:
    y = normalise(vowel(0.25))
    region = trim_region(y, sr=SR)
    assert region[1] - region[0] < 4800
    plan = plan_windows(y, region, sr=SR, config=WindowConfig(short_policy="pad"))
    assert len(plan) == 10 and plan.skipped is None
    assert np.array_equal(plan.padded, plan.ends > region[1])
    assert plan.padded[-1] and not plan.padded[0]
    segments = cut_segments(y, plan)
    last = segments[-1]
    inside = region[1] - plan.starts[-1]
    assert np.all(last[max(inside, 0) :] == 0)
    assert np.isfinite(segments).all()


def test_short_clip_skip_policy_returns_no_windows_with_a_reason() -> None:
    y = normalise(vowel(0.25))
    plan = plan_windows(y, trim_region(y, sr=SR), sr=SR, config=WindowConfig(short_policy="skip"))
    assert len(plan) == 0
    assert plan.skipped is not None and "shorter" in plan.skipped
    assert cut_segments(y, plan).shape == (0, 800)


@pytest.mark.parametrize("duration_s", [0.2, 14.0])
def test_very_short_and_very_long_clips_go_through(tmp_path: Path, duration_s: float) -> None:
    path = tmp_path / "clip.wav"
    sf.write(path, with_silence(vowel(duration_s, sr=44_100), lead_s=0.05, tail_s=0.05, sr=44_100), 44_100)
    cut = cut_recording(path, config=preset("seed").preprocess)
    assert cut.sample_rate == SR and cut.signal.shape[0] == pytest.approx((duration_s + 0.1) * SR, abs=2)
    start, end = cut.region
    assert abs((end - start) / SR - duration_s) < 0.03
    assert cut.segments.shape == (10, 800) and np.isfinite(cut.segments).all()
    assert cut.plan.padded.any() == (duration_s < 0.3)


def test_every_real_svd_a_recording_gives_ten_windows(svd_root: Path) -> None:
    files = sorted((svd_root / "Datasets").glob("*/*-a_*.wav"))
    assert len(files) == 54
    for path in files:
        assert sf.info(str(path)).samplerate == 50_000
        y = load_audio(path)
        start, end = trim_region(y, sr=SR)
        assert 0 <= start < end <= y.shape[0]
        plan = plan_windows(y, (start, end), sr=SR)
        segments = cut_segments(y, plan)
        assert segments.shape == (10, 800) and np.isfinite(segments).all(), path.name


def test_real_svd_clip_cut_to_250ms_follows_both_policies(svd_root: Path, tmp_path: Path) -> None:
    source = svd_root / "Datasets" / "Healthy" / "1-a_n.wav"
    data, rate = sf.read(source)
    clip = tmp_path / "short.wav"
    sf.write(clip, data[: int(0.25 * rate)], rate)
    y = load_audio(clip)
    region = trim_region(y, sr=SR)
    padded = plan_windows(y, region, sr=SR, config=WindowConfig(short_policy="pad"))
    skipped = plan_windows(y, region, sr=SR, config=WindowConfig(short_policy="skip"))
    assert len(padded) == 10 and padded.padded.any()
    assert len(skipped) == 0 and skipped.skipped
