"""Praat voice reports: the parser on real parselmouth output, and the recomputation."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np
import parselmouth
import pytest
from parselmouth.praat import call

from core.praat import (
    MEASURE_KEYS,
    MEASURES,
    ReportParseError,
    VoiceAnalysisSettings,
    parse_number,
    parse_voice_report,
    read_sound,
    read_voice_report,
    settings_for_report,
    voice_measures,
)

ROUNDING = {m.key: m.rounding for m in MEASURES}


def praat_report(sound: parselmouth.Sound, *, start: float = 0.0, end: float = 0.0) -> str:
    """Praat's own voice report text (cc pitch, standard settings)."""
    pitch = call(sound, "To Pitch (cc)", 0.0, 75.0, 15, "no", 0.03, 0.45, 0.01, 0.35, 0.14, 600.0)
    pulses = call([sound, pitch], "To PointProcess (cc)")
    return call([sound, pitch, pulses], "Voice report", start, end, 75.0, 600.0, 1.3, 1.6, 0.03, 0.45)


def assert_agrees(parsed: dict[str, float], recomputed: dict[str, float], keys=MEASURE_KEYS) -> None:
    """Equal to the printed precision, and undefined in the same places."""
    for key in keys:
        a, b = parsed[key], recomputed[key]
        assert math.isnan(a) == math.isnan(b), (key, a, b)
        if not math.isnan(a):
            assert abs(a - b) <= ROUNDING[key] * (1 + 1e-6) + 1e-12, (key, a, b)


@pytest.fixture(scope="module")
def svd_sounds(svd_root: Path) -> dict[str, parselmouth.Sound]:
    names = {
        "healthy": "Healthy/1-a_n.wav",  # clean voice
        "breaks": "Ventricular-Dysphonia/1084-i_h.wav",  # voice breaks, shimmer apq11 undefined
        "unvoiced": "Ventricular-Dysphonia/1467-a_n.wav",  # no periods: most measures undefined
    }
    return {k: read_sound(svd_root / "Datasets" / v) for k, v in names.items()}


def test_parser_reads_every_measure_of_a_real_report(svd_sounds):
    text = praat_report(svd_sounds["healthy"])
    report = parse_voice_report(text, source="1-a_n.txt")
    assert report.problems == ()
    assert set(report.values) == set(MEASURE_KEYS)
    assert not any(math.isnan(v) for v in report.values.values())
    # Units are converted the way the keys say: percent stays percent, seconds become ms / µs.
    pulses = call(
        [
            svd_sounds["healthy"],
            call(
                svd_sounds["healthy"],
                "To Pitch (cc)",
                0.0,
                75.0,
                15,
                "no",
                0.03,
                0.45,
                0.01,
                0.35,
                0.14,
                600.0,
            ),
        ],
        "To PointProcess (cc)",
    )
    jitter = call(pulses, "Get jitter (local)", 0, 0, 0.8 / 600, 1.25 / 75, 1.3)
    assert report.values["jitter_local_pct"] == pytest.approx(round(100 * jitter, 3), abs=1e-9)
    absolute = call(pulses, "Get jitter (local, absolute)", 0, 0, 0.8 / 600, 1.25 / 75, 1.3)
    assert report.values["jitter_local_abs_us"] == pytest.approx(round(1e6 * absolute, 3), abs=1e-9)
    assert report.selection is None  # Praat prints "From 0 to 0" for the whole sound
    assert report.duration_s == pytest.approx(svd_sounds["healthy"].duration, abs=1e-6)
    assert report.unvoiced_frames is not None and report.unvoiced_frames[1] > 100
    assert report.pitch_method is None  # a scripted report has no editor header


def test_parser_reads_undefined_values_from_a_real_report(svd_sounds):
    text = praat_report(svd_sounds["unvoiced"])
    assert "--undefined--" in text
    report = parse_voice_report(text)
    undefined = {k for k, v in report.values.items() if math.isnan(v)}
    assert {
        "mean_pitch_hz",
        "jitter_local_pct",
        "shimmer_apq11_pct",
        "hnr_db",
        "voice_breaks_pct",
    } <= undefined
    assert report.values["unvoiced_frames_pct"] > 50
    assert report.voice_breaks_s is not None and all(math.isnan(v) for v in report.voice_breaks_s)


@pytest.mark.parametrize("kind", ["healthy", "breaks", "unvoiced"])
def test_recomputation_matches_praat_report_to_printed_precision(svd_sounds, kind):
    sound = svd_sounds[kind]
    parsed = parse_voice_report(praat_report(sound)).values
    recomputed = voice_measures(sound, settings=VoiceAnalysisSettings(pitch_method="cc"))
    # Praat's report prints one pulse where there are none (a display quirk); counts differ only then.
    keys = [k for k in MEASURE_KEYS if not (k == "n_pulses" and recomputed["n_pulses"] == 0)]
    assert_agrees(parsed, recomputed, keys)
    if kind == "breaks":
        assert recomputed["n_voice_breaks"] >= 1 and recomputed["voice_breaks_pct"] > 1
        assert math.isnan(recomputed["shimmer_apq11_pct"]) and not math.isnan(recomputed["shimmer_apq5_pct"])


def test_recomputation_over_a_selection_uses_the_selection(svd_sounds):
    sound = svd_sounds["healthy"]
    parsed = parse_voice_report(praat_report(sound, start=0.4, end=1.2))
    assert parsed.selection == pytest.approx((0.4, 1.2))
    recomputed = voice_measures(
        sound, selection=parsed.selection, settings=VoiceAnalysisSettings(context_s=10.0)
    )
    assert_agrees(parsed.values, recomputed)
    whole = voice_measures(sound)
    assert recomputed["n_pulses"] < whole["n_pulses"]


