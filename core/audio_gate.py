"""The audio gate: the one place a recording's bytes are checked and read.

Validate (:func:`core.cohort.validation.inspect_audio`), prepare (:func:`core.audio.load_audio`,
used by :mod:`core.dataset`) and predict (:func:`core.quality.quality_checks`) all go
through :func:`examine`, so they accept and refuse the same files with the same words.

Checks, in order; the first failed one refuses the file:

1. **Container** (no sample read): not empty, an audio header, readable by libsndfile.
2. **Bounds from the header** (no sample read): sample rate 4 kHz–384 kHz, 1–16 channels,
   at least 10 ms and at most :data:`MAX_DURATION_S` (10 min). A WAV's data-size field
   must agree with the file's size: missing bytes are a truncated copy, and bytes after
   the data chunk that are not a valid RIFF chunk mean the field lies (a header saying
   64 bytes while 137 KB follow would otherwise be read as 2 ms).
3. **Samples**, read in blocks (memory does not grow with the file): the frames the
   header declares are all there, no NaN or infinite value, and the mono mix (the mean
   of the channels, as the analysis uses) is not silent once its mean is removed. That
   last rule refuses all-zero files, DC-only files and anti-phase stereo whose channels
   cancel, each with its own reason. Clipping and stereo are warnings.

Memory: nothing is read before the bounds hold, so the largest buffer any accepted file
can cause is the mono signal of a 10 min recording at 384 kHz (230 M samples, 0.92 GB
as float32); a usual 5 s vowel at 48 kHz takes under 1 MB. Reasons start with a fixed
phrase ("all-silent:", "sample rate out of range:", ...) and never quote the file path.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf

from core.errors import AudioError
from core.riff import wav_size_issue

Severity = Literal["error", "warning"]
Issue = tuple[Severity, str]

#: Lowest and highest stored sample rate accepted (Hz).
MIN_SAMPLE_RATE: int = 4_000
MAX_SAMPLE_RATE: int = 384_000
#: Longest recording accepted: a sustained vowel lasts seconds; this bounds memory (see module doc).
MAX_DURATION_S: float = 600.0
#: Shortest recording accepted: below 10 ms there is not one glottal cycle of a low voice to analyse.
MIN_DURATION_S: float = 0.01
#: Most channels accepted (each block read holds every channel).
MAX_CHANNELS: int = 16
#: The mono mix, mean removed, peaking below this (−90 dBFS, under one 16-bit step) is silence.
SILENCE_PEAK: float = 10 ** (-90 / 20)
#: Share of samples at full scale from which a file is reported as clipped (0.1 %).
CLIP_FRACTION: float = 1e-3
#: The mono mix this far (dB) below its loudest channel means the channels partly cancel.
CANCEL_DB: float = 20.0

#: File suffixes read as recordings (case-insensitive).
AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".ogg", ".aif", ".aiff")
#: Audio suffixes that are not read (lossy or container formats libsndfile does not open reliably).
UNSUPPORTED_AUDIO_SUFFIXES: tuple[str, ...] = (
    ".mp3",
    ".m4a",
    ".mp4",
    ".aac",
    ".wma",
    ".opus",
    ".amr",
    ".3gp",
    ".webm",
    ".mka",
    ".ape",
    ".wv",
    ".au",
    ".snd",
    ".caf",
    ".w64",
    ".rf64",
    ".raw",
    ".pcm",
    ".mid",
    ".midi",
)

# Leading bytes of the audio containers libsndfile reads; anything else is "not audio".
_AUDIO_MAGIC: tuple[bytes, ...] = (b"RIFF", b"RIFX", b"RF64", b"fLaC", b"OggS", b"FORM", b"caff", b"wvpk")
_BLOCK_SAMPLES = 1 << 20


@dataclass(frozen=True)
class AudioHeader:
    """What a file's header declares (nothing of it is trusted before the bounds hold).

    Attributes
    ----------
    sample_rate, channels, frames : int
    format, subtype : str
        libsndfile's names ("WAV", "PCM_16").
    """

    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate > 0 else 0.0


@dataclass(frozen=True)
class GateReport:
    """What the gate found in one file.

    Attributes
    ----------
    header : AudioHeader or None
        None when the container could not be read at all.
    issues : tuple of (severity, reason)
        In check order; an "error" means the file is refused.
    frames : int
        Frames actually read (0 when the samples were not read).
    peak : float
        Largest absolute sample over all channels.
    mix_peak : float
        Peak of the mono mix after mean removal (what silence is judged on).
    clipped : float
        Share of samples at the format's full scale.
    signal : np.ndarray [shape=(frames,), dtype=float32] or None
        The mono mix at the stored rate, when asked for and the file was accepted.
    """

    header: AudioHeader | None
    issues: tuple[Issue, ...]
    frames: int = 0
    peak: float = 0.0
    mix_peak: float = 0.0
    clipped: float = 0.0
    signal: np.ndarray | None = None

    @property
    def usable(self) -> bool:
        """True when no issue is an error."""
        return self.refusal is None

    @property
    def refusal(self) -> str | None:
        """The reason of the first error, or None when the file is accepted."""
        return next((reason for severity, reason in self.issues if severity == "error"), None)

    @property
    def sample_rate(self) -> int:
        return self.header.sample_rate if self.header else 0

    @property
    def channels(self) -> int:
        return self.header.channels if self.header else 0

    @property
    def duration_s(self) -> float:
        rate = self.sample_rate
        return (
            self.frames / rate if rate and self.frames else (self.header.duration_s if self.header else 0.0)
        )


def _libsndfile_message(exc: Exception) -> str:
    """The library's own words without the file path it quotes (paths carry identifiers)."""
    message = str(exc)
    message = re.sub(r"^Error opening .*?: ", "", message)
    return re.sub(r"'[^']*[/\\][^']*'", "the file", message).strip() or type(exc).__name__


