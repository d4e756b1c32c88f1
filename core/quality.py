"""Quality checks of a recording before prediction: each a verdict ("pass", "warn", "fail") in plain words.

Readable, not silent, long enough for the run's span, clipping, sample rate, channels,
and a voiced part long enough after the run's trimming. Any "fail" stops a prediction
(:func:`core.predict.predict_recording`). The file goes through the same audio gate as
validation and preprocessing (:mod:`core.audio_gate`). Uploaded bytes live in a private
temporary folder only while they are read (:func:`audio_file`).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.audio import load_audio, trim_region, window_lengths
from core.audio_gate import CLIP_FRACTION, examine
from core.config import PreprocessConfig
from core.errors import AudioError

#: Columns of the quality-check table.
CHECK_COLUMNS: tuple[str, ...] = ("check", "verdict", "value", "reason")
VERDICTS: tuple[str, ...] = ("pass", "warn", "fail")

#: Uploads larger than this are refused before they are read (a sustained vowel is far smaller).
MAX_UPLOAD_BYTES: int = 50 * 1024 * 1024
#: Share of samples at full scale from which clipping fails the check (warns from CLIP_FRACTION).
CLIP_FAIL_FRACTION: float = 0.05
#: A peak below this (−40 dBFS) is very quiet: the recording level is worth a warning.
QUIET_PEAK: float = 0.01
#: Stored rates below this cannot show the voice's harmonics the models were trained on (a verdict of
#: this check, stricter than the audio gate's 4 kHz floor below which no file is read at all).
MIN_SAMPLE_RATE: int = 8_000
#: Gate refusals that mean "nothing to analyse" rather than "not readable".
SILENT_REASONS: tuple[str, ...] = ("all-silent", "anti-phase stereo")
#: Recordings longer than this are unusual for one sustained vowel (only the span is used).
LONG_RECORDING_S: float = 30.0

#: One row of the table: check, verdict, value, reason.
Row = tuple[str, str, str, str]

AudioInput = bytes | str | Path


@contextlib.contextmanager
def audio_file(audio: AudioInput, *, suffix: str = ".wav") -> Iterator[Path]:
    """A readable path for ``audio``: the path itself, or bytes in a temporary file deleted on exit.

    Parameters
    ----------
    audio : bytes, str or Path
        The recording's bytes (an upload) or a file path.
    suffix : str
        File suffix of the temporary copy (".wav", ".flac").
    """
    if not isinstance(audio, (bytes, bytearray)):
        yield Path(audio)
        return
    suffix = suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,5}", suffix or "") else ".wav"
    # A private folder (mode 0700) removed with its content however the block ends.
    with tempfile.TemporaryDirectory(prefix="voe-upload-") as folder:
        path = Path(folder) / f"recording{suffix}"
        path.write_bytes(bytes(audio))
        yield path


@dataclass(frozen=True)
class QualityReport:
    """Quality checks of one recording.

    Attributes
    ----------
    checks : pd.DataFrame
        Columns :data:`CHECK_COLUMNS`, one row per check that ran (checks after an
        unreadable file do not run).
    sample_rate, channels : int
        As stored (0 when unreadable).
    duration_s : float
    """

    checks: pd.DataFrame
    sample_rate: int
    channels: int
    duration_s: float

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return not (self.checks["verdict"] == "fail").any()

    @property
    def failures(self) -> list[str]:
        """Reasons of the failed checks."""
        return self.checks.loc[self.checks["verdict"] == "fail", "reason"].tolist()

    def with_failure(self, check: str, reason: str) -> QualityReport:
        """The same report with one more row: ``check`` failed for ``reason``."""
        row = pd.DataFrame([{"check": check, "verdict": "fail", "value": "—", "reason": reason}])
        rows = pd.concat([self.checks, row], ignore_index=True)
        return QualityReport(rows, self.sample_rate, self.channels, self.duration_s)

    def verdict(self, check: str) -> str:
        """Verdict of one check by name ("" when it did not run)."""
        rows = self.checks[self.checks["check"] == check]
        return str(rows["verdict"].iloc[0]) if not rows.empty else ""


def quality_checks(path: Path, *, config: PreprocessConfig) -> QualityReport:
    """Check a recording before prediction, in plain words.

    The file goes through the audio gate (:func:`core.audio_gate.examine`) first, the
    same gate validation and preprocessing use: a header out of bounds (a sample rate of
    1 Hz, hours of audio) fails "readable" before any sample is read or resampled, and
    the silence rules (all-zero, DC-only, anti-phase stereo) fail "not silent".

    Parameters
    ----------
    path : Path
        The audio file.
    config : PreprocessConfig
        The run's preprocessing: its span, sample rate, trimming and short-clip policy.

    Returns
    -------
    QualityReport
        Never raises for a bad file; a problem is a "fail" row.
    """
    size = path.stat().st_size if path.is_file() else 0
    if size > MAX_UPLOAD_BYTES:
        limit = f"{MAX_UPLOAD_BYTES / 1e6:.0f} MB"
        reason = f"the file is larger than {limit}; a sustained vowel needs a few seconds"
        return _report([("readable", "fail", f"{size / 1e6:.0f} MB", reason)])
    gate = examine(path)
    header, refusal = gate.header, gate.refusal
    silent = refusal is not None and refusal.startswith(SILENT_REASONS)
    if header is None or (refusal is not None and not silent):
        value = f"{header.format} {header.subtype}" if header is not None else "—"
        reason = refusal or "the file cannot be read as audio"
        return _report([("readable", "fail", value, reason)], gate.sample_rate, gate.channels)
    rate, channels, duration = header.sample_rate, header.channels, gate.duration_s
    span_s = config.window.span_s
    rows = [
        ("readable", "pass", f"{header.format} {header.subtype}", "read as audio"),
        _level_check(gate.peak, str(refusal) if silent else None),
        _duration_check(duration, span_s),
        _clipping_check(gate.clipped),
        _rate_check(rate, config.audio.sample_rate),
        _channels_check(channels),
    ]
    if not silent and duration >= span_s:
        rows.append(_voiced_check(path, config=config))
    return _report(rows, rate, channels, duration)


def _report(rows: list[Row], rate: int = 0, channels: int = 0, duration: float = 0.0) -> QualityReport:
    return QualityReport(pd.DataFrame(rows, columns=list(CHECK_COLUMNS)), rate, channels, duration)


def _level_check(peak: float, silence: str | None) -> Row:
    """Silence (the gate's reason) fails; a peak below :data:`QUIET_PEAK` warns."""
    peak_db = 20 * np.log10(peak) if peak > 0 else -np.inf
    level = f"peak {peak_db:.0f} dBFS" if peak > 0 else "every sample is zero"
    if silence is not None:
        return ("not silent", "fail", level, silence)
    if peak < QUIET_PEAK:
        return ("not silent", "warn", level, "very quiet; it is normalised, but noise is amplified with it")
    return ("not silent", "pass", level, "a clear signal")


def _duration_check(duration: float, span_s: float) -> Row:
    if duration < span_s:
        reason = f"shorter than the {span_s:g} s the run analyses; record a sustained vowel of a few seconds"
        return ("duration", "fail", f"{duration:.2f} s", reason)
    if duration > LONG_RECORDING_S:
        reason = f"long for one sustained vowel; only {span_s:g} s of the voiced part is analysed"
        return ("duration", "warn", f"{duration:.1f} s", reason)
    return ("duration", "pass", f"{duration:.2f} s", f"at least the {span_s:g} s the run analyses")


def _clipping_check(clipped: float) -> Row:
    value = f"{100 * clipped:.2f} %"
    if clipped >= CLIP_FAIL_FRACTION:
        reason = "heavily clipped: the distortion changes the spectrum; record again with less gain"
        return ("clipping", "fail", value, reason)
    if clipped >= CLIP_FRACTION:
        return (
            "clipping",
            "warn",
            value,
            "some samples hit full scale; the spectrum may be slightly distorted",
        )
    return ("clipping", "pass", value, "no clipping")


def _rate_check(rate: int, target: int) -> Row:
    value = f"{rate} Hz"
    if rate < MIN_SAMPLE_RATE:
        return (
            "sample rate",
            "fail",
            value,
            f"below {MIN_SAMPLE_RATE} Hz: too coarse for the voice's harmonics",
        )
    if rate < target:
        reason = (
            f"below the run's {target} Hz: frequencies above {rate // 2} Hz are empty, "
            "unlike the training recordings"
        )
        return ("sample rate", "warn", value, reason)
    return (
        "sample rate",
        "pass",
        value,
        f"resampled to the run's {target} Hz" if rate != target else "the run's rate",
    )


def _channels_check(channels: int) -> Row:
    if channels > 1:
        return (
            "channels",
            "warn",
            f"{channels}",
            "stereo: the channels are averaged to mono, as in training",
        )
    return ("channels", "pass", "1", "mono")


def _voiced_check(path: Path, *, config: PreprocessConfig) -> Row:
    """Voiced length after the run's energy trimming, against its span and short-clip policy."""
    sr = config.audio.sample_rate
    try:
        y = load_audio(path, config=config.audio, name="the recording")
    except AudioError as exc:
        return ("voiced part", "fail", "—", str(exc))
    start, end = trim_region(y, sr=sr, config=config.trim)
    _, _, span = window_lengths(sr=sr, config=config.window)
    value, span_s = f"{(end - start) / sr:.2f} s", f"{span / sr:g}"
    if end - start >= span:
        return ("voiced part", "pass", value, f"at least the {span_s} s span after trimming silence")
    if config.window.short_policy == "skip":
        reason = f"the voiced part is shorter than the {span_s} s span and the run skips short clips"
        return ("voiced part", "fail", value, reason)
    reason = f"the voiced part is shorter than the {span_s} s span; the end is zero-padded, as in training"
    return ("voiced part", "warn", value, reason)


__all__ = [
    "CHECK_COLUMNS",
    "VERDICTS",
    "AudioInput",
    "QualityReport",
    "audio_file",
    "quality_checks",
]
