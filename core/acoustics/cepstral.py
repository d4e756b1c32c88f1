"""Cepstral peak prominence (CPP) and its smoothed form (CPPS) with Praat's PowerCepstrogram.

CPPS uses the settings of the Acoustic Voice Quality Index (Maryn & Weenink; Praat's
defaults): 60 Hz floor, 2 ms steps, 5 kHz, 50 Hz pre-emphasis, smoothing over 10 ms and
1 ms of quefrency, peak searched in 60–330 Hz, trend line from 1 ms, robust straight fit.
CPP is the same measure without smoothing (the mean over frames of each frame's peak
prominence, as in Hillenbrand et al. 1994).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import parselmouth
from parselmouth.praat import call

from core.config import config_hash
from core.errors import ConfigError

CEPSTRAL_KEYS: tuple[str, ...] = ("cpp_db", "cpps_db")


@dataclass(frozen=True)
class CepstralSettings:
    """Praat ``To PowerCepstrogram`` and ``Get CPPS`` settings (AVQI defaults).

    Parameters
    ----------
    pitch_floor_hz : float
        Sets the analysis window (about 3 periods of the floor).
    time_step_s, max_frequency_hz, pre_emphasis_hz : float
        Cepstrogram frames, band limit (the sound is resampled to twice this), pre-emphasis.
    time_window_s, quefrency_window_s : float
        Smoothing of CPPS over time and quefrency.
    peak_low_hz, peak_high_hz : float
        Pitch range in which the cepstral peak is searched.
    tolerance : float
        Peak search tolerance (Praat's default 0.05).
    trend_low_s, trend_high_s : float
        Quefrency range of the trend line; 0 as the high end means "to the end".
    fit : {"Robust", "Least squares"}
        Trend-line fit.
    """

    pitch_floor_hz: float = 60.0
    time_step_s: float = 0.002
    max_frequency_hz: float = 5000.0
    pre_emphasis_hz: float = 50.0
    time_window_s: float = 0.01
    quefrency_window_s: float = 0.001
    peak_low_hz: float = 60.0
    peak_high_hz: float = 330.0
    tolerance: float = 0.05
    trend_low_s: float = 0.001
    trend_high_s: float = 0.0
    fit: str = "Robust"

    def validate(self) -> None:
        if not 0 < self.peak_low_hz < self.peak_high_hz:
            raise ConfigError(
                f"cepstral peak range {self.peak_low_hz}..{self.peak_high_hz} Hz; expected 0 < low < high"
            )
        if self.fit not in ("Robust", "Least squares"):
            raise ConfigError(f"cepstral fit={self.fit!r}; expected 'Robust' or 'Least squares'")
        if self.time_step_s <= 0 or self.max_frequency_hz <= 0:
            raise ConfigError("cepstral time_step_s and max_frequency_hz must be > 0")

    def hash(self) -> str:
        return config_hash(asdict(self))


def cepstral_peak_prominence(
    sound: parselmouth.Sound, *, settings: CepstralSettings | None = None
) -> dict[str, float]:
    """CPP and CPPS of a sound, in dB.

    Parameters
    ----------
    sound : parselmouth.Sound
        The span to measure, mono; a selection of a recording is cut out first with
        ``sound.extract_part(start, end, preserve_times=True)``.
    settings : CepstralSettings, optional

    Returns
    -------
    measures : dict
        ``cpp_db`` and ``cpps_db``; NaN when the sound is shorter than one analysis
        window (``3 / pitch_floor_hz``, 50 ms by default).
    """
    settings = settings or CepstralSettings()
    settings.validate()
    # Shorter than one analysis window (3 periods of the floor), Praat pads a single frame: no measure.
    if sound.duration < 3.0 / settings.pitch_floor_hz:
        return dict.fromkeys(CEPSTRAL_KEYS, math.nan)
    try:
        cepstrogram = call(
            sound,
            "To PowerCepstrogram",
            settings.pitch_floor_hz,
            settings.time_step_s,
            settings.max_frequency_hz,
            settings.pre_emphasis_hz,
        )
        common = (
            settings.peak_low_hz,
            settings.peak_high_hz,
            settings.tolerance,
            "Parabolic",
            settings.trend_low_s,
            settings.trend_high_s,
            "Straight",
            settings.fit,
        )
        cpps = call(
            cepstrogram, "Get CPPS", "no", settings.time_window_s, settings.quefrency_window_s, *common
        )
        cpp = call(cepstrogram, "Get CPPS", "no", 0.0, 0.0, *common)
    except parselmouth.PraatError:
        # Praat refuses selections shorter than one analysis window.
        return {key: math.nan for key in CEPSTRAL_KEYS}
    return {"cpp_db": _finite_or_nan(cpp), "cpps_db": _finite_or_nan(cpps)}


def _finite_or_nan(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else math.nan
