"""What the Audio page draws for one recording: envelope, overview spectrogram, segments.

Pure functions over arrays; the page only plots their output.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
import pandas as pd

from core.audio import WindowPlan, cut_segments, plan_windows, trim_region
from core.config import SpectrogramConfig, TrimConfig, WindowConfig
from core.spectrogram import db_matrix, matrix_column_ms, matrix_row_hz


def waveform_envelope(y: np.ndarray, *, sr: int, max_points: int = 4000) -> pd.DataFrame:
    """Min/max envelope of a signal for plotting, at most ``max_points`` columns.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal.
    sr : int
        Sample rate in Hz.
    max_points : int
        Number of envelope columns (each the min and max of a block of samples).

    Returns
    -------
    pd.DataFrame
        Columns ``time_s, low, high``; one row per block (or per sample for short signals).
    """
    n = int(y.shape[0])
    block = max(1, int(np.ceil(n / max_points)))
    usable = (n // block) * block
    blocks = y[:usable].reshape(-1, block)
    low, high = blocks.min(axis=1), blocks.max(axis=1)
    if usable < n:
        low = np.append(low, y[usable:].min())
        high = np.append(high, y[usable:].max())
    time_s = (np.arange(low.shape[0]) * block + block / 2) / sr
    return pd.DataFrame({"time_s": time_s, "low": low, "high": high})


@dataclass(frozen=True)
class Spectrogram:
    """A dB spectrogram with its axes.

    Attributes
    ----------
    db : np.ndarray [shape=(rows, cols), dtype=float32]
        Row 0 is the lowest frequency.
    hz : np.ndarray [shape=(rows,)]
        Frequency of each row.
    ms : np.ndarray [shape=(cols,)]
        Time of each column, in ms.
    """

    db: np.ndarray
    hz: np.ndarray
    ms: np.ndarray


def overview_spectrogram(
    y: np.ndarray, *, sr: int, n_fft: int = 512, hop_length: int = 128, top_db: float = 80.0
) -> Spectrogram:
    """Whole-recording STFT spectrogram in dB for browsing (not the model's input).

    Returns
    -------
    Spectrogram
        ``db`` of shape (n_fft // 2 + 1, frames), times from the recording's start.
    """
    n_fft = int(min(n_fft, 2 ** int(np.floor(np.log2(max(8, y.shape[0]))))))
    hop_length = max(1, min(hop_length, n_fft // 2))
    power = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)) ** 2
    db = librosa.power_to_db(power, ref=np.max, top_db=top_db).astype(np.float32)
    hz = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    ms = librosa.frames_to_time(np.arange(db.shape[1]), sr=sr, hop_length=hop_length) * 1000.0
    return Spectrogram(db=db, hz=hz, ms=ms)


@dataclass(frozen=True)
class SlicedRecording:
    """A recording trimmed and cut into the model's segments.

    Attributes
    ----------
    region : tuple of (int, int)
        Kept region in samples.
    plan : WindowPlan
        Window boundaries (in samples of the untrimmed signal).
    segments : np.ndarray [shape=(k, window_length), dtype=float32]
        The segments' audio.
    """

    region: tuple[int, int]
    plan: WindowPlan
    segments: np.ndarray


def slice_recording(
    y: np.ndarray, *, sr: int, trim: TrimConfig | None = None, window: WindowConfig | None = None
) -> SlicedRecording:
    """Trim ``y`` and cut it into windows exactly as the dataset builder does."""
    trim = trim or TrimConfig()
    region = trim_region(y, sr=sr, config=trim)
    plan = plan_windows(y, region, sr=sr, config=window or WindowConfig(), envelope=trim)
    segments = cut_segments(y, plan) if len(plan) else np.zeros((0, plan.window_length), np.float32)
    return SlicedRecording(region=region, plan=plan, segments=segments)


def segment_spectrograms(
    segment: np.ndarray, *, sr: int, config: SpectrogramConfig | None = None
) -> dict[str, Spectrogram]:
    """The model's Mel and STFT dB matrices of one segment, with Hz and ms axes.

    Parameters
    ----------
    segment : np.ndarray [shape=(window_length,)]
        One segment's audio.

    Returns
    -------
    dict
        ``{"mel": Spectrogram, "stft": Spectrogram}``.
    """
    config = config or SpectrogramConfig()
    batch = np.asarray(segment, dtype=np.float32)[None, :]
    n = batch.shape[1]
    return {
        kind: Spectrogram(
            db_matrix(kind, batch, sr=sr, config=config)[0],
            matrix_row_hz(kind, sr=sr, n_samples=n, config=config),
            matrix_column_ms(kind, sr=sr, n_samples=n, config=config),
        )
        for kind in ("mel", "stft")
    }