def test_editor_header_is_read_for_the_pitch_method_and_never_kept():
    from core.demo.report import voice_report

    rng = np.random.default_rng(0)
    sr = 16_000
    t = np.arange(int(1.2 * sr)) / sr
    y = np.sin(2 * np.pi * 150 * t) * (1 + 0.05 * rng.standard_normal(t.size))
    samples = np.round(0.5 * y / np.abs(y).max() * 32767).astype(np.int16)
    text = voice_report(
        samples, sample_rate=sr, name="98765432S1", selection=(0.2, 1.0), when=datetime(2022, 3, 4)
    )
    report = parse_voice_report(text, source="P01-pre-A report")
    assert report.problems == ()
    assert report.pitch_method == "ac"
    assert report.selection == pytest.approx((0.2, 1.0))
    assert "98765432" not in repr(report)
    assert settings_for_report(report).pitch_method == "ac"
    cc_header = text.replace("WARNING: some of the following measurements may be imprecise.", "")
    assert parse_voice_report(cc_header).pitch_method == "cc"


def test_voice_analysis_defaults_are_the_demo_reports_settings():
    from core.demo import report as demo

    settings = VoiceAnalysisSettings()
    assert (settings.pitch_floor_hz, settings.pitch_ceiling_hz) == (
        demo.PITCH_FLOOR_HZ,
        demo.PITCH_CEILING_HZ,
    )
    assert settings.max_period_factor == demo.MAX_PERIOD_FACTOR
    assert settings.max_amplitude_factor == demo.MAX_AMPLITUDE_FACTOR
    assert (settings.silence_threshold, settings.voicing_threshold) == (
        demo.SILENCE_THRESHOLD,
        demo.VOICING_THRESHOLD,
    )
    assert settings.context_s == demo._CONTEXT_S


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.486", 0.486),
        ("31.929E-6", 31.929e-6),
        ("1e-05", 1e-5),
        ("0,486", 0.486),
        ("\u22121.5", -1.5),
        (".5", 0.5),
        ("274", 274.0),
    ],
)
def test_parse_number_accepts_locale_formats(text, expected):
    assert parse_number(text) == pytest.approx(expected)


def test_parse_number_reads_undefined_as_nan_and_rejects_text():
    assert math.isnan(parse_number("--undefined--"))
    with pytest.raises(ValueError, match="not a number"):
        parse_number("0.4.8")


def test_decimal_commas_and_units_are_read_like_praat_output(svd_sounds):
    text = praat_report(svd_sounds["healthy"])
    comma = text.replace("Jitter (local): ", "Jitter (local):  ").replace(".", ",")
    dot, commas = parse_voice_report(text).values, parse_voice_report(comma).values
    assert commas == pytest.approx(dot, nan_ok=True)


def test_every_unreadable_line_is_named_with_its_number(svd_sounds):
    lines = praat_report(svd_sounds["healthy"]).splitlines()
    jitter_line = next(i for i, line in enumerate(lines) if "Jitter (rap)" in line)
    lines[jitter_line] = "   Jitter (rap): about 0.2%"
    shimmer_line = next(i for i, line in enumerate(lines) if "Shimmer (apq3)" in line)
    lines[shimmer_line] = "   Shimmer (apq3): 2.029 Hz"
    lines.insert(3, "   Patient 12345678 looked tired")
    text = "\n".join(lines)
    with pytest.raises(ReportParseError) as caught:
        parse_voice_report(text, source="P07-pre-A report")
    message = str(caught.value)
    assert f"P07-pre-A report line {jitter_line + 2}: 'Jitter (rap)'" in message
    assert f"line {shimmer_line + 2}: 'Shimmer (apq3)' has unit 'Hz'" in message
    assert "line 4:" in message and "is not a voice-report line" in message
    assert "12345678" not in message  # a possible record number is masked in the quote
    lenient = parse_voice_report(text, strict=False)
    assert len(lenient.problems) == 3
    assert math.isnan(lenient.values["jitter_rap_pct"]) and math.isnan(lenient.values["shimmer_apq3_pct"])
    assert not math.isnan(lenient.values["jitter_ppq5_pct"])


def test_missing_and_absent_reports_are_problems(svd_sounds):
    text = "\n".join(
        line
        for line in praat_report(svd_sounds["healthy"]).splitlines()
        if "HNR" not in line and "harmonics-to-noise" not in line
    )
    with pytest.raises(ReportParseError, match="missing line"):
        parse_voice_report(text)
    with pytest.raises(ReportParseError, match="no voice report found"):
        parse_voice_report("Hello\nnothing here\n")


def test_read_voice_report_decodes_utf16_and_crlf(tmp_path, svd_sounds):
    text = praat_report(svd_sounds["breaks"])
    utf16, crlf = tmp_path / "a.txt", tmp_path / "b.txt"
    utf16.write_bytes(text.encode("utf-16"))
    crlf.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    expected = parse_voice_report(text).values
    assert read_voice_report(utf16).values == pytest.approx(expected, nan_ok=True)
    assert read_voice_report(crlf).values == pytest.approx(expected, nan_ok=True)
    with pytest.raises(ReportParseError, match="cannot be read"):
        read_voice_report(tmp_path / "missing.txt")


def test_unreadable_audio_is_an_audio_error(tmp_path):
    from core.errors import AudioError

    bad = tmp_path / "x.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(AudioError, match="x.wav"):
        read_sound(bad)