def read_header(path: Path) -> tuple[AudioHeader | None, str | None]:
    """Container and bounds checks, without reading a sample.

    Returns
    -------
    header : AudioHeader or None
        None when the container cannot be read.
    refusal : str or None
        Why the file is refused, or None.
    """
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        return None, f"unreadable or corrupt audio file: cannot open it ({type(exc).__name__})"
    if not magic:
        return None, "zero length: the file is empty (0 bytes)"
    if not magic.startswith(_AUDIO_MAGIC):
        return None, "not audio: the file does not start with any audio format header"
    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile reports damaged headers with several exception types
        return None, f"unreadable or corrupt audio file: {_libsndfile_message(exc)}"
    header = AudioHeader(
        int(info.samplerate), int(info.channels), int(info.frames), str(info.format), str(info.subtype)
    )
    return header, _bounds_refusal(path, header)


def _bounds_refusal(path: Path, header: AudioHeader) -> str | None:
    rate = header.sample_rate
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        return (
            f"sample rate out of range: the header says {rate} Hz; expected "
            f"{MIN_SAMPLE_RATE}–{MAX_SAMPLE_RATE} Hz (refused before reading, so a lying header cannot "
            "make resampling allocate without bound)"
        )
    if not 1 <= header.channels <= MAX_CHANNELS:
        return f"channels out of range: the header says {header.channels}; expected 1–{MAX_CHANNELS}"
    try:
        size_issue = wav_size_issue(path)
    except (OSError, struct.error) as exc:
        return f"unreadable or corrupt audio file: cannot read its chunks ({type(exc).__name__})"
    if size_issue:
        return size_issue
    if header.frames <= 0:
        return "zero length: the file holds no samples"
    if header.duration_s < MIN_DURATION_S:
        return (
            f"too short: {header.frames} sample{'s' if header.frames != 1 else ''} "
            f"({1000 * header.duration_s:.2f} ms); at least {1000 * MIN_DURATION_S:g} ms is needed"
        )
    if header.duration_s > MAX_DURATION_S:
        return (
            f"too long: {header.duration_s:.1f} s; recordings over {MAX_DURATION_S:g} s "
            f"({MAX_DURATION_S / 60:g} min) are refused (a sustained vowel lasts seconds)"
        )
    return None


