"""Mel and STFT matrices and the images made from them, for many segments at once.

Faithful to the study and written out as the librosa calls it made:

- Mel: ``librosa.feature.melspectrogram(y=seg, sr=sr, n_fft=128, hop_length=16,
  n_mels=64)`` with librosa's defaults (Hann window, ``center=True`` with zero padding,
  power 2, Slaney mel filters from 0 Hz to sr/2), then
  ``librosa.power_to_db(M, ref=1.0, top_db=80)``. We keep ``center=True`` because the
  notebook called melspectrogram with its defaults.
- STFT: ``np.abs(librosa.stft(seg, n_fft=128, hop_length=16, center=False)) ** 2``, then
  the same ``power_to_db(ref=1.0, top_db=80)``.
- ``top_db`` is applied per segment (``power_to_db`` on one segment clips at that
  segment's own maximum), although the arrays are computed for all segments in one call.
- The time axis is fixed to ``frames`` columns: longer is cut, shorter repeats the last
  column. Segments shorter than ``n_fft`` halve ``n_fft`` and ``hop_length`` together
  until the FFT fits ("adaptive").
- Images: the dB matrix is mapped linearly to grey from its 5th to its 95th percentile
  (the window widened symmetrically to at least ``min_range_db``), rounded to uint8,
  flipped so low frequencies are at the bottom, resized to ``image_size`` squared with
  ``cv2.resize`` (bilinear) and tiled to 3 channels, uint8 0..255 (:func:`segment_images`).
  Backbone-specific scaling happens inside the model (:mod:`core.models.preprocess`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import librosa
import numpy as np

from core import spectrogram_geometry as geometry
from core.config import SpectrogramConfig
from core.errors import ConfigError

Kind = Literal["mel", "stft"]

#: Shortest FFT the adaptive rule goes down to.
MIN_N_FFT: int = 8


def fft_params(n_samples: int, *, config: SpectrogramConfig | None = None) -> tuple[int, int]:
    """FFT size and hop for segments of ``n_samples``, halved together while the FFT is longer.

    Parameters
    ----------
    n_samples : int
        Segment length in samples.
    config : SpectrogramConfig, optional

    Returns
    -------
    n_fft, hop_length : int
    """
    config = config or SpectrogramConfig()
    if n_samples < MIN_N_FFT:
        raise ConfigError(f"segment of {n_samples} samples; expected at least {MIN_N_FFT} (longer window_s)")
    n_fft, hop = config.n_fft, config.hop_length
    while n_fft > n_samples:
        n_fft //= 2
        hop = max(1, hop // 2)
    return n_fft, hop


def db_matrix(
    kind: Kind,
    segments: np.ndarray,
    *,
    sr: int,
    config: SpectrogramConfig | None = None,
    top_hz: float | None = None,
) -> np.ndarray:
    """Mel or STFT power in dB of every segment, fixed to ``config.frames`` columns.

    The study's calls (module docstring): Mel frames centred (``center=True``), STFT
    frames not (``center=False``); with ``config.fit`` both are uncentred and fitted.

    Parameters
    ----------
    kind : {"mel", "stft"}
    segments : np.ndarray [shape=(n, L)]
        Equal-length segments.
    sr : int
        Sample rate in Hz (the STFT uses it with ``config.fit`` only).
    config : SpectrogramConfig, optional
    top_hz : float, optional
        With ``config.fit``: the band top of these segments' recording
        (:func:`core.spectrogram_geometry.band_top_hz`), the analysis Nyquist by default;
        the mel filters span 0 Hz..``top_hz`` and the STFT bins below it are resampled
        onto :func:`matrix_shape`'s rows.

    Returns
    -------
    db : np.ndarray [shape=(n, rows, frames), dtype=float32]
        Row 0 is the lowest frequency (0 Hz for the STFT). ``rows`` is ``n_mels``, or
        ``n_fft // 2 + 1`` with the adaptive ``n_fft`` of :func:`fft_params` (study); with
        ``config.fit``, ``rows`` and ``frames`` are :func:`matrix_shape`'s (no empty
        filter, no repeated column).
    """
    config = config or SpectrogramConfig()
    center = kind == "mel" and not config.fit
    power, n_fft, (rows, columns) = _batch_power(kind, segments, sr=sr, config=config, center=center)
    if power is None:
        return np.zeros((0, rows, columns), dtype=np.float32)
    # the study's top is the analysis Nyquist (librosa's default fmax, every STFT bin)
    top = (top_hz or sr / 2) if config.fit else sr / 2
    if kind == "mel":
        basis = geometry.mel_basis(sr, n_fft, rows, top)
        # One matrix product over all frames of all segments (faster than a batched matmul).
        n, bins, frames = power.shape
        flat = power.transpose(1, 0, 2).reshape(bins, n * frames)
        power = (basis @ flat).reshape(rows, n, frames).transpose(1, 0, 2)
    elif config.fit:
        power = geometry.band_stft_rows(power, sr=sr, n_fft=n_fft, top_hz=top, rows=rows)
    return fix_frames(_power_to_db(power, top_db=config.top_db), frames=columns)


def matrix_shape(
    kind: Kind, *, sr: int, n_samples: int, config: SpectrogramConfig | None = None
) -> tuple[int, int]:
    """Rows and columns of a segment's dB matrix.

    Returns
    -------
    rows, columns : int
        The study's ``(n_mels or n_fft // 2 + 1, frames)``; with ``config.fit`` the
        fitted mel count or STFT rows of the narrowest band, and the segment's own
        frame count.
    """
    config = config or SpectrogramConfig()
    n_fft, hop = fft_params(n_samples, config=config)
    if kind not in ("mel", "stft"):
        raise ConfigError(f"spectrogram kind={kind!r}; expected mel or stft")
    if not config.fit:
        return (config.n_mels if kind == "mel" else n_fft // 2 + 1), config.frames
    rows = geometry.fitted_mels(sr, n_fft, config) if kind == "mel" else geometry.stft_rows(sr, n_fft, config)
    return rows, geometry.fitted_frames(n_samples, n_fft, hop)


def fix_frames(db: np.ndarray, *, frames: int) -> np.ndarray:
    """Cut or extend the last axis to ``frames`` columns, extending by repeating the last column.

    Parameters
    ----------
    db : np.ndarray [shape=(..., rows, t)]

    Returns
    -------
    db : np.ndarray [shape=(..., rows, frames), dtype=float32]
    """
    t = db.shape[-1]
    if t >= frames:
        return np.ascontiguousarray(db[..., :frames], dtype=np.float32)
    pad = [(0, 0)] * (db.ndim - 1) + [(0, frames - t)]
    return np.pad(db, pad, mode="edge").astype(np.float32, copy=False)


def contrast_limits(
    db: np.ndarray, *, config: SpectrogramConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-segment dB values mapped to black and white.

    Parameters
    ----------
    db : np.ndarray [shape=(n, rows, cols)]
    config : SpectrogramConfig, optional
        Percentiles (5, 95) and the minimum window (10 dB).

    Returns
    -------
    low, high : np.ndarray [shape=(n,), dtype=float32]
        ``high - low >= min_range_db``, widened symmetrically around the middle.
    """
    config = config or SpectrogramConfig()
    flat = db.reshape(db.shape[0], -1)
    low, high = np.percentile(flat, [config.contrast_low_pct, config.contrast_high_pct], axis=1)
    mid = (low + high) / 2
    half = np.maximum(high - low, config.min_range_db) / 2
    return (mid - half).astype(np.float32), (mid + half).astype(np.float32)


