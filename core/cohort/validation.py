"""Inspection of one audio file and the problem rows of the validation report.

Every check turns into a :class:`Problem` with a severity: "error" means the item is
excluded from the cohort tables, "warning" means it is kept and the fact is noted.
Reasons are plain sentences that start with a fixed phrase ("clipped:", "stereo:", ...)
so a reader and a test can tell them apart; they never hold a raw identifier.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
import soundfile as sf

from core.cohort.model import PROBLEM_COLUMNS

Severity = Literal["error", "warning"]

#: Peak below this (−80 dBFS, under one 16-bit LSB of real signal) means the file is silent.
SILENCE_PEAK = 1e-4
#: Share of samples at full scale from which a file is reported as clipped (0.1 %).
CLIP_FRACTION = 1e-3

#: File suffixes treated as recordings (case-insensitive); others (reports, sheets) are ignored.
AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".ogg", ".aif", ".aiff")

# Leading bytes of the audio containers libsndfile reads; anything else is "not audio".
_AUDIO_MAGIC: tuple[bytes, ...] = (b"RIFF", b"RIFX", b"RF64", b"fLaC", b"OggS", b"FORM", b"caff", b"wvpk")


class Problem(NamedTuple):
    """One row of the validation report (columns :data:`PROBLEM_COLUMNS`)."""

    source: str
    severity: Severity
    reason: str


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """Problems as a table with columns :data:`PROBLEM_COLUMNS`, errors first, then by source."""
    frame = pd.DataFrame(problems, columns=list(PROBLEM_COLUMNS)).astype("string")
    order = frame["severity"].map({"error": 0, "warning": 1})
    return (frame.assign(_order=order).sort_values(["_order", "source"], kind="stable")
            .drop(columns="_order").reset_index(drop=True))


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


def _unusable(reason: str, *, sample_rate: int = 0, channels: int = 0) -> AudioCheck:
    return AudioCheck(sample_rate, channels, 0, 0.0, (("error", reason),))


def _libsndfile_message(exc: Exception) -> str:
    """The library's own words without the file path it quotes (paths carry identifiers)."""
    message = str(exc)
    message = re.sub(r"^Error opening .*?: ", "", message)
    return re.sub(r"'[^']*[/\\][^']*'", "the file", message).strip() or type(exc).__name__


def wav_missing_bytes(path: Path) -> int:
    """Bytes of audio data a RIFF/WAVE header declares but the file does not hold.

    libsndfile silently reads what is there, so a copy cut short looks like a short
    recording; this reads the chunk headers to tell. Returns 0 for other formats.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        pos = 12
        while pos + 8 <= size:
            handle.seek(pos)
            chunk_id, chunk_size = struct.unpack("<4sI", handle.read(8))
            if chunk_id == b"data":
                # 0 and 0xFFFFFFFF are placeholders left by streaming writers
                if chunk_size in (0, 0xFFFFFFFF):
                    return 0
                return max(0, pos + 8 + chunk_size - size)
            pos += 8 + chunk_size + (chunk_size & 1)
    return 0


def _full_scale(subtype: str) -> float:
    """Largest magnitude a sample of this subtype can hold, as read in float64."""
    match = re.fullmatch(r"PCM_(?:S|U)?(\d+)", subtype)
    if match:
        bits = int(match.group(1))
        return 1.0 - 2.0 ** -(bits - 1)
    return 1.0


class _SampleStats(NamedTuple):
    samples: int
    nonfinite: int
    peak: float
    clipped: int


def _sample_stats(path: Path, *, subtype: str, block_frames: int = 1 << 18) -> _SampleStats:
    """Counts over every sample, read in blocks so a long file never sits in memory whole."""
    # float32 holds 16- and 24-bit full scale exactly at half the memory traffic of float64
    dtype = "float64" if subtype in ("PCM_32", "DOUBLE") else "float32"
    full_scale = _full_scale(subtype)
    samples = nonfinite = clipped = 0
    peak = 0.0
    for block in sf.blocks(str(path), blocksize=block_frames, dtype=dtype, always_2d=True):
        if not block.size:
            continue
        samples += block.size
        magnitude = np.abs(block)
        if not np.isfinite(magnitude).all():
            finite = np.isfinite(magnitude)
            nonfinite += int(block.size - np.count_nonzero(finite))
            magnitude = np.where(finite, magnitude, 0)
        peak = max(peak, float(magnitude.max()))
        clipped += int(np.count_nonzero(magnitude >= full_scale))
    return _SampleStats(samples, nonfinite, peak, clipped)


def inspect_audio(path: Path, *, min_duration_s: float = 0.3) -> AudioCheck:
    """Read one recording with soundfile and check it.

    Checks, in order: readable at all (not audio / corrupt / truncated), zero length,
    NaN or infinite samples, all-silent, clipped (≥ 0.1 % of samples at full scale),
    stereo (mixed down on load), shorter than ``min_duration_s``.

    Parameters
    ----------
    path : Path
        An audio file.
    min_duration_s : float
        Analysis window; shorter recordings are kept with a warning.

    Returns
    -------
    AudioCheck
        Stored format and the issues found; never raises for a bad file.
    """
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        return _unusable(f"unreadable or corrupt audio file: cannot open it ({type(exc).__name__})")
    if not magic:
        return _unusable("zero length: the file is empty (0 bytes)")
    if not magic.startswith(_AUDIO_MAGIC):
        return _unusable("not audio: the file does not start with any audio format header")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile reports damaged headers with several exception types
        return _unusable(f"unreadable or corrupt audio file: {_libsndfile_message(exc)}")
    rate, channels = int(info.samplerate), int(info.channels)
    missing = wav_missing_bytes(path)
    if missing:
        return _unusable(
            f"unreadable or corrupt audio file: truncated, {missing} bytes of the audio data its "
            "header declares are missing", sample_rate=rate, channels=channels)
    if info.frames == 0:
        return _unusable("zero length: the file holds no samples", sample_rate=rate, channels=channels)
    try:
        stats = _sample_stats(path, subtype=info.subtype)
    except Exception as exc:
        return _unusable(f"unreadable or corrupt audio file: {_libsndfile_message(exc)}",
                         sample_rate=rate, channels=channels)
    frames = stats.samples // max(channels, 1)
    duration = frames / rate if rate else 0.0
    issues: list[tuple[Severity, str]] = []
    if stats.nonfinite:
        issues.append(("error", f"NaN samples: {stats.nonfinite} of {stats.samples} samples are NaN or infinite"))
        return AudioCheck(rate, channels, frames, duration, tuple(issues))
    if stats.peak < SILENCE_PEAK:
        level = "every sample is zero" if stats.peak == 0 else f"peak {20 * np.log10(stats.peak):.0f} dBFS"
        issues.append(("error", f"all-silent: {level}"))
        return AudioCheck(rate, channels, frames, duration, tuple(issues))
    clipped = stats.clipped / stats.samples
    if clipped >= CLIP_FRACTION:
        issues.append(("warning", f"clipped: {100 * clipped:.2f} % of samples at full scale; kept"))
    if channels > 1:
        issues.append(("warning", f"stereo: {channels} channels, mixed down to mono on load; kept"))
    if duration < min_duration_s:
        issues.append(("warning", f"shorter than the analysis window: {duration:.3f} s < {min_duration_s:g} s; "
                                  "kept (preprocessing applies its short-clip policy)"))
    return AudioCheck(rate, channels, frames, duration, tuple(issues))
