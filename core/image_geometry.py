"""What each pixel of a spectrogram image shows: Hz per row, ms per column, padding, empty rows.

A preprocessing config turns a segment of ``window_s`` seconds into a square image
per branch (mel, STFT). Not every pixel carries signal:

- **Padded columns.** The time axis is fixed to ``frames`` columns; a segment with
  fewer real frames repeats its last frame (the study's 50 ms segments give 51 mel and
  43 STFT frames of 64, so 21 % and 33 % of the image columns repeat the last frame).
  Maps must not show them as signal and summaries must not name them.
- **Empty mel rows.** With a short FFT (the study's ``n_fft`` 128 at 16 kHz: 63 Hz
  bins) the lowest mel filters are narrower than one FFT bin and catch no bin at
  all (7 of 64 filters). Their rows are the dB floor — black — in every image.

This module is the one place that says so, for any config, in image coordinates
(row 0 = top = highest frequency, as the images are stored).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from core.config import PreprocessConfig, SpectrogramConfig
from core.spectrogram import (
    fft_params,
    image_column_ms,
    image_row_hz,
    matrix_row_hz,
    matrix_shape,
    real_frames,
)

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
                f"({self.padded_fraction:.0%}) repeat the last frame past the {self.segment_ms:.0f} ms segment "
                "(padding to a fixed width) and are not signal"
            )
        if self.empty_filters:
            parts.append(
                f"{self.empty_filters} of {self.n_rows} mel filters (all below {self.empty_below_hz:.0f} Hz) are narrower "
                "than one FFT bin at this FFT size and catch no energy, so the low-frequency rows show dark stripes "
                f"({int(self.empty_rows.sum())} image rows mostly empty) in every image — not silence in the voice"
            )
        name = "Mel" if self.kind == "mel" else "STFT"
        return f"{name} image: " + ("; ".join(parts) if parts else "every pixel is signal") + "."


def empty_mel_filters(*, sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Which mel filters catch no FFT bin (all-zero weights), lowest filter first.

    Returns
    -------
    empty : np.ndarray [shape=(n_mels,), dtype=bool]
    """
    from core.spectrogram import _mel_basis

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        basis = _mel_basis(sr, n_fft, n_mels)
    return np.asarray(basis.max(axis=1) <= 0)


def _source(n_source: int, n_dest: int) -> np.ndarray:
    """Fractional source index each destination pixel samples (cv2.INTER_LINEAR, as the images were made)."""
    return np.clip((np.arange(n_dest) + 0.5) * (n_source / n_dest) - 0.5, 0, n_source - 1)


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
    sr = config.audio.sample_rate
    n_samples = int(round(config.window.window_s * sr))
    spec: SpectrogramConfig = config.spectrogram
    size = spec.image_size
    frames = real_frames(kind, n_samples=n_samples, config=spec)
    # fitted images (``spec.fit``) have the segment's own frames and no empty filter by construction
    n_rows, n_columns = matrix_shape(kind, sr=sr, n_samples=n_samples, config=spec)
    column = np.clip((np.arange(size) + 0.5) * (n_columns / size) - 0.5, 0, n_columns - 1)
    padded = column > frames - 1
    n_fft, _ = fft_params(n_samples, config=spec)
    if kind == "mel":
        empty_filters = (
            np.zeros(n_rows, dtype=bool) if spec.fit else empty_mel_filters(sr=sr, n_fft=n_fft, n_mels=n_rows)
        )
        # Image row r (top = highest) blends matrix rows floor/ceil of its source index;
        # it is empty when at least half its weight comes from empty filters (a dark stripe).
        source = n_rows - 1 - _source(n_rows, size)
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
        row_hz=image_row_hz(kind, sr=sr, n_samples=n_samples, config=spec),
        column_ms=image_column_ms(kind, sr=sr, n_samples=n_samples, config=spec),
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
