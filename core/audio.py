"""Recordings as analysis signals: loading, energy trimming, and the cut into windows.

The steps follow the study: every file becomes 16 kHz mono float32 with the mean removed
and the peak at 1; leading and trailing silence is trimmed by frame energy relative to
the loudest frame; the voiced region is then cut into windows (:mod:`core.windows`, whose
names this module also exports). Positions are in samples of the resampled, untrimmed
signal so pages can draw the kept region and every window on the waveform.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soxr

from core.audio_gate import SILENCE_PEAK, read_mono
from core.config import AudioConfig, PreprocessConfig, TrimConfig
from core.errors import AudioError
from core.windows import (
    WindowPlan,
    cut_segments,
    envelope_lengths,
    plan_windows,
    whole_region_starts,
    window_config_from_overlap,
    window_lengths,
)


def load_audio(path: Path | str, *, config: AudioConfig | None = None, name: str | None = None) -> np.ndarray:
    """Read any audio file as a mono, mean-free, peak-normalised signal at ``config.sample_rate``.

    The file goes through the audio gate (:func:`core.audio_gate.read_mono`: bounds on
    rate, channels, duration and data size checked before any sample is read; NaN,
    infinite, silent, DC-only and anti-phase files refused), so preprocessing refuses
    exactly what validation reports. Channels are averaged and the signal is resampled
    as ``librosa.resample`` does it (soxr, high quality; :func:`resample`), which is what
    ``librosa.load(path, sr=16000)`` does.

    Parameters
    ----------
    path : Path or str
        Audio file (any rate, sample width and channel count soundfile reads).
    config : AudioConfig, optional
        Target sample rate (16 kHz by default).
    name : str, optional
        How the file is named in error messages (pass a redacted source path);
        defaults to the file name.

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
        The signal, ``mean(y) == 0`` and ``max(|y|) == 1``.

    Raises
    ------
    AudioError
        ``"<name>: <gate reason>"`` when the gate refuses the file; also when the signal
        is silent after resampling (all its content above the target's Nyquist frequency).
    """
    config = config or AudioConfig()
    path = Path(path)
    name = name or path.name
    y, rate = read_mono(path, name=name)
    return analysis_signal(y, rate, target_rate=config.sample_rate, name=name)


def analysis_signal(y: np.ndarray, rate: int, *, target_rate: int, name: str) -> np.ndarray:
    """The gate's mono mix → resampled to ``target_rate``, mean removed, peak 1.

    Validation calls this too for files stored at another rate, so a file whose content
    lies wholly above the target's Nyquist frequency is refused there with the same words.

    Parameters
    ----------
    y : np.ndarray [shape=(n,), dtype=float32]
        Mono signal at ``rate`` (from :func:`core.audio_gate.read_mono`).
    rate, target_rate : int
        Stored and analysis sample rates in Hz.
    name : str
        How the file is named in the error.

    Returns
    -------
    y : np.ndarray [shape=(m,), dtype=float32]

    Raises
    ------
    AudioError
        Silent once resampled.
    """
    if rate == target_rate:
        return normalise(y, name=name)
    y = resample(y, rate=rate, target_rate=target_rate)
    try:
        return normalise(y, name=name)
    except AudioError:
        raise AudioError(f"{name}: {silent_after_resampling(target_rate)}") from None


def resample(y: np.ndarray, *, rate: int, target_rate: int) -> np.ndarray:
    """``librosa.resample(y, res_type="soxr_hq")``, the same samples without importing librosa's core.

    soxr (high quality), then the length fixed to ``ceil(n * target_rate / rate)`` by
    trimming or zero-padding the end, as librosa does.

    Parameters
    ----------
    y : np.ndarray [shape=(n,), dtype=float32]
    rate, target_rate : int

    Returns
    -------
    y : np.ndarray [shape=(ceil(n * target_rate / rate),), dtype=float32]
    """
    size = int(np.ceil(y.shape[-1] * float(target_rate) / rate))
    out = np.asarray(soxr.resample(y, rate, target_rate, quality="soxr_hq"), dtype=y.dtype)
    if out.shape[-1] >= size:
        return out[:size]
    return np.pad(out, (0, size - out.shape[-1]))


def silent_after_resampling(target_rate: int) -> str:
    """The reason given for a file that is silent once resampled to ``target_rate``."""
    return f"all-silent after resampling to {target_rate} Hz: its content lies above {target_rate // 2} Hz"


def normalise(y: np.ndarray, *, name: str = "signal") -> np.ndarray:
    """Remove the mean and scale the peak to 1.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal.
    name : str
        How the signal is named in error messages.

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
        A new array, mean 0 and peak absolute value 1.

    Raises
    ------
    AudioError
        ``y`` is empty, holds NaN/inf, or its peak after mean removal is below
        :data:`SILENCE_PEAK`.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise AudioError(f"{name}: empty recording (shape {y.shape}); expected a non-empty mono signal")
    if not np.isfinite(y).all():
        raise AudioError(f"{name}: holds NaN or infinite samples")
    y = y - y.mean(dtype=np.float64).astype(np.float32)
    peak = float(np.abs(y).max())
    if peak < SILENCE_PEAK:
        raise AudioError(
            f"{name}: silent (peak {peak:.1e} after mean removal; expected >= {SILENCE_PEAK:.1e})"
        )
    return y / np.float32(peak)


def trim_region(y: np.ndarray, *, sr: int, config: TrimConfig | None = None) -> tuple[int, int]:
    """Kept (voiced) region after energy-threshold trimming of leading/trailing silence.

    Uses ``librosa.effects.trim``: frame RMS in dB relative to the loudest frame,
    frames quieter than ``-threshold_db`` at either end are dropped.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal.
    sr : int
        Its sample rate in Hz.
    config : TrimConfig, optional
        Threshold and frame/hop of the energy envelope; ``enabled=False`` keeps all.

    Returns
    -------
    region : tuple of (int, int)
        ``(start, end)`` in samples, ``y[start:end]`` is kept; never empty for a
        signal :func:`normalise` accepted.
    """
    config = config or TrimConfig()
    n = int(y.shape[-1])
    if not config.enabled or n == 0:
        return 0, n
    frame, hop = envelope_lengths(sr, config)
    _, (start, end) = librosa.effects.trim(
        y, top_db=config.threshold_db, ref=np.max, frame_length=frame, hop_length=hop
    )
    if end <= start:
        return 0, n
    return int(start), int(end)


@dataclass(frozen=True)
class RecordingCut:
    """One recording loaded, trimmed and cut: everything a page needs to draw it.

    Attributes
    ----------
    signal : np.ndarray [shape=(n,), dtype=float32]
        The analysis signal (resampled, mean-free, peak 1).
    sample_rate : int
    plan : WindowPlan
        Kept region, span and windows, in samples of ``signal``.
    segments : np.ndarray [shape=(k, window_length), dtype=float32]
        ``k == 0`` when the short-clip policy skipped the recording (see ``plan.skipped``).
    """

    signal: np.ndarray
    sample_rate: int
    plan: WindowPlan
    segments: np.ndarray

    @property
    def region(self) -> tuple[int, int]:
        return self.plan.region


def cut_recording(
    path: Path | str, *, config: PreprocessConfig | None = None, name: str | None = None
) -> RecordingCut:
    """Load, trim and cut one audio file with the audio, trim and window settings of ``config``.

    Parameters
    ----------
    path : Path or str
        Audio file.
    config : PreprocessConfig, optional
        Seed preset by default.
    name : str, optional
        How the file is named in error messages (a redacted source path).

    Raises
    ------
    AudioError
        The file is unreadable, empty, NaN or silent (see :func:`load_audio`).
    """
    config = config or PreprocessConfig()
    sr = config.audio.sample_rate
    y = load_audio(path, config=config.audio, name=name)
    region = trim_region(y, sr=sr, config=config.trim)
    plan = plan_windows(y, region, sr=sr, config=config.window, envelope=config.trim)
    return RecordingCut(signal=y, sample_rate=sr, plan=plan, segments=cut_segments(y, plan))


__all__ = [
    "RecordingCut",
    "WindowPlan",
    "analysis_signal",
    "cut_recording",
    "cut_segments",
    "load_audio",
    "normalise",
    "plan_windows",
    "resample",
    "silent_after_resampling",
    "trim_region",
    "whole_region_starts",
    "window_config_from_overlap",
    "window_lengths",
]
