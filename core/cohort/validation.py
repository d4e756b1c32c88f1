"""Inspection of one audio file and the problem rows of the validation report.

Every check turns into a :class:`Problem` with a severity: "error" means the item is
excluded from the cohort tables, "warning" means it is kept and the fact is noted.
Reasons are plain sentences that start with a fixed phrase ("clipped:", "stereo:", ...)
so a reader and a test can tell them apart; they never hold a raw identifier. The audio
checks themselves are the audio gate's (:mod:`core.audio_gate`), the same that
preprocessing and prediction apply, so a file validation keeps is a file they can read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from core.audio_gate import AUDIO_SUFFIXES, CLIP_FRACTION, SILENCE_PEAK, Severity, examine
from core.cohort.model import PROBLEM_COLUMNS
from core.config import AudioConfig

#: Rate preprocessing resamples to by default; validation checks that a file stays audible there.
ANALYSIS_RATE: int = AudioConfig().sample_rate

__all__ = [
    "AUDIO_SUFFIXES",
    "CLIP_FRACTION",
    "SILENCE_PEAK",
    "AudioCheck",
    "Problem",
    "Severity",
    "inspect_audio",
    "problems_frame",
]


class Problem(NamedTuple):
    """One row of the validation report (columns :data:`PROBLEM_COLUMNS`)."""

    source: str
    severity: Severity
    reason: str


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """Problems as a table with columns :data:`PROBLEM_COLUMNS`, errors first, then by source."""
    frame = pd.DataFrame(problems, columns=list(PROBLEM_COLUMNS)).astype("string")
    order = frame["severity"].map({"error": 0, "warning": 1})
    return (
        frame.assign(_order=order)
        .sort_values(["_order", "source"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


@dataclass(frozen=True)
class AudioCheck:
    """What one file holds and what is wrong with it.

    Attributes
    ----------
    sample_rate, channels, frames : int
        As stored (0 when unreadable).
    duration_s : float
        ``frames / sample_rate``.
    issues : tuple of (severity, reason)
        Problems found, in check order.
    """

    sample_rate: int
    channels: int
    frames: int
    duration_s: float
    issues: tuple[tuple[Severity, str], ...]

    @property
    def usable(self) -> bool:
        """True when no issue is an error."""
        return all(severity != "error" for severity, _ in self.issues)


def inspect_audio(
    path: Path, *, min_duration_s: float = 0.3, analysis_rate: int = ANALYSIS_RATE
) -> AudioCheck:
    """Check one recording through the audio gate, plus the analysis-window warning.

    Checks, in order: the gate's (:func:`core.audio_gate.examine`: readable, bounds on
    rate/channels/duration/data size, every declared frame present, NaN or infinite
    values, silence of the mono mix incl. DC-only and anti-phase stereo, clipping,
    stereo); for a file stored at another rate than ``analysis_rate``, still audible once
    resampled (as preprocessing does it); then shorter than ``min_duration_s``.

    Parameters
    ----------
    path : Path
        An audio file.
    min_duration_s : float
        Analysis window; shorter recordings are kept with a warning.
    analysis_rate : int
        Rate preprocessing resamples to (16 kHz in every preset).

    Returns
    -------
    AudioCheck
        Stored format and the issues found; never raises for a bad file.
    """
    from core.audio import analysis_signal, silent_after_resampling
    from core.errors import AudioError

    report = examine(path, keep_signal=True)
    issues = list(report.issues)
    if report.usable and report.signal is not None and report.sample_rate != analysis_rate:
        try:
            analysis_signal(report.signal, report.sample_rate, target_rate=analysis_rate, name=path.name)
        except AudioError:
            issues.append(("error", silent_after_resampling(analysis_rate)))
    duration = report.duration_s
    if report.usable and duration < min_duration_s:
        issues.append(
            (
                "warning",
                f"shorter than the analysis window: {duration:.3f} s < {min_duration_s:g} s; "
                "kept (preprocessing applies its short-clip policy)",
            )
        )
    return AudioCheck(report.sample_rate, report.channels, report.frames, duration, tuple(issues))