def to_grey_images(db: np.ndarray, *, config: SpectrogramConfig | None = None) -> np.ndarray:
    """Grey images of dB matrices: contrast, low frequencies at the bottom, resized.

    Parameters
    ----------
    db : np.ndarray [shape=(n, rows, cols)]
        Row 0 is the lowest frequency.
    config : SpectrogramConfig, optional

    Returns
    -------
    grey : np.ndarray [shape=(n, S, S), dtype=uint8]
        S = ``config.image_size``; row 0 is the highest frequency.
    """
    config = config or SpectrogramConfig()
    size = config.image_size
    out = np.empty((db.shape[0], size, size), dtype=np.uint8)
    if db.shape[0] == 0:
        return out
    low, high = contrast_limits(db, config=config)
    scale = (255.0 / (high - low))[:, None, None]
    grey = np.clip((db[:, ::-1, :] - low[:, None, None]) * scale, 0.0, 255.0)
    # uint8 before resizing, as the study's PNG was; cv2's uint8 path is ~4x faster than float.
    grey = np.rint(grey).astype(np.uint8)
    for i in range(grey.shape[0]):
        cv2.resize(grey[i], (size, size), dst=out[i], interpolation=cv2.INTER_LINEAR)
    return out


def tile_channels(grey: np.ndarray) -> np.ndarray:
    """Grey images as 3-channel images without copying.

    Parameters
    ----------
    grey : np.ndarray [shape=(n, S, S)]

    Returns
    -------
    images : np.ndarray [shape=(n, S, S, 3)]
        A read-only broadcast view of ``grey`` (``np.array(images)`` gives a writeable copy).
    """
    return np.broadcast_to(grey[..., None], (*grey.shape, 3))


