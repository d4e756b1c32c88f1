"""Sliding windows over a voiced region: lengths, positions, and the segments they cut.

The study cuts a span of 0.3 s inside the voiced region into 10 windows of 0.05 s; the
"whole" mode covers the whole region instead. Positions are in samples of the analysis
signal.

Short-clip policy: when the voiced region is shorter than the span, ``"pad"`` places the
span at the region's start and fills everything past the region's end with zeros (the
affected windows are flagged ``padded``); ``"skip"`` returns a plan with no windows and
a plain-language reason, which the dataset builder turns into a validation row.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

from core.config import TrimConfig, WindowConfig
from core.errors import ConfigError


def window_lengths(*, sr: int, config: WindowConfig | None = None) -> tuple[int, int, int]:
    """Window, hop and span lengths in samples.

    The hop is the largest integer that fits ``count`` windows inside the span:
    ``(span - window) // (count - 1)``, i.e. 800, 444, 4800 for the seed preset at
    16 kHz (44.5 % overlap; the study quotes 44.4 %).

    In ``mode="whole"`` the hop is ``hop_s`` in samples and the span is one window
    (the region, not a span, is what gets covered).

    Returns
    -------
    window_length, hop_length, span_length : int
    """
    config = config or WindowConfig()
    window = max(1, round(config.window_s * sr))
    if config.mode == "whole":
        return window, max(1, round(config.hop_s * sr)), window
    span = max(window, round(config.span_s * sr))
    hop = (span - window) // (config.count - 1) if config.count > 1 else 0
    return window, hop, span


def window_config_from_overlap(
    overlap: float, *, span_s: float = 0.3, window_s: float = 0.05, **kwargs: object
) -> WindowConfig:
    """A :class:`WindowConfig` given the overlap instead of the count.

    The count is ``round((span_s - window_s) / hop_s) + 1`` with
    ``hop_s = window_s * (1 - overlap)``: rounded because quoted overlaps are rounded
    (44.4 % gives 9 hops of 27.8 ms = 250.2 ms, i.e. 10 windows). The hop actually used
    is then the largest that fits that count (see :func:`window_lengths`).

    Parameters
    ----------
    overlap : float
        Fraction in [0, 1) (0.444 in the study).
    span_s, window_s : float
        Span and window in seconds.
    **kwargs
        Other :class:`WindowConfig` fields (``position``, ``short_policy``).
    """
    if not 0 <= overlap < 1:
        raise ConfigError(f"window overlap={overlap}; expected 0 <= overlap < 1")
    hop_s = window_s * (1 - overlap)
    count = round((span_s - window_s) / hop_s) + 1
    config = WindowConfig(span_s=span_s, window_s=window_s, count=count, **kwargs)  # type: ignore[arg-type]
    config.validate()
    return config


@dataclass(frozen=True)
class WindowPlan:
    """Where the windows of one recording lie.

    Attributes
    ----------
    region : tuple of (int, int)
        Kept region ``(start, end)`` in samples of the untrimmed signal.
    span : tuple of (int, int)
        The span the windows are cut from; its end passes ``region[1]`` when padded.
    starts, ends : np.ndarray [shape=(k,), dtype=int64]
        Window boundaries in samples of the untrimmed signal (``k == count``, or 0
        when skipped).
    padded : np.ndarray [shape=(k,), dtype=bool]
        True for windows that reach past the region's end (zeros there).
    window_length, hop_length : int
        In samples.
    skipped : str or None
        Reason the short-clip policy skipped the recording, else None.
    """

    region: tuple[int, int]
    span: tuple[int, int]
    starts: np.ndarray
    ends: np.ndarray
    padded: np.ndarray
    window_length: int
    hop_length: int
    skipped: str | None = None

    def __len__(self) -> int:
        return int(self.starts.shape[0])


def plan_windows(
    y: np.ndarray,
    region: tuple[int, int],
    *,
    sr: int,
    config: WindowConfig | None = None,
    envelope: TrimConfig | None = None,
) -> WindowPlan:
    """Place the span inside the kept region and the windows inside the span.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal (used only by ``position="stable"``).
    region : tuple of (int, int)
        Kept region from :func:`trim_region`.
    sr : int
        Sample rate in Hz.
    config : WindowConfig, optional
        Span, window, count, position and short-clip policy.
    envelope : TrimConfig, optional
        Frame and hop of the RMS envelope searched by ``position="stable"``.

    Returns
    -------
    plan : WindowPlan
    """
    config = config or WindowConfig()
    window, hop, span_len = window_lengths(sr=sr, config=config)
    start, end = int(region[0]), int(region[1])
    voiced = end - start
    short = voiced < span_len
    if config.mode == "whole" and not (short and config.short_policy == "skip"):
        starts = whole_region_starts(start, end, window=window, hop=hop, cap=config.count)
        ends = starts + window
        return WindowPlan(
            (start, end), (start, max(end, int(ends[-1]))), starts, ends, ends > end, window, hop
        )
    if short and config.short_policy == "skip":
        empty = np.zeros(0, dtype=np.int64)
        reason = (
            f"voiced region {voiced / sr:.3f} s is shorter than the {span_len / sr:.3f} s span "
            "(short-clip policy: skip)"
        )
        return WindowPlan((start, end), (start, start), empty, empty, empty.astype(bool), window, hop, reason)
    if short:
        span_start = start
    elif config.position == "start":
        span_start = start
    elif config.position == "centre":
        span_start = start + (voiced - span_len) // 2
    else:
        span_start = _most_stable_start(y, start, end, span_len, sr=sr, envelope=envelope or TrimConfig())
    starts = span_start + hop * np.arange(config.count, dtype=np.int64)
    ends = starts + window
    return WindowPlan(
        region=(start, end),
        span=(span_start, span_start + span_len),
        starts=starts,
        ends=ends,
        padded=ends > end,
        window_length=window,
        hop_length=hop,
    )


def whole_region_starts(start: int, end: int, *, window: int, hop: int, cap: int) -> np.ndarray:
    """Window starts covering the whole region ``[start, end)``: every ``hop``, at most ``cap``.

    When more than ``cap`` windows fit at the hop, ``cap`` starts are spread evenly from
    the region's start to the last start that fits (first and last window touch the
    region's ends). A region shorter than one window gets one window at its start.

    Parameters
    ----------
    start, end : int
        Region in samples.
    window, hop, cap : int
        Window length and hop in samples; the most windows kept.

    Returns
    -------
    starts : np.ndarray [shape=(k,), dtype=int64]
        Increasing, ``1 <= k <= cap``.
    """
    last = end - window
    if last <= start:
        return np.array([start], dtype=np.int64)
    n_fit = (last - start) // hop + 1
    if n_fit <= cap:
        return start + hop * np.arange(n_fit, dtype=np.int64)
    return np.rint(np.linspace(start, last, cap)).astype(np.int64)


def cut_segments(y: np.ndarray, plan: WindowPlan) -> np.ndarray:
    """Cut the planned windows, with zeros past the kept region's end.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal the plan was made for.
    plan : WindowPlan

    Returns
    -------
    segments : np.ndarray [shape=(k, window_length), dtype=float32]
    """
    index = plan.starts[:, None] + np.arange(plan.window_length, dtype=np.int64)[None, :]
    inside = index < plan.region[1]
    segments = np.zeros(index.shape, dtype=np.float32)
    segments[inside] = y[index[inside]]
    return segments


def envelope_lengths(sr: int, config: TrimConfig) -> tuple[int, int]:
    frame = max(1, round(config.frame_s * sr))
    hop = max(1, round(config.hop_s * sr))
    return frame, hop


def _most_stable_start(
    y: np.ndarray, start: int, end: int, span_len: int, *, sr: int, envelope: TrimConfig
) -> int:
    """Start of the span (on the envelope hop grid) whose RMS in dB has the smallest std."""
    frame, hop = envelope_lengths(sr, envelope)
    voiced = y[start:end]
    if voiced.shape[0] < frame or span_len < frame:
        return start
    rms = librosa.feature.rms(y=voiced, frame_length=frame, hop_length=hop, center=False)[0]
    db = librosa.amplitude_to_db(rms, ref=1.0, top_db=None)
    per_span = (span_len - frame) // hop + 1
    if db.shape[0] <= per_span:
        return start
    spread = np.lib.stride_tricks.sliding_window_view(db, per_span).std(axis=-1)
    return min(start + int(np.argmin(spread)) * hop, end - span_len)
