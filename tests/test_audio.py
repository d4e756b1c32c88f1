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
)
from core.config import AudioConfig, TrimConfig, WindowConfig, preset
from core.errors import AudioError
from tests.audio_signals import SR, vowel, with_silence


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