def to_images(db: np.ndarray, *, config: SpectrogramConfig | None = None) -> np.ndarray:
    """3-channel uint8 images of dB matrices (:func:`to_grey_images` then :func:`tile_channels`).

    Returns
    -------
    images : np.ndarray [shape=(n, S, S, 3), dtype=uint8]
        Read-only broadcast view.
    """
    return tile_channels(to_grey_images(db, config=config))


@dataclass(frozen=True)
class SegmentImages:
    """Both branches of a batch of segments: dB matrices and grey images.

    Attributes
    ----------
    mel_db, stft_db : np.ndarray [shape=(n, rows, frames), dtype=float32]
        :func:`db_matrix` of each kind, row 0 the lowest frequency.
    mel_grey, stft_grey : np.ndarray [shape=(n, S, S), dtype=uint8]
        :func:`to_grey_images` of them (:func:`tile_channels` gives the model's 3 channels).
    """

    mel_db: np.ndarray
    stft_db: np.ndarray
    mel_grey: np.ndarray
    stft_grey: np.ndarray


def segment_images(
    segments: np.ndarray,
    *,
    sr: int,
    config: SpectrogramConfig | None = None,
    top_hz: float | np.ndarray | None = None,
) -> SegmentImages:
    """The Mel and STFT matrices and images of every segment: the one way segment images are made.

    Parameters
    ----------
    segments : np.ndarray [shape=(n, L)]
        Equal-length segments.
    sr : int
        Sample rate in Hz.
    config : SpectrogramConfig, optional
    top_hz : float or np.ndarray [shape=(n,)], optional
        With ``config.fit``: the band top of the segments' recording, or one per segment
        (segments of several recordings; one batched pass per distinct top). Ignored otherwise.

    Returns
    -------
    SegmentImages
    """
    config = config or SpectrogramConfig()
    segments = np.asarray(segments, dtype=np.float32)
    tops = np.broadcast_to(np.asarray(top_hz if config.fit else np.nan, dtype=float), segments.shape[:1])
    groups = np.unique(tops) if config.fit and top_hz is not None and tops.size else [None]
    mel = stft = None
    for top in groups:
        rows = tops == top if top is not None else slice(None)
        part_mel = db_matrix("mel", segments[rows], sr=sr, config=config, top_hz=top)
        part_stft = db_matrix("stft", segments[rows], sr=sr, config=config, top_hz=top)
        if mel is None or stft is None:
            mel = np.empty((segments.shape[0], *part_mel.shape[1:]), np.float32)
            stft = np.empty((segments.shape[0], *part_stft.shape[1:]), np.float32)
        mel[rows], stft[rows] = part_mel, part_stft
    assert mel is not None and stft is not None
    return SegmentImages(mel, stft, to_grey_images(mel, config=config), to_grey_images(stft, config=config))


def matrix_row_hz(
    kind: Kind,
    *,
    sr: int,
    n_samples: int,
    config: SpectrogramConfig | None = None,
    top_hz: float | None = None,
) -> np.ndarray:
    """Frequency of each dB-matrix row (row 0 = lowest); ``top_hz`` is the recording's band top (fit only).

    Mel rows are the filters' centre frequencies (``librosa.mel_frequencies``); STFT
    rows are the FFT bin frequencies.

    Returns
    -------
    hz : np.ndarray [shape=(rows,), dtype=float64]
    """
    config = config or SpectrogramConfig()
    n_fft, _ = fft_params(n_samples, config=config)
    rows, _ = matrix_shape(kind, sr=sr, n_samples=n_samples, config=config)
    top = top_hz or sr / 2
    if kind == "mel":
        return librosa.mel_frequencies(rows + 2, fmin=0.0, fmax=top if config.fit else sr / 2)[1:-1]
    if config.fit:
        return np.linspace(0.0, top, rows)
    return librosa.fft_frequencies(sr=sr, n_fft=n_fft)


