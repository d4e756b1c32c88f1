"""Mel/STFT matrices against librosa calls written out here, images, axes and backbone scaling."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from core.audio import cut_segments, normalise, plan_windows, trim_region
from core.config import SpectrogramConfig, preset
from core.errors import ConfigError
from core.spectrogram import (
    contrast_limits,
    db_matrix,
    fft_params,
    fix_frames,
    image_axis,
    matrix_column_ms,
    matrix_row_hz,
    real_frames,
    to_grey_images,
    to_images,
)

SR = 16_000


def fixed_signal() -> np.ndarray:
    """0.6 s of a vibrato vowel-like tone with noise; fixed seed."""
    rng = np.random.default_rng(42)
    t = np.arange(round(0.6 * SR)) / SR
    f0 = 140 * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    y = sum(np.sin(k * phase) / k**1.5 for k in range(1, 12)) + 0.03 * rng.standard_normal(t.size)
    return normalise(y.astype(np.float32))


def seed_segments() -> np.ndarray:
    config = preset("seed").preprocess
    y = fixed_signal()
    plan = plan_windows(y, trim_region(y, sr=SR, config=config.trim), sr=SR, config=config.window)
    segments = cut_segments(y, plan)
    segments[4] *= 1e-3  # a quiet segment: top_db must clip at its own maximum
    return segments


def repeat_last_column(m: np.ndarray, frames: int) -> np.ndarray:
    if m.shape[1] >= frames:
        return m[:, :frames]
    return np.concatenate([m, np.repeat(m[:, -1:], frames - m.shape[1], axis=1)], axis=1)


def test_mel_and_stft_match_librosa_calls_per_segment() -> None:
    segments = seed_segments()
    config = preset("seed").preprocess.spectrogram
    mel = db_matrix("mel", segments, sr=SR, config=config)
    stft = db_matrix("stft", segments, sr=SR, config=config)
    assert mel.shape == (10, 64, 64) and mel.dtype == np.float32
    assert stft.shape == (10, 65, 64) and stft.dtype == np.float32
    for i, seg in enumerate(segments):
        m = librosa.feature.melspectrogram(y=seg, sr=SR, n_fft=128, hop_length=16, n_mels=64, power=2.0)
        m_db = repeat_last_column(librosa.power_to_db(m, ref=1.0, top_db=80), 64)
        s = np.abs(librosa.stft(seg, n_fft=128, hop_length=16, center=False)) ** 2
        s_db = repeat_last_column(librosa.power_to_db(s, ref=1.0, top_db=80), 64)
        assert np.abs(mel[i] - m_db).max() < 1e-3
        assert np.abs(stft[i] - s_db).max() < 1e-3
    # The quiet segment is clipped at its own maximum - 80 dB, not at the batch's.
    assert mel[4].max() < mel[3].max() - 40
    assert mel[4].min() < mel.max() - 80
    assert mel[4].min() >= mel[4].max() - 80 - 1e-3


def test_fix_frames_cuts_or_repeats_the_last_column() -> None:
    m = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    longer = fix_frames(m, frames=6)
    assert longer.shape == (1, 3, 6)
    np.testing.assert_array_equal(longer[0, :, 4], m[0, :, 3])
    np.testing.assert_array_equal(longer[0, :, 5], m[0, :, 3])
    np.testing.assert_array_equal(fix_frames(m, frames=2), m[..., :2])


def test_adaptive_fft_for_segments_shorter_than_n_fft() -> None:
    assert fft_params(800) == (128, 16)
    assert fft_params(100) == (64, 8)
    assert fft_params(40) == (32, 4)
    with pytest.raises(ConfigError):
        fft_params(4)
    rng = np.random.default_rng(0)
    segments = rng.standard_normal((3, 100)).astype(np.float32)
    mel = db_matrix("mel", segments, sr=SR)
    stft = db_matrix("stft", segments, sr=SR)
    assert mel.shape == (3, 64, 64) and stft.shape == (3, 33, 64)
    s = np.abs(librosa.stft(segments[1], n_fft=64, hop_length=8, center=False)) ** 2
    expected = repeat_last_column(librosa.power_to_db(s, ref=1.0, top_db=80), 64)
    assert np.abs(stft[1] - expected).max() < 1e-3
    assert np.isfinite(mel).all()


def test_contrast_limits_are_percentiles_widened_to_min_range() -> None:
    rng = np.random.default_rng(1)
    db = rng.uniform(-80, 0, size=(2, 64, 64)).astype(np.float32)
    db[1] = -30.0
    db[1, 0, 0] = -29.0
    low, high = contrast_limits(db)
    np.testing.assert_allclose([low[0], high[0]], np.percentile(db[0], [5, 95]), rtol=1e-5)
    assert high[1] - low[1] == pytest.approx(10.0)
    assert (high[1] + low[1]) / 2 == pytest.approx(-30.0)


def test_images_are_uint8_three_equal_channels_with_low_frequencies_at_the_bottom() -> None:
    db = np.full((2, 64, 64), -80.0, dtype=np.float32)
    db[:, :16, :] = 0.0  # energy in the lowest quarter of the bands
    images = to_images(db)
    assert images.shape == (2, 224, 224, 3) and images.dtype == np.uint8
    assert np.array_equal(images[..., 0], images[..., 1]) and np.array_equal(images[..., 1], images[..., 2])
    assert images[0, -10:].min() == 255 and images[0, :150].max() == 0


def test_batched_images_equal_one_at_a_time() -> None:
    mel = db_matrix("mel", seed_segments(), sr=SR)
    batch = to_grey_images(mel)
    for i in (0, 4, 9):
        np.testing.assert_array_equal(batch[i], to_grey_images(mel[i : i + 1])[0])
    assert batch.min() == 0 and batch.max() == 255


def test_axis_helpers_give_hz_per_row_and_ms_per_column() -> None:
    mel_rows = matrix_row_hz("mel", sr=SR, n_samples=800)
    np.testing.assert_allclose(mel_rows, librosa.mel_frequencies(66, fmin=0, fmax=SR / 2)[1:-1])
    size = SpectrogramConfig().image_size
    mel_hz = image_axis(mel_rows, size, flip=True)
    stft_hz = image_axis(matrix_row_hz("stft", sr=SR, n_samples=800), size, flip=True)
    assert mel_hz.shape == stft_hz.shape == (224,)
    assert np.all(np.diff(mel_hz) <= 0) and np.all(np.diff(stft_hz) <= 0)  # top row is the highest
    assert stft_hz[0] == pytest.approx(SR / 2) and stft_hz[-1] == pytest.approx(0.0)
    assert mel_hz[-1] == pytest.approx(mel_rows[0]) and mel_hz[0] == pytest.approx(mel_rows[-1])
    mel_ms = image_axis(matrix_column_ms("mel", sr=SR, n_samples=800), size)
    stft_ms = image_axis(matrix_column_ms("stft", sr=SR, n_samples=800), size)
    assert mel_ms[0] == pytest.approx(0.0) and mel_ms[-1] == pytest.approx(63.0)  # 63 hops of 1 ms
    assert stft_ms[0] == pytest.approx(4.0)  # centre of the first uncentred 128-sample frame
    assert np.all(np.diff(mel_ms) >= 0)
    assert real_frames("mel", n_samples=800) == 51 and real_frames("stft", n_samples=800) == 43


def test_image_size_follows_config() -> None:
    images = to_images(db_matrix("mel", seed_segments()[:2], sr=SR), config=SpectrogramConfig(image_size=96))
    assert images.shape == (2, 96, 96, 3)
