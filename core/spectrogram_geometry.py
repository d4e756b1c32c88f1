"""Spectrogram geometry: which rows, columns and band an image has, and what each pixel shows.

**Fitted geometry.** The study's images (n_fft 128 at 16 kHz, 64 mels, 64 frames) carry
two artefacts: some mel filters are narrower than one FFT bin and stay empty (black
stripes), and a 50 ms segment has fewer than 64 frames, so the last column repeats. With
``SpectrogramConfig.fit`` on (the "voice" preset) the geometry follows from the settings
and the segment instead:

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

**What each pixel shows** (:func:`image_geometry`, any config, in image coordinates: row 0 =
top = highest frequency, as the images are stored). Not every pixel carries signal:

- *Padded columns.* The time axis is fixed to ``frames`` columns; a segment with fewer
  real frames repeats its last frame (the study's 50 ms segments give 51 mel and 43 STFT
  frames of 64, so 21 % and 33 % of the image columns repeat the last frame). Maps must
  not show them as signal and summaries must not name them.
- *Empty mel rows.* With a short FFT (the study's ``n_fft`` 128 at 16 kHz: 63 Hz bins)
  the lowest mel filters are narrower than one FFT bin and catch no bin at all (7 of 64
  filters). Their rows are the dB floor — black — in every image.

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from core.config import PreprocessConfig, SpectrogramConfig

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


def empty_mel_filter_mask(sr: int, n_fft: int, n_mels: int, *, fmax: float | None = None) -> np.ndarray:
    """Which Slaney mel filters (librosa) catch no FFT bin (all-zero weights), lowest filter first.

    Returns
    -------
    empty : np.ndarray [shape=(n_mels,), dtype=bool]
    """
    return np.asarray(_mel_basis(sr, n_fft, n_mels, float(fmax or sr / 2)).max(axis=1) <= 0)


def empty_mel_filters(sr: int, n_fft: int, n_mels: int, *, fmax: float | None = None) -> int:
    """Number of Slaney mel filters (librosa) with no FFT bin under them."""
    return int(empty_mel_filter_mask(sr, n_fft, n_mels, fmax=fmax).sum())


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


KINDS: tuple[str, ...] = ("mel", "stft")


@dataclass(frozen=True)
class BranchGeometry:
    """Geometry of one branch's images.

    Attributes
    ----------
    kind : {"mel", "stft"}
    row_hz : np.ndarray [shape=(S,)]
        Frequency each row shows, row 0 = top = highest.
    column_ms : np.ndarray [shape=(S,)]
        Time each column shows, ms from the segment's start (padded columns continue
        the grid past the segment).
    padded_columns : np.ndarray [shape=(S,), dtype=bool]
        True where the column only repeats the last real frame.
    empty_rows : np.ndarray [shape=(S,), dtype=bool]
        True where the row shows only mel filters that catch no FFT bin (never for STFT).
    segment_ms : float
        The segment's real length.
    empty_filters : int
        Mel filters without an FFT bin (0 for STFT).
    n_rows : int
        Rows of the dB matrix (mel filters or FFT bins).
    empty_below_hz : float
        Centre of the highest empty mel filter (0 when none is empty).
    """

    kind: str
    row_hz: np.ndarray
    column_ms: np.ndarray
    padded_columns: np.ndarray
    empty_rows: np.ndarray
    segment_ms: float
    empty_filters: int
    n_rows: int
    empty_below_hz: float = 0.0

    @property
    def padded_fraction(self) -> float:
        """Share of the image's columns that are padding."""
        return float(self.padded_columns.mean())

    def caption(self) -> str:
        """One sentence for people on what in this branch's image is not signal."""
        parts = []
        if self.padded_columns.any():
            parts.append(
                f"{int(self.padded_columns.sum())} of {self.padded_columns.size} columns "
                f"({self.padded_fraction:.0%}) repeat the last frame past the "
                f"{self.segment_ms:.0f} ms segment (padding to a fixed width) and are not signal"
            )
        if self.empty_filters:
            parts.append(
                f"{self.empty_filters} of {self.n_rows} mel filters (all below {self.empty_below_hz:.0f} Hz) "
                "are narrower than one FFT bin at this FFT size and catch no energy, so the low-frequency "
                f"rows show dark stripes ({int(self.empty_rows.sum())} image rows mostly empty) in every "
                "image — not silence in the voice"
            )
        name = "Mel" if self.kind == "mel" else "STFT"
        return f"{name} image: " + ("; ".join(parts) if parts else "every pixel is signal") + "."