def matrix_column_ms(
    kind: Kind, *, sr: int, n_samples: int, config: SpectrogramConfig | None = None
) -> np.ndarray:
    """Centre time of each dB-matrix column, in ms from the segment's start.

    Mel frames (``center=True``) are centred on ``t * hop``; STFT frames
    (``center=False``) on ``t * hop + n_fft / 2``. Columns past the segment's real
    frame count (which repeat its last frame) continue the same grid.

    Returns
    -------
    ms : np.ndarray [shape=(frames,), dtype=float64]
    """
    config = config or SpectrogramConfig()
    n_fft, hop = fft_params(n_samples, config=config)
    if kind not in ("mel", "stft"):
        raise ConfigError(f"spectrogram kind={kind!r}; expected mel or stft")
    offset = 0.0 if kind == "mel" and not config.fit else n_fft / 2
    _, columns = matrix_shape(kind, sr=sr, n_samples=n_samples, config=config)
    return (np.arange(columns) * hop + offset) / sr * 1000.0


def real_frames(kind: Kind, *, n_samples: int, config: SpectrogramConfig | None = None) -> int:
    """Number of columns computed from the signal before the time axis was fixed."""
    config = config or SpectrogramConfig()
    n_fft, hop = fft_params(n_samples, config=config)
    if kind == "mel" and not config.fit:
        return 1 + n_samples // hop
    return 1 + (n_samples - n_fft) // hop


def image_axis(values: np.ndarray, size: int, *, flip: bool = False) -> np.ndarray:
    """A dB-matrix axis (:func:`matrix_row_hz`, :func:`matrix_column_ms`) at each of the image's pixels.

    The image is the matrix resized with ``cv2.INTER_LINEAR``, so each pixel shows the
    axis value at its source coordinate (:func:`source_coordinates`).

    Parameters
    ----------
    values : np.ndarray [shape=(n,)]
        The matrix axis: Hz per row (row 0 = lowest) or ms per column.
    size : int
        Image side in pixels (``SpectrogramConfig.image_size``).
    flip : bool
        For rows: image row 0 is the top, the matrix's last (highest) row.

    Returns
    -------
    axis : np.ndarray [shape=(size,), dtype=float64]
    """
    values = np.asarray(values, dtype=float)
    source = source_coordinates(values.shape[0], size)
    return np.interp(values.shape[0] - 1 - source if flip else source, np.arange(values.shape[0]), values)


def _batch_power(
    kind: Kind, segments: np.ndarray, *, sr: int, config: SpectrogramConfig, center: bool
) -> tuple[np.ndarray | None, int, tuple[int, int]]:
    """Power spectra [shape=(n, bins, t)] of a batch (None when it is empty), ``n_fft``, the matrix shape."""
    segments = np.asarray(segments, dtype=np.float32)
    if segments.ndim != 2:
        raise ConfigError(f"segments of shape {segments.shape}; expected (n_segments, n_samples)")
    n_fft, hop = fft_params(segments.shape[1], config=config)
    shape = matrix_shape(kind, sr=sr, n_samples=segments.shape[1], config=config)
    if segments.shape[0] == 0:
        return None, n_fft, shape
    return np.abs(librosa.stft(segments, n_fft=n_fft, hop_length=hop, center=center)) ** 2, n_fft, shape


def _power_to_db(power: np.ndarray, *, top_db: float) -> np.ndarray:
    """``librosa.power_to_db(ref=1.0, top_db=top_db)`` applied to each segment separately."""
    db = librosa.power_to_db(power, ref=1.0, top_db=None)
    floor = db.max(axis=(-2, -1), keepdims=True) - top_db
    return np.maximum(db, floor)


def source_coordinates(n_source: int, n_dest: int) -> np.ndarray:
    """Source index sampled by each destination pixel under ``cv2.INTER_LINEAR``."""
    source = (np.arange(n_dest) + 0.5) * (n_source / n_dest) - 0.5
    return np.clip(source, 0, n_source - 1)
