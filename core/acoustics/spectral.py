"""MFCC and spectral-shape statistics of a voiced span with librosa.

Frames of 32 ms every 10 ms at 16 kHz (the usual speech-analysis frame, not the CNN's
8 ms one); each frame-wise feature is summarised by its mean, and the MFCCs and the
spectral centroid also by their standard deviation across frames (stability).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import librosa
import numpy as np

from core.config import config_hash
from core.errors import ConfigError


@dataclass(frozen=True)
class SpectralSettings:
    """Frame analysis of the spectral statistics.

    Parameters
    ----------
    sample_rate : int
        Every recording is resampled to this rate first (Hz).
    n_fft, hop_length : int
        Frame and hop in samples (512, 160 = 32 ms, 10 ms at 16 kHz).
    n_mels : int
        Mel bands under the MFCCs.
    n_mfcc : int
        Coefficients kept, c0 included.
    rolloff : float
        Share of spectral energy below the roll-off frequency.
    """

    sample_rate: int = 16_000
    n_fft: int = 512
    hop_length: int = 160
    n_mels: int = 40
    n_mfcc: int = 13
    rolloff: float = 0.85

    def validate(self) -> None:
        if not 1 <= self.hop_length <= self.n_fft:
            raise ConfigError(f"spectral hop_length={self.hop_length}; expected 1..n_fft={self.n_fft}")
        if not 1 <= self.n_mfcc <= self.n_mels:
            raise ConfigError(f"spectral n_mfcc={self.n_mfcc}; expected 1..n_mels={self.n_mels}")
        if not 0 < self.rolloff < 1:
            raise ConfigError(f"spectral rolloff={self.rolloff}; expected 0..1")

    def hash(self) -> str:
        return config_hash(asdict(self))


def spectral_keys(settings: SpectralSettings | None = None) -> tuple[str, ...]:
    """Names of the statistics :func:`spectral_statistics` returns, in order."""
    settings = settings or SpectralSettings()
    mfcc = [f"mfcc{i}_{stat}" for stat in ("mean", "sd") for i in range(settings.n_mfcc)]
    return (
        *mfcc,
        "centroid_hz_mean",
        "centroid_hz_sd",
        "bandwidth_hz_mean",
        "rolloff_hz_mean",
        "flatness_mean",
        "zcr_mean",
        "rms_db_sd",
    )


def spectral_statistics(
    y: np.ndarray, *, sr: int, settings: SpectralSettings | None = None
) -> dict[str, float]:
    """MFCC means/s.d. and spectral-shape means of a signal.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal (any level; it is analysed at ``settings.sample_rate``).
    sr : int
        Its sample rate in Hz.
    settings : SpectralSettings, optional

    Returns
    -------
    statistics : dict
        Keys :func:`spectral_keys`; NaN for an empty signal.
    """
    settings = settings or SpectralSettings()
    settings.validate()
    keys = spectral_keys(settings)
    y = np.asarray(y, dtype=np.float32)
    if y.size == 0 or not np.any(y):
        return dict.fromkeys(keys, float("nan"))
    if sr != settings.sample_rate:
        y = librosa.resample(y, orig_sr=sr, target_sr=settings.sample_rate, res_type="soxr_hq")
    sr = settings.sample_rate
    magnitude = np.abs(librosa.stft(y, n_fft=settings.n_fft, hop_length=settings.hop_length))
    power = magnitude**2
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=settings.n_mels)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=settings.n_mfcc)
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=sr)[0]
    frame = {"frame_length": settings.n_fft, "hop_length": settings.hop_length}
    values = [
        *mfcc.mean(axis=1),
        *mfcc.std(axis=1),
        centroid.mean(),
        centroid.std(),
        librosa.feature.spectral_bandwidth(S=magnitude, sr=sr)[0].mean(),
        librosa.feature.spectral_rolloff(S=magnitude, sr=sr, roll_percent=settings.rolloff)[0].mean(),
        librosa.feature.spectral_flatness(S=magnitude)[0].mean(),
        librosa.feature.zero_crossing_rate(y, **frame)[0].mean(),
        librosa.amplitude_to_db(librosa.feature.rms(S=magnitude, frame_length=settings.n_fft)[0]).std(),
    ]
    return {key: float(value) for key, value in zip(keys, values, strict=True)}