def full_scale(subtype: str) -> float:
    """Largest magnitude a sample of this subtype holds when read as float (PCM is asymmetric)."""
    match = re.fullmatch(r"PCM_(?:S|U)?(\d+)", subtype)
    return 1.0 - 2.0 ** -(int(match.group(1)) - 1) if match else 1.0


def _db(value: float) -> str:
    return f"{20 * np.log10(value):.0f} dBFS" if value > 0 else "-inf dBFS"


class _Scan:
    """Running statistics over blocks of (frames, channels) float32 samples."""

    def __init__(self, channels: int, limit: float) -> None:
        self.frames = 0
        self.nan = 0
        self.inf = 0
        self.clipped = 0
        self.peak = 0.0
        self.limit = np.float32(limit)
        self.ch_min = np.full(channels, np.inf)
        self.ch_max = np.full(channels, -np.inf)
        self.ch_sum = np.zeros(channels)
        self.mix_min, self.mix_max, self.mix_sum = np.inf, -np.inf, 0.0

    def add(self, block: np.ndarray) -> np.ndarray | None:
        """Count one block; returns its mono mix (None once a non-finite value was seen)."""
        self.frames += block.shape[0]
        finite = np.isfinite(block)
        if not finite.all():
            self.nan += int(np.count_nonzero(np.isnan(block)))
            self.inf += int(np.count_nonzero(np.isinf(block)))
        if self.nan or self.inf:
            return None
        magnitude = np.abs(block)
        self.peak = max(self.peak, float(magnitude.max()))
        self.clipped += int(np.count_nonzero(magnitude >= self.limit))
        self.ch_min = np.minimum(self.ch_min, block.min(axis=0))
        self.ch_max = np.maximum(self.ch_max, block.max(axis=0))
        self.ch_sum += block.sum(axis=0, dtype=np.float64)
        # the same mix load_audio always made: mean over channels in float32
        mix = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)
        self.mix_min = min(self.mix_min, float(mix.min()))
        self.mix_max = max(self.mix_max, float(mix.max()))
        self.mix_sum += float(mix.sum(dtype=np.float64))
        return mix

    def mix_peak(self) -> float:
        mean = self.mix_sum / max(self.frames, 1)
        return max(self.mix_max - mean, mean - self.mix_min, 0.0)

    def channel_peaks(self) -> np.ndarray:
        mean = self.ch_sum / max(self.frames, 1)
        return np.maximum(self.ch_max - mean, mean - self.ch_min)


