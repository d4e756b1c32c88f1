"""Image geometry derived from the signal: mel filter count, band top and frame count.

The study's images (n_fft 128 at 16 kHz, 64 mels, 64 frames) carry two artefacts: some
mel filters are narrower than one FFT bin and stay empty (black stripes), and a 50 ms
segment has fewer than 64 frames, so the last column repeats. With
``SpectrogramConfig.fit`` on (the "voice" preset) the geometry follows from the
settings and the segment instead:

- the band shown ends at :func:`band_top_hz`: the analysis Nyquist, the recording's
  own Nyquist when ``band_limit`` is on (8 kHz telephone audio resampled to 16 kHz has
  nothing above 4 kHz), and ``fmax_hz`` when set; never below :data:`BAND_FLOOR_HZ`;
- the mel filter count is the largest up to ``n_mels`` with no empty filter on the
  narrowest band any recording can get (:func:`mel_filter_count`), so every recording's
  image has the same rows and none is empty;
- STFT rows are the FFT bins up to the band top, interpolated onto the bins of the
  narrowest band (exact for an 8 kHz recording);
- the time axis has exactly the segment's frames (:func:`fitted_frames`), with both
  kinds on the same ``center=False`` grid: no repeated column, true ms axes.

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from core.config import SpectrogramConfig

#: Lowest band top the band limit goes down to (telephone audio, 8 kHz sampling).
BAND_FLOOR_HZ: float = 4000.0


def band_top_hz(sr: int, *, native_rate: int | None = None, config: SpectrogramConfig | None = None) -> float:
    """Highest frequency an image of this recording shows.

    Parameters
    ----------
    sr : int
        Analysis sample rate in Hz (after resampling).
    native_rate : int, optional
        The file's own sample rate; used when ``config.band_limit`` is on.
    config : SpectrogramConfig, optional

    Returns
    -------
    top : float
        ``sr / 2`` for the study's geometry; otherwise the smallest of ``sr / 2``,
        ``native_rate / 2`` (band limit) and ``fmax_hz`` (when > 0), but at least
        ``min(sr / 2, BAND_FLOOR_HZ)``.
    """
    config = config or SpectrogramConfig()
    top = sr / 2
    if not config.fit:
        return top
    if config.band_limit and native_rate:
        top = min(top, native_rate / 2)
    if config.fmax_hz > 0:
        top = min(top, config.fmax_hz)
    return float(max(top, narrowest_band_hz(sr, config)))


def native_rate(path: str | Path) -> int | None:
    """A file's own sample rate (header only), or None when the header cannot be read."""
    try:
        return int(sf.info(str(path)).samplerate)
    except (sf.LibsndfileError, RuntimeError, OSError, TypeError):
        return None


def narrowest_band_hz(sr: int, config: SpectrogramConfig) -> float:
    """Band top of the narrowest image any recording can get under ``config`` (sets the row count)."""
    low = min(sr / 2, BAND_FLOOR_HZ) if config.fit and config.band_limit else sr / 2
    if config.fit and config.fmax_hz > 0:
        low = min(low, config.fmax_hz)
    return float(low)


def empty_mel_filters(sr: int, n_fft: int, n_mels: int, *, fmax: float | None = None) -> int:
    """Number of Slaney mel filters (librosa) with no FFT bin under them."""
    return int((_mel_basis(sr, n_fft, n_mels, float(fmax or sr / 2)).max(axis=1) <= 0).sum())


def mel_filter_count(sr: int, n_fft: int, *, requested: int, fmax: float) -> int:
    """Largest mel filter count up to ``requested`` whose filters are all non-empty.

    Returns
    -------
    n_mels : int
        At least 8 (the smallest :class:`SpectrogramConfig` allows).
    """
    for n in range(requested, 7, -1):
        if empty_mel_filters(sr, n_fft, n, fmax=fmax) == 0:
            return n
    return 8


def fitted_mels(sr: int, n_fft: int, config: SpectrogramConfig) -> int:
    """Mel rows of every image under ``config`` (``config.n_mels`` for the study's geometry)."""
    if not config.fit:
        return config.n_mels
    return mel_filter_count(sr, n_fft, requested=config.n_mels, fmax=narrowest_band_hz(sr, config))


def stft_rows(sr: int, n_fft: int, config: SpectrogramConfig) -> int:
    """STFT rows of every image: all bins, or the bins up to the narrowest band top when fitted."""
    if not config.fit:
        return n_fft // 2 + 1
    return int(
        np.searchsorted(librosa.fft_frequencies(sr=sr, n_fft=n_fft), narrowest_band_hz(sr, config), "right")
    )


def fitted_frames(n_samples: int, n_fft: int, hop: int) -> int:
    """Frames of a ``center=False`` STFT of ``n_samples``: ``1 + (n_samples - n_fft) // hop``."""
    return 1 + max(0, n_samples - n_fft) // hop


def band_stft_rows(power: np.ndarray, *, sr: int, n_fft: int, top_hz: float, rows: int) -> np.ndarray:
    """STFT rows from 0 Hz to ``top_hz`` resampled (linear in Hz) onto ``rows`` rows.

    Parameters
    ----------
    power : np.ndarray [shape=(n, n_fft // 2 + 1, t)]

    Returns
    -------
    band : np.ndarray [shape=(n, rows, t)]
        Row ``i`` is ``i * top_hz / (rows - 1)`` Hz.
    """
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    target = np.linspace(0.0, top_hz, rows)
    position = np.interp(target, freqs, np.arange(freqs.shape[0]))
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, freqs.shape[0] - 1)
    frac = (position - low)[None, :, None]
    return power[:, low, :] * (1 - frac) + power[:, high, :] * frac


@functools.lru_cache(maxsize=64)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmax: float) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Empty filters detected", category=UserWarning)
        basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmax=fmax)
    basis.setflags(write=False)
    return basis


def mel_basis(sr: int, n_fft: int, n_mels: int, fmax: float) -> np.ndarray:
    """Read-only Slaney mel filter bank [shape=(n_mels, n_fft // 2 + 1)] from 0 Hz to ``fmax``."""
    return _mel_basis(sr, n_fft, n_mels, float(fmax))


__all__ = [
    "BAND_FLOOR_HZ",
    "band_stft_rows",
    "band_top_hz",
    "empty_mel_filters",
    "fitted_frames",
    "fitted_mels",
    "mel_basis",
    "mel_filter_count",
    "narrowest_band_hz",
    "native_rate",
    "stft_rows",
]