def branch_geometry(kind: str, config: PreprocessConfig) -> BranchGeometry:
    """Geometry of the ``kind`` images a preprocessing config produces.

    Parameters
    ----------
    kind : {"mel", "stft"}
    config : PreprocessConfig

    Returns
    -------
    geometry : BranchGeometry
    """
    from core.spectrogram import (
        fft_params,
        image_axis,
        matrix_column_ms,
        matrix_row_hz,
        matrix_shape,
        real_frames,
        source_coordinates,
    )

    sr = config.audio.sample_rate
    n_samples = int(round(config.window.window_s * sr))
    spec: SpectrogramConfig = config.spectrogram
    size = spec.image_size
    frames = real_frames(kind, n_samples=n_samples, config=spec)
    # fitted images (``spec.fit``) have the segment's own frames and no empty filter by construction
    n_rows, n_columns = matrix_shape(kind, sr=sr, n_samples=n_samples, config=spec)
    column = source_coordinates(n_columns, size)
    padded = column > frames - 1
    n_fft, _ = fft_params(n_samples, config=spec)
    if kind == "mel":
        empty_filters = np.zeros(n_rows, dtype=bool) if spec.fit else empty_mel_filter_mask(sr, n_fft, n_rows)
        # Image row r (top = highest) blends matrix rows floor/ceil of its source index;
        # it is empty when at least half its weight comes from empty filters (a dark stripe).
        source = n_rows - 1 - source_coordinates(n_rows, size)
        low, high = np.floor(source).astype(int), np.ceil(source).astype(int)
        frac = source - low
        empty = (1 - frac) * empty_filters[low] + frac * empty_filters[high] >= 0.5
        empty_below_hz = float(
            matrix_row_hz("mel", sr=sr, n_samples=n_samples, config=spec)[empty_filters].max(initial=0)
        )
    else:
        empty_filters = np.zeros(0, dtype=bool)
        empty = np.zeros(size, dtype=bool)
        empty_below_hz = 0.0
    return BranchGeometry(
        kind=kind,
        row_hz=image_axis(matrix_row_hz(kind, sr=sr, n_samples=n_samples, config=spec), size, flip=True),
        column_ms=image_axis(matrix_column_ms(kind, sr=sr, n_samples=n_samples, config=spec), size),
        padded_columns=padded,
        empty_rows=np.asarray(empty, dtype=bool),
        segment_ms=n_samples / sr * 1000.0,
        empty_filters=int(empty_filters.sum()),
        n_rows=n_rows,
        empty_below_hz=empty_below_hz,
    )


def image_geometry(config: PreprocessConfig) -> dict[str, BranchGeometry]:
    """:func:`branch_geometry` of both branches, keyed "mel" and "stft"."""
    return {kind: branch_geometry(kind, config) for kind in KINDS}


__all__ = [
    "BAND_FLOOR_HZ",
    "KINDS",
    "BranchGeometry",
    "band_stft_rows",
    "band_top_hz",
    "branch_geometry",
    "empty_mel_filter_mask",
    "empty_mel_filters",
    "fitted_frames",
    "fitted_mels",
    "image_geometry",
    "mel_basis",
    "mel_filter_count",
    "narrowest_band_hz",
    "native_rate",
    "stft_rows",
]
