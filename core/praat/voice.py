"""The voice report's measures recomputed from audio with parselmouth, one Praat query each.

Rather than printing Praat's ``Voice report`` again, every measure is asked for on its own
(``Get jitter (local)``, ``Get shimmer (apq11)``, …) with the report's conventions: the
period range ``0.8 / ceiling .. 1.25 / floor``, the analysed selection, and the pitch
method. Three measures have no Praat query, so they follow Praat's definitions here (see
the private helpers): the fraction of locally unvoiced frames, the voice breaks, and the
harmonicity means over the pitch strengths. Values come in full precision and in the
units of :data:`core.praat.report.MEASURES`, so a parsed report and a recomputation can be
compared key by key.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import parselmouth
from parselmouth.praat import call

from core.audio_gate import examine
from core.config import config_hash
from core.errors import AudioError, ConfigError
from core.praat.report import MEASURE_KEYS, VoiceReport

PitchMethod = Literal["ac", "cc"]


@dataclass(frozen=True)
class VoiceAnalysisSettings:
    """How Praat analyses a voice: pitch tracking, pulses and the report's thresholds.

    Defaults are Praat's standard voice-analysis settings (Sound editor, ``Voice report``).

    Parameters
    ----------
    pitch_method : {"ac", "cc"}
        ``To Pitch (ac)`` (the editor's default) or ``To Pitch (cc)`` ("optimise for voice
        analysis").
    pitch_floor_hz, pitch_ceiling_hz : float
        Pitch range; the period range of jitter and shimmer is ``0.8/ceiling .. 1.25/floor``.
    max_candidates : int
        Pitch candidates per frame.
    very_accurate : bool
        Gaussian analysis window of three periods instead of a Hanning of one.
    silence_threshold, voicing_threshold, octave_cost, octave_jump_cost, voiced_unvoiced_cost : float
        Pitch path-finder settings; the two thresholds also decide locally unvoiced frames.
    max_period_factor, max_amplitude_factor : float
        Largest ratio of consecutive periods / amplitudes that still counts (1.3, 1.6).
    context_s : float
        Audio kept around a selection when tracking pitch, so frames at its edges see
        whole periods; the demo cohort's reports were written with 0.1 s.
    """

    pitch_method: PitchMethod = "cc"
    pitch_floor_hz: float = 75.0
    pitch_ceiling_hz: float = 600.0
    max_candidates: int = 15
    very_accurate: bool = False
    silence_threshold: float = 0.03
    voicing_threshold: float = 0.45
    octave_cost: float = 0.01
    octave_jump_cost: float = 0.35
    voiced_unvoiced_cost: float = 0.14
    max_period_factor: float = 1.3
    max_amplitude_factor: float = 1.6
    context_s: float = 0.1

    def validate(self) -> None:
        if self.pitch_method not in ("ac", "cc"):
            raise ConfigError(f"voice analysis pitch_method={self.pitch_method!r}; expected 'ac' or 'cc'")
        if not 0 < self.pitch_floor_hz < self.pitch_ceiling_hz:
            raise ConfigError(
                f"voice analysis pitch range {self.pitch_floor_hz}..{self.pitch_ceiling_hz} Hz; "
                "expected 0 < floor < ceiling"
            )
        if self.max_period_factor <= 1 or self.max_amplitude_factor <= 1:
            raise ConfigError("voice analysis max_period_factor and max_amplitude_factor must be > 1")
        if self.context_s < 0:
            raise ConfigError(f"voice analysis context_s={self.context_s}; expected >= 0")

    @property
    def period_range_s(self) -> tuple[float, float]:
        """Shortest and longest period that count, as in Praat's voice report."""
        return 0.8 / self.pitch_ceiling_hz, 1.25 / self.pitch_floor_hz

    def hash(self) -> str:
        return config_hash(asdict(self))


def settings_for_report(
    report: VoiceReport, base: VoiceAnalysisSettings | None = None
) -> VoiceAnalysisSettings:
    """The settings that reproduce a report: ``base`` with the report's pitch method when it says one."""
    base = base or VoiceAnalysisSettings()
    if report.pitch_method in ("ac", "cc"):
        return replace(base, pitch_method=report.pitch_method)
    return base


def read_sound(path: Path | str, *, name: str | None = None) -> parselmouth.Sound:
    """Read an audio file as Praat does (all channels averaged to one), after the audio gate.

    Raises
    ------
    AudioError
        If the audio gate refuses the file (:func:`core.audio_gate.examine`, the same checks
        as validation and preprocessing) or Praat cannot read it; the message names ``name``
        (default: the file name).
    """
    path = Path(path)
    name = name or path.name
    refusal = examine(path).refusal
    if refusal is not None:
        raise AudioError(f"{name}: {refusal}")
    try:
        sound = parselmouth.Sound(str(path))
    except parselmouth.PraatError:
        raise AudioError(f"{name}: cannot be read as audio by Praat") from None
    if sound.n_channels > 1:
        sound = sound.convert_to_mono()
    return sound


def voice_measures(
    sound: parselmouth.Sound,
    *,
    selection: tuple[float, float] | None = None,
    settings: VoiceAnalysisSettings | None = None,
) -> dict[str, float]:
    """Every voice-report measure of a sound (or a selection of it), from Praat queries.

    Parameters
    ----------
    sound : parselmouth.Sound
        Mono sound.
    selection : tuple of (float, float), optional
        Start and end in seconds; None analyses the whole sound.
    settings : VoiceAnalysisSettings, optional
        Praat's standard settings by default.

    Returns
    -------
    measures : dict of str to float
        One value per key of :data:`core.praat.report.MEASURE_KEYS`, NaN where Praat
        would print ``--undefined--`` (too few pulses, no voiced frame).
    """
    settings = settings or VoiceAnalysisSettings()
    settings.validate()
    part, tmin, tmax = _analysis_part(sound, selection, settings.context_s)
    pitch = _pitch(part, settings)
    pulses = call([part, pitch], "To PointProcess (cc)")
    pmin, pmax = settings.period_range_s
    factor, amplitude_factor = settings.max_period_factor, settings.max_amplitude_factor
    times = call(pulses, "To Matrix").values[0] if call(pulses, "Get number of points") else np.empty(0)
    window_times = times[(times >= tmin) & (times <= tmax)]
    breaks_n, breaks_s = _voice_breaks(window_times, pmax)
    strength = _voiced_strength(pitch, settings.pitch_ceiling_hz)
    clipped = np.clip(strength, 1e-15, 1 - 1e-15)
    values = {
        "median_pitch_hz": call(pitch, "Get quantile", tmin, tmax, 0.5, "Hertz"),
        "mean_pitch_hz": call(pitch, "Get mean", tmin, tmax, "Hertz"),
        "sd_pitch_hz": call(pitch, "Get standard deviation", tmin, tmax, "Hertz"),
        "min_pitch_hz": call(pitch, "Get minimum", tmin, tmax, "Hertz", "Parabolic"),
        "max_pitch_hz": call(pitch, "Get maximum", tmin, tmax, "Hertz", "Parabolic"),
        "n_pulses": float(window_times.size),
        "n_periods": float(call(pulses, "Get number of periods", tmin, tmax, pmin, pmax, factor)),
        "mean_period_ms": 1e3 * call(pulses, "Get mean period", tmin, tmax, pmin, pmax, factor),
        "sd_period_ms": 1e3 * call(pulses, "Get stdev period", tmin, tmax, pmin, pmax, factor),
        "unvoiced_frames_pct": 100.0 * _unvoiced_fraction(pitch, tmin, tmax, settings),
        "n_voice_breaks": float(breaks_n),
        "voice_breaks_pct": 100.0 * breaks_s / (tmax - tmin) if window_times.size > 1 else math.nan,
        "jitter_local_pct": 100.0 * call(pulses, "Get jitter (local)", tmin, tmax, pmin, pmax, factor),
        "jitter_local_abs_us": 1e6
        * call(pulses, "Get jitter (local, absolute)", tmin, tmax, pmin, pmax, factor),
        "jitter_rap_pct": 100.0 * call(pulses, "Get jitter (rap)", tmin, tmax, pmin, pmax, factor),
        "jitter_ppq5_pct": 100.0 * call(pulses, "Get jitter (ppq5)", tmin, tmax, pmin, pmax, factor),
        "jitter_ddp_pct": 100.0 * call(pulses, "Get jitter (ddp)", tmin, tmax, pmin, pmax, factor),
        "autocorrelation": _sampled_mean(strength, pitch, tmin, tmax),
        "nhr": _sampled_mean((1.0 - clipped) / clipped, pitch, tmin, tmax),
        "hnr_db": _sampled_mean(10.0 * np.log10(clipped / (1.0 - clipped)), pitch, tmin, tmax),
    }
    shimmer = {
        "shimmer_local_pct": ("Get shimmer (local)", 100.0),
        "shimmer_local_db": ("Get shimmer (local_dB)", 1.0),
        "shimmer_apq3_pct": ("Get shimmer (apq3)", 100.0),
        "shimmer_apq5_pct": ("Get shimmer (apq5)", 100.0),
        "shimmer_apq11_pct": ("Get shimmer (apq11)", 100.0),
        "shimmer_dda_pct": ("Get shimmer (dda)", 100.0),
    }
    for key, (command, scale) in shimmer.items():
        values[key] = scale * _shimmer(
            part, pulses, command, tmin, tmax, pmin, pmax, factor, amplitude_factor
        )
    return {key: _finite_or_nan(values[key]) for key in MEASURE_KEYS}


def _analysis_part(
    sound: parselmouth.Sound, selection: tuple[float, float] | None, context_s: float
) -> tuple[parselmouth.Sound, float, float]:
    """The sound Praat analyses (selection plus context) and the selection's time range."""
    if selection is None:
        return sound, sound.xmin, sound.xmax
    start, end = max(sound.xmin, selection[0]), min(sound.xmax, selection[1])
    if end <= start:
        raise AudioError(
            f"selection {selection[0]:.3f}..{selection[1]:.3f} s lies outside the sound "
            f"({sound.xmin:.3f}..{sound.xmax:.3f} s)"
        )
    part = sound.extract_part(
        from_time=max(sound.xmin, start - context_s),
        to_time=min(sound.xmax, end + context_s),
        preserve_times=True,
    )
    return part, start, end


def _pitch(sound: parselmouth.Sound, settings: VoiceAnalysisSettings) -> parselmouth.Pitch:
    command = "To Pitch (ac)" if settings.pitch_method == "ac" else "To Pitch (cc)"
    return call(
        sound,
        command,
        0.0,
        settings.pitch_floor_hz,
        settings.max_candidates,
        "yes" if settings.very_accurate else "no",
        settings.silence_threshold,
        settings.voicing_threshold,
        settings.octave_cost,
        settings.octave_jump_cost,
        settings.voiced_unvoiced_cost,
        settings.pitch_ceiling_hz,
    )


def _shimmer(
    sound: parselmouth.Sound,
    pulses: parselmouth.Data,
    command: str,
    tmin: float,
    tmax: float,
    pmin: float,
    pmax: float,
    factor: float,
    amplitude_factor: float,
) -> float:
    try:
        return call([sound, pulses], command, tmin, tmax, pmin, pmax, factor, amplitude_factor)
    except parselmouth.PraatError:
        # Praat's report prints --undefined-- where the query fails on too few pulses.
        return math.nan


def _frame_window(pitch: parselmouth.Pitch, tmin: float, tmax: float) -> tuple[int, int]:
    """0-based first and one-past-last frame whose centre lies in [tmin, tmax]."""
    # Same float expressions as Praat's Sampled_xToHighIndex / xToLowIndex (1-based there).
    first = max(0, math.ceil((tmin - pitch.x1) / pitch.dx + 1.0) - 1)
    last = min(pitch.n_frames, math.floor((tmax - pitch.x1) / pitch.dx + 1.0))
    return first, max(first, last)


def _unvoiced_fraction(
    pitch: parselmouth.Pitch, tmin: float, tmax: float, settings: VoiceAnalysisSettings
) -> float:
    """Share of frames that are silent or have no candidate strong enough below the ceiling.

    Praat's ``Pitch_getFractionOfLocallyUnvoicedFrames``: a frame is locally voiced when its
    intensity reaches the silence threshold and some candidate has 0 < f < ceiling with
    strength >= the voicing threshold, whatever the path finder chose.
    """
    first, last = _frame_window(pitch, tmin, tmax)
    if last <= first:
        return math.nan
    candidates = pitch.to_array()[:, first:last]
    with np.errstate(invalid="ignore"):
        strong = (
            (candidates["frequency"] > 0)
            & (candidates["frequency"] < settings.pitch_ceiling_hz)
            & (candidates["strength"] >= settings.voicing_threshold)
        ).any(axis=0)
    intensity = np.array([pitch.get_frame(i + 1).intensity for i in range(first, last)])
    voiced = strong & (intensity >= settings.silence_threshold)
    return float(1.0 - voiced.mean())


def _voice_breaks(times: np.ndarray, longest_period_s: float) -> tuple[int, float]:
    """Number and total duration of intervals between pulses longer than the longest period.

    As Praat's ``PointProcess_getCountAndFractionOfVoiceBreaks``: consecutive long
    intervals are one break, and the interval ending at the last pulse is not inspected.
    """
    intervals = np.diff(times)[:-1]
    long = intervals > longest_period_s
    starts = long & ~np.concatenate([[False], long[:-1]])
    return int(starts.sum()), float(intervals[long].sum())


def _voiced_strength(pitch: parselmouth.Pitch, ceiling_hz: float) -> np.ndarray:
    """Strength of the chosen candidate per frame, NaN where the frame is unvoiced.

    Returns
    -------
    strength : np.ndarray [shape=(n_frames,)]
    """
    chosen = pitch.selected_array
    voiced = (chosen["frequency"] > 0) & (chosen["frequency"] < ceiling_hz)
    return np.where(voiced, chosen["strength"], np.nan)


def _sampled_mean(values: np.ndarray, pitch: parselmouth.Pitch, tmin: float, tmax: float) -> float:
    """Mean of a frame-wise curve over [tmin, tmax] as Praat's ``Sampled_getMean`` (interpolated).

    Frames whose centre lies inside count fully; the partial intervals at both ends are
    integrated on the linear interpolation to the neighbouring frame (or extrapolated as
    a constant over at most half a frame when the neighbour is undefined). NaN marks an
    undefined frame.

    Parameters
    ----------
    values : np.ndarray [shape=(n_frames,)]
        One value per pitch frame, NaN where undefined.
    """
    first, last = _frame_window(pitch, tmin, tmax)
    if last <= first:
        return math.nan
    inside = values[first:last]
    defined = np.isfinite(inside)
    total, weight = float(inside[defined].sum()), float(defined.sum())
    n = values.size
    left_edge = pitch.x1 - 0.5 * pitch.dx
    right_edge = left_edge + n * pitch.dx

    def at(i: int) -> float:
        return float(values[i]) if 0 <= i < n else math.nan

    def edge(phase: float, own: float, neighbour: float) -> tuple[float, float]:
        if math.isfinite(own):
            if math.isfinite(neighbour):
                return phase * (own + 0.5 * phase * (neighbour - own)) - 0.5 * own, phase - 0.5
            phase = min(phase, 0.5)
            return phase * own - 0.5 * own, phase - 0.5
        if math.isfinite(neighbour) and phase > 0.5:
            return (phase - 0.5) * neighbour, phase - 0.5
        return 0.0, 0.0

    if tmin > left_edge:
        extra, width = edge((pitch.x1 + first * pitch.dx - tmin) / pitch.dx, at(first), at(first - 1))
        total, weight = total + extra, weight + width
    if tmax < right_edge:
        extra, width = edge((tmax - (pitch.x1 + (last - 1) * pitch.dx)) / pitch.dx, at(last - 1), at(last))
        total, weight = total + extra, weight + width
    return total / weight if weight > 0 else math.nan


def _finite_or_nan(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else math.nan
