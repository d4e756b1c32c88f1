"""Frequency bands and time chunks of a spectrogram image, with their boundaries in Hz and ms.

Images have the lowest frequency at the bottom (row S-1). Band 0 is the LOWEST band
(bottom rows) and band K-1 the highest; chunk 0 is the earliest time (left columns).
The rows (columns) are split into K near-equal parts of ``round(S * i / K)`` pixels.

Boundaries come from the frequency and time each image row and column shows
(:func:`core.spectrogram.image_axis` of the matrix's Hz per row and ms per column):
an inner boundary lies halfway between the two pixels either side of it, the outer
boundaries are 0 Hz and sr/2 (the image spans the whole spectrum) and the first
column's start clipped at 0 ms. Time columns past the segment's real frames repeat
its last frame (the time axis is padded to a fixed number of frames);
``signal_fraction`` says how much of a chunk is real signal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.config import PreprocessConfig
from core.errors import ExplainError

AXES: tuple[str, ...] = ("frequency", "time")


def band_rows(size: int, k: int) -> list[tuple[int, int]]:
    """Image rows ``[start, stop)`` of K frequency bands, band 0 the lowest (bottom).

    Parameters
    ----------
    size : int
        Image side S.
    k : int
        Number of bands, 1..S.

    Returns
    -------
    rows : list of (int, int), length K
    """
    edges = _edges(size, k)
    return [(size - int(edges[i + 1]), size - int(edges[i])) for i in range(k)]


def chunk_columns(size: int, k: int) -> list[tuple[int, int]]:
    """Image columns ``[start, stop)`` of K time chunks, chunk 0 the earliest (left).

    Returns
    -------
    columns : list of (int, int), length K
    """
    edges = _edges(size, k)
    return [(int(edges[i]), int(edges[i + 1])) for i in range(k)]


def _edges(size: int, k: int) -> np.ndarray:
    if not 1 <= k <= size:
        raise ExplainError(f"{k} regions on an image of {size} pixels; expected 1..{size}")
    return np.rint(np.linspace(0, size, k + 1)).astype(int)


@dataclass(frozen=True)
class ImageAxes:
    """What each image row and column shows, per branch.

    Attributes
    ----------
    row_hz : dict of str to np.ndarray [shape=(S,)]
        Frequency of each row, row 0 = top = highest.
    column_ms : dict of str to np.ndarray [shape=(S,)]
        Time of each column from the segment's start.
    real_columns : dict of str to np.ndarray [shape=(S,), dtype=bool]
        True where the column shows a frame computed from the signal (not padding).
    nyquist_hz : float
        sr / 2.
    empty_rows : dict of str to np.ndarray [shape=(S,), dtype=bool]
        True where a row shows mostly empty mel filters (:mod:`core.spectrogram_geometry`).
    segment_ms : float
        The segment's real length; time axes end here.
    captions : dict of str to str
        Per branch, what in its images is not signal, in words.
    """

    row_hz: dict[str, np.ndarray]
    column_ms: dict[str, np.ndarray]
    real_columns: dict[str, np.ndarray]
    nyquist_hz: float
    empty_rows: dict[str, np.ndarray] = field(default_factory=dict)
    segment_ms: float = float("nan")
    captions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: PreprocessConfig) -> ImageAxes:
        """Axes of the images a preprocessing config produces (:mod:`core.spectrogram_geometry`)."""
        from core.spectrogram_geometry import image_geometry

        geometry = image_geometry(config)
        return cls(
            row_hz={k: g.row_hz for k, g in geometry.items()},
            column_ms={k: g.column_ms for k, g in geometry.items()},
            real_columns={k: ~g.padded_columns for k, g in geometry.items()},
            nyquist_hz=config.audio.sample_rate / 2,
            empty_rows={k: g.empty_rows for k, g in geometry.items()},
            segment_ms=next(iter(geometry.values())).segment_ms,
            captions={k: g.caption() for k, g in geometry.items()},
        )

    @property
    def size(self) -> int:
        return int(next(iter(self.row_hz.values())).shape[0])


#: Columns of :func:`region_table`.
REGION_COLUMNS: tuple[str, ...] = (
    "branch",
    "axis",
    "region",
    "start",
    "stop",
    "low_hz",
    "high_hz",
    "start_ms",
    "end_ms",
    "signal_fraction",
)


def region_table(
    size: int, *, bands: int = 10, chunks: int = 10, axes: ImageAxes | None = None
) -> pd.DataFrame:
    """The regions occlusion removes, one row per (branch, axis, region).

    Parameters
    ----------
    size : int
        Image side S.
    bands, chunks : int
        K frequency bands and K time chunks.
    axes : ImageAxes, optional
        Physical axes; without it the Hz/ms columns are NaN.

    Returns
    -------
    regions : pd.DataFrame
        Columns ``branch, axis, region, start, stop`` (pixel rows for "frequency",
        columns for "time"), ``low_hz, high_hz`` (frequency rows), ``start_ms, end_ms,
        signal_fraction`` (time rows).
    """
    if axes is not None and axes.size != size:
        raise ExplainError(f"image axes are for {axes.size}-pixel images, the images have {size}")
    rows = [
        {"branch": branch, "axis": axis, "region": i, "start": start, "stop": stop}
        | _physical(axes, branch, axis, start, stop)
        for branch in ("mel", "stft")
        for axis, spans in (("frequency", band_rows(size, bands)), ("time", chunk_columns(size, chunks)))
        for i, (start, stop) in enumerate(spans)
    ]
    return pd.DataFrame(rows).reindex(columns=list(REGION_COLUMNS))


def _physical(axes: ImageAxes | None, branch: str, axis: str, start: int, stop: int) -> dict[str, float]:
    """Hz bounds of a band, or ms bounds and signal fraction of a chunk (NaN without axes)."""
    if axis == "frequency":
        low, high = _band_hz(axes, branch, start, stop) if axes else (np.nan, np.nan)
        return {"low_hz": low, "high_hz": high}
    if not axes:
        return {"start_ms": np.nan, "end_ms": np.nan, "signal_fraction": np.nan}
    begin, end = _chunk_ms(axes, branch, start, stop)
    fraction = float(axes.real_columns[branch][start:stop].mean())
    return {"start_ms": begin, "end_ms": end, "signal_fraction": fraction}


def _pixel_edges(values: np.ndarray) -> np.ndarray:
    mid = (values[:-1] + values[1:]) / 2
    first = values[0] - (mid[0] - values[0]) if values.size > 1 else values[0]
    last = values[-1] + (values[-1] - mid[-1]) if values.size > 1 else values[-1]
    return np.concatenate([[first], mid, [last]])


def _band_hz(axes: ImageAxes, branch: str, start: int, stop: int) -> tuple[float, float]:
    # Rows run top (high) to bottom (low); the outer edges are pinned to 0 Hz and sr/2.
    edges = _pixel_edges(axes.row_hz[branch])
    edges[0], edges[-1] = axes.nyquist_hz, 0.0
    return float(edges[stop]), float(edges[start])


def _chunk_ms(axes: ImageAxes, branch: str, start: int, stop: int) -> tuple[float, float]:
    edges = _pixel_edges(axes.column_ms[branch])
    edges[0] = max(edges[0], 0.0)
    if np.isfinite(axes.segment_ms):  # nothing is signal past the segment's end
        edges = np.minimum(edges, axes.segment_ms)
    return float(edges[start]), float(edges[stop])


def region_words(row: pd.Series | object, *, ms_digits: int = 1) -> str:
    """Where a region lies, in words: "250–500 Hz", "12.5–25.0 ms" or "padding after 50.0 ms".

    Parameters
    ----------
    row : pd.Series or a row tuple
        One row of :func:`region_table` (or a table carrying its columns).
    ms_digits : int
        Decimals of the millisecond bounds.

    Returns
    -------
    str
        A band's Hz range; a chunk's ms range, or, for a chunk wholly past the segment's
        end (no real signal), the padding it covers; "band k" / "chunk k" without axes.
    """
    get = row.get if isinstance(row, pd.Series) else lambda key: getattr(row, key, None)
    if get("axis") == "frequency":
        if pd.isna(get("low_hz")):
            return f"band {int(get('region')) + 1}"
        return f"{get('low_hz'):.0f}–{get('high_hz'):.0f} Hz"
    if pd.isna(get("start_ms")):
        return f"chunk {int(get('region')) + 1}"
    if get("signal_fraction") == 0:
        return f"padding after {get('end_ms'):.{ms_digits}f} ms"
    return f"{get('start_ms'):.{ms_digits}f}–{get('end_ms'):.{ms_digits}f} ms"