def _sample_issues(scan: _Scan, header: AudioHeader) -> list[Issue]:
    samples = scan.frames * header.channels
    if scan.frames < header.frames:
        return [
            (
                "error",
                f"unreadable or corrupt audio file: truncated, the header declares {header.frames} frames "
                f"but only {scan.frames} could be read",
            )
        ]
    if scan.nan and scan.inf:
        return [
            (
                "error",
                f"NaN and infinite samples: {scan.nan} NaN and {scan.inf} infinite of {samples} samples",
            )
        ]
    if scan.nan:
        return [("error", f"NaN samples: {scan.nan} of {samples} samples are NaN")]
    if scan.inf:
        return [("error", f"infinite values: {scan.inf} of {samples} samples are +inf or -inf")]
    mix_peak = scan.mix_peak()
    loudest = float(scan.channel_peaks().max())
    if mix_peak < SILENCE_PEAK:
        if scan.peak == 0:
            return [("error", "all-silent: every sample is zero")]
        if header.channels > 1 and loudest >= SILENCE_PEAK:
            return [
                (
                    "error",
                    f"anti-phase stereo: the {header.channels} channels cancel to silence when mixed to "
                    f"mono (the loudest channel peaks at {_db(loudest)}, the mix at {_db(mix_peak)})",
                )
            ]
        if loudest < SILENCE_PEAK and scan.peak >= SILENCE_PEAK:
            return [
                (
                    "error",
                    f"all-silent: only a constant offset (DC) at {_db(scan.peak)}; nothing is left once "
                    "the mean is removed",
                )
            ]
        return [("error", f"all-silent: peak {_db(mix_peak)} after mean removal")]
    issues: list[Issue] = []
    clipped = scan.clipped / max(samples, 1)
    if clipped >= CLIP_FRACTION:
        issues.append(("warning", f"clipped: {100 * clipped:.2f} % of samples at full scale; kept"))
    if header.channels > 1:
        issues.append(("warning", f"stereo: {header.channels} channels, mixed down to mono on load; kept"))
        if 20 * np.log10(loudest / mix_peak) >= CANCEL_DB:
            issues.append(
                (
                    "warning",
                    f"partly anti-phase stereo: the mono mix peaks {20 * np.log10(loudest / mix_peak):.0f}"
                    " dB below the loudest channel; kept",
                )
            )
    return issues


def examine(path: Path | str, *, keep_signal: bool = False) -> GateReport:
    """Check one file through the gate; never raises for a bad file.

    Parameters
    ----------
    path : Path or str
        The audio file.
    keep_signal : bool
        Also return the mono mix at the stored rate (float32), for :func:`read_mono`.

    Returns
    -------
    GateReport
        Header, issues (first error = refusal), sample statistics, and the signal when
        asked for and accepted.
    """
    path = Path(path)
    header, refusal = read_header(path)
    if header is None or refusal is not None:
        return GateReport(header, (("error", refusal or "unreadable or corrupt audio file"),))
    channels = header.channels
    scan = _Scan(channels, full_scale(header.subtype))
    signal = np.empty(header.frames, dtype=np.float32) if keep_signal else None
    block_frames = max(1, _BLOCK_SAMPLES // channels)
    try:
        for block in sf.blocks(
            str(path), blocksize=block_frames, dtype="float32", always_2d=True, frames=header.frames
        ):
            start = scan.frames
            mix = scan.add(block)
            if signal is not None and mix is not None:
                signal[start : start + mix.shape[0]] = mix
            elif signal is not None:
                signal = None
    except Exception as exc:  # a damaged stream fails mid-file with libsndfile or runtime errors
        return GateReport(
            header, (("error", f"unreadable or corrupt audio file: {_libsndfile_message(exc)}"),)
        )
    issues = tuple(_sample_issues(scan, header))
    accepted = all(severity != "error" for severity, _ in issues)
    return GateReport(
        header,
        issues,
        frames=scan.frames,
        peak=scan.peak,
        mix_peak=scan.mix_peak(),
        clipped=scan.clipped / max(scan.frames * channels, 1),
        signal=signal if accepted else None,
    )


def read_mono(path: Path | str, *, name: str | None = None) -> tuple[np.ndarray, int]:
    """The mono mix of an accepted file at its stored rate.

    Parameters
    ----------
    path : Path or str
        The audio file.
    name : str, optional
        How the file is named in the error (a redacted source path); default its name.

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
        Mean of the channels, not yet mean-free or normalised.
    sample_rate : int

    Raises
    ------
    AudioError
        ``"<name>: <reason>"`` with the gate's reason when the file is refused.
    """
    path = Path(path)
    report = examine(path, keep_signal=True)
    if report.refusal is not None or report.signal is None or report.header is None:
        raise AudioError(f"{name or path.name}: {report.refusal or 'unreadable or corrupt audio file'}")
    return report.signal, report.header.sample_rate
