"""Maps of the two branches on one physical grid of frequency (Hz) and time (ms).

The mel and STFT images put different frequencies and times at the same pixel: the
mel rows are mel-spaced, the STFT rows linear (the study's middle row is 1678 Hz on
the mel image and 3982 Hz on the STFT image); mel frames are centred on ``t * hop``,
STFT frames on ``t * hop + n_fft / 2``. Subtracting two maps pixel by pixel therefore
compares different places. :func:`to_common_grid` resamples a branch's maps onto a
:class:`CommonGrid` — linear in Hz from 0 to sr/2 (top row highest, as images) and in
ms from 0 to the segment's end — using only the columns that carry signal (padded
columns are never read). Linear interpolation between the pixel centres; beyond a
branch's first or last centre the nearest one is used (the mel image's lowest and
highest filters, the STFT's first and last frame, which cover the segment's edges).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ExplainError
from core.explain.regions import ImageAxes


@dataclass(frozen=True)
class CommonGrid:
    """A physical grid shared by both branches.

    Attributes
    ----------
    hz : np.ndarray [shape=(F,)]
        Frequency of each row, row 0 = top = highest (sr/2), last row 0 Hz.
    ms : np.ndarray [shape=(T,)]
        Time of each column, 0 ms to the segment's real end.
    """

    hz: np.ndarray
    ms: np.ndarray


def common_grid(axes: ImageAxes, *, rows: int | None = None, columns: int | None = None) -> CommonGrid:
    """The grid ΔCAM is computed on: ``rows`` × ``columns`` (default the image side).

    Time ends at the segment's real length (``axes.segment_ms``), or, for axes without
    one, at the last signal column of either branch.
    """
    size = axes.size
    end = axes.segment_ms
    if not np.isfinite(end):
        end = max(float(axes.column_ms[b][axes.real_columns[b]].max()) for b in axes.column_ms)
    return CommonGrid(
        hz=np.linspace(axes.nyquist_hz, 0.0, rows or size),
        ms=np.linspace(0.0, end, columns or size),
    )


def _weights(xp: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices and weights of linear interpolation at ``x`` on increasing ``xp``, clamped at the ends."""
    x = np.clip(x, xp[0], xp[-1])
    hi = (
        np.clip(np.searchsorted(xp, x, side="right"), 1, xp.size - 1)
        if xp.size > 1
        else np.zeros(x.size, int)
    )
    lo = np.maximum(hi - 1, 0)
    span = xp[hi] - xp[lo]
    w = np.divide(x - xp[lo], span, out=np.zeros_like(x, dtype=float), where=span > 0)
    return lo, hi, w


def to_common_grid(maps: np.ndarray, axes: ImageAxes, branch: str, grid: CommonGrid) -> np.ndarray:
    """Resample one branch's image-layout maps onto a common Hz × ms grid.

    Parameters
    ----------
    maps : np.ndarray [shape=(n, S, S)]
        Image layout (row 0 = highest frequency), e.g. upsampled CAMs.
    axes : ImageAxes
        Hz of each row and ms of each column of the branch's images, and which
        columns carry signal.
    branch : {"mel", "stft"}
    grid : CommonGrid

    Returns
    -------
    out : np.ndarray [shape=(n, F, T), dtype=float32]
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3 or maps.shape[1:] != (axes.size, axes.size):
        raise ExplainError(f"{branch} maps of shape {maps.shape}; expected (n, {axes.size}, {axes.size})")
    hz = np.asarray(axes.row_hz[branch], dtype=float)[::-1]  # ascending
    maps = maps[:, ::-1, :]
    lo, hi, w = _weights(hz, grid.hz)
    rows = maps[:, lo, :] * (1 - w)[None, :, None] + maps[:, hi, :] * w[None, :, None]
    real = np.asarray(axes.real_columns[branch], dtype=bool)
    if not real.any():
        raise ExplainError(f"the {branch} images have no column of signal")
    ms = np.asarray(axes.column_ms[branch], dtype=float)[real]
    rows = rows[:, :, real]
    lo, hi, w = _weights(ms, grid.ms)
    out = rows[:, :, lo] * (1 - w)[None, None, :] + rows[:, :, hi] * w[None, None, :]
    return out.astype(np.float32)
