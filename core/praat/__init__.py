"""Praat voice reports: the parser (``report``) and the recomputation with parselmouth (``voice``)."""

from core.praat.report import (
    MEASURE_KEYS,
    MEASURES,
    Measure,
    ReportParseError,
    VoiceReport,
    parse_number,
    parse_voice_report,
    read_voice_report,
)
from core.praat.voice import VoiceAnalysisSettings, read_sound, settings_for_report, voice_measures

__all__ = [
    "MEASURES",
    "MEASURE_KEYS",
    "Measure",
    "ReportParseError",
    "VoiceAnalysisSettings",
    "VoiceReport",
    "parse_number",
    "parse_voice_report",
    "read_sound",
    "read_voice_report",
    "settings_for_report",
    "voice_measures",
]
