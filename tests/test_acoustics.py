"""CPP/CPPS, spectral statistics, the cached feature table and the report agreement."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import parselmouth
import pytest
import soundfile as sf

from core.acoustics import (
    CEPSTRAL_KEYS,
    AcousticSettings,
    SpectralSettings,
    agreement_pairs,
    cepstral_peak_prominence,
    measure_recording,
    recording_agreement,
    recording_features,
    recording_measures,
    report_agreement,
    spectral_keys,
    spectral_statistics,
)
from core.acoustics import table as table_module
from core.praat import MEASURE_KEYS
from core.praat.voice import VoiceAnalysisSettings

SR = 16_000


def vowel_like(seconds: float = 1.0, *, f0: float = 140.0, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """A glottal-pulse-like harmonic signal (decaying harmonics) plus white noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 30) if f0 * k < SR / 2)
    return y / np.abs(y).max() + noise * rng.standard_normal(t.size)


def test_cpps_is_high_for_a_periodic_voice_and_low_for_noise():
    voice = cepstral_peak_prominence(parselmouth.Sound(vowel_like(), SR))
    noise = cepstral_peak_prominence(parselmouth.Sound(np.random.default_rng(1).standard_normal(SR), SR))
    breathy = cepstral_peak_prominence(parselmouth.Sound(vowel_like(noise=0.5), SR))
    assert set(voice) == set(CEPSTRAL_KEYS)
    assert voice["cpps_db"] > breathy["cpps_db"] + 2 > noise["cpps_db"] + 2
    # Smoothing across time and quefrency lowers the peak: CPP above CPPS.
    assert voice["cpp_db"] > voice["cpps_db"]


def test_cpp_of_a_too_short_selection_is_nan():
    sound = parselmouth.Sound(vowel_like(), SR)
    values = cepstral_peak_prominence(sound.extract_part(from_time=0.5, to_time=0.51, preserve_times=True))
    assert all(math.isnan(v) for v in values.values())


def test_spectral_statistics_follow_the_signal():
    t = np.arange(SR) / SR
    sine = spectral_statistics(np.sin(2 * np.pi * 1000 * t), sr=SR)
    noise = spectral_statistics(np.random.default_rng(0).standard_normal(SR), sr=SR)
    assert list(sine) == list(spectral_keys())
    assert sine["centroid_hz_mean"] == pytest.approx(1000, rel=0.05)
    assert noise["centroid_hz_mean"] == pytest.approx(SR / 4, rel=0.1)
    assert noise["flatness_mean"] > 10 * sine["flatness_mean"]
    assert sine["zcr_mean"] == pytest.approx(2 * 1000 / SR, rel=0.05)
    # A 48 kHz copy is resampled to the analysis rate first: same statistics.
    t48 = np.arange(48_000) / 48_000
    resampled = spectral_statistics(np.sin(2 * np.pi * 1000 * t48), sr=48_000)
    assert resampled["centroid_hz_mean"] == pytest.approx(sine["centroid_hz_mean"], rel=0.01)
    assert all(math.isnan(v) for v in spectral_statistics(np.zeros(100), sr=SR).values())


def test_spectral_keys_follow_the_number_of_mfccs():
    keys = spectral_keys(SpectralSettings(n_mfcc=5, n_mels=20))
    assert [k for k in keys if k.startswith("mfcc")] == [
        f"mfcc{i}_{s}" for s in ("mean", "sd") for i in range(5)
    ]


def test_a_recording_without_report_is_analysed_over_its_trimmed_voice(tmp_path):
    y = np.concatenate([np.zeros(SR // 2), 0.5 * vowel_like(1.0), np.zeros(SR // 2)])
    wav = tmp_path / "v.wav"
    sf.write(wav, y, SR, subtype="PCM_16")
    row = measure_recording(wav, settings=AcousticSettings(voice=VoiceAnalysisSettings(pitch_method="cc")))
    assert row["span_from"] == "trimmed"
    assert row["span_start_s"] == pytest.approx(0.5, abs=0.03)
    assert row["span_end_s"] == pytest.approx(1.5, abs=0.03)
    assert row["mean_pitch_hz"] == pytest.approx(140, rel=0.01)
    assert row["jitter_local_pct"] < 0.1 and row["hnr_db"] > 20
    assert row["pitch_method"] == "cc" and row["problem"] == ""
    assert set(MEASURE_KEYS) | set(CEPSTRAL_KEYS) | set(spectral_keys()) <= set(row)


def test_a_report_sets_span_and_pitch_method(demo_cohort_dir: Path):
    from core.cohort import load_cohort
    from core.praat import read_voice_report

    cohort = load_cohort(demo_cohort_dir)
    rid = "P02-pre-A"
    report = read_voice_report(cohort.voice_report_path(rid))
    row = measure_recording(
        cohort.audio_path(rid), report_path=cohort.voice_report_path(rid), groups=("praat",)
    )
    assert (row["span_start_s"], row["span_end_s"]) == pytest.approx(report.selection)
    assert row["span_from"] == "report" and row["pitch_method"] == "ac"
    assert "cpps_db" not in row and "mfcc0_mean" not in row


@pytest.fixture()
def small_cohort(demo_cohort_dir: Path):
    from core.cohort import load_cohort

    return load_cohort(demo_cohort_dir)


def test_feature_table_is_cached_and_keyed_by_settings(small_cohort, tmp_path, monkeypatch):
    ids = ["P01-pre-A", "P02-pre-A"]
    first = recording_features(
        small_cohort, recording_ids=ids, groups=("praat", "spectral"), cache_dir=tmp_path
    )
    assert list(first["recording_id"]) == ids
    assert first["patient_id"].tolist() == ["P01", "P02"]
    assert not first[list(MEASURE_KEYS)].isna().all(axis=None)

    def refuse(*args, **kwargs):
        raise AssertionError("computed again although cached")

    monkeypatch.setattr(table_module, "measure_recording", refuse)
    again = recording_features(
        small_cohort, recording_ids=ids, groups=("praat", "spectral"), cache_dir=tmp_path
    )
    pd.testing.assert_frame_equal(first, again)
    # Another voice setting is another cache file: it must compute (and so hit the refusal).
    other = AcousticSettings(voice=VoiceAnalysisSettings(pitch_floor_hz=60.0))
    with pytest.raises(AssertionError, match="computed again"):
        recording_features(
            small_cohort, recording_ids=ids, groups=("praat",), settings=other, cache_dir=tmp_path
        )
    files = sorted(p.name for p in (tmp_path / "acoustics").iterdir())
    assert len(files) == 2 and all(f.endswith(".csv") for f in files)
    text = "".join((tmp_path / "acoustics" / f).read_text() for f in files)
    assert "/" not in text.split("\n", 1)[1]  # rows hold hashes and values, never a path


def test_unreadable_recording_keeps_its_row_with_a_reason(small_cohort, tmp_path, monkeypatch):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....not really")
    real = small_cohort.audio_path
    monkeypatch.setattr(small_cohort, "audio_path", lambda rid: broken if rid == "P03-pre-A" else real(rid))
    table = recording_features(small_cohort, recording_ids=["P03-pre-A", "P04-pre-A"], groups=("praat",))
    bad = table.set_index("recording_id").loc["P03-pre-A"]
    assert bad["problem"].startswith("unreadable:") and math.isnan(bad["jitter_local_pct"])
    assert table.set_index("recording_id").loc["P04-pre-A", "problem"] == ""


def test_recording_measures_and_agreement_for_one_recording(small_cohort, tmp_path):
    measures = recording_measures(small_cohort, "P05-pre-A", cache_dir=tmp_path)
    assert measures.name == "P05-pre-A"
    assert {"span_from", "jitter_local_pct", "cpps_db", "mfcc1_mean"} <= set(measures.index)
    table = recording_agreement(small_cohort, "P05-pre-A", cache_dir=tmp_path)
    assert table["measure"].tolist() == list(MEASURE_KEYS)
    assert table["within_rounding"].all()
    assert table.loc[table["measure"] == "mean_period_ms", "unit"].item() == "ms"


def test_agreement_pairs_classify_rounding_and_undefined():
    keys = list(MEASURE_KEYS)
    reported = pd.DataFrame([{"recording_id": "r1", **dict.fromkeys(keys, 1.0)}])
    recomputed = reported.copy()
    reported.loc[0, "jitter_local_pct"] = 0.100  # printed with 3 decimals
    recomputed.loc[0, "jitter_local_pct"] = 0.1004  # 0.4 % off, and within the printing
    reported.loc[0, "hnr_db"] = 20.0
    recomputed.loc[0, "hnr_db"] = 20.5  # 2.5 % off: a real disagreement
    reported.loc[0, "nhr"] = np.nan
    recomputed.loc[0, "nhr"] = np.nan
    reported.loc[0, "shimmer_apq11_pct"] = np.nan  # undefined in the report only
    pairs = agreement_pairs(reported, recomputed).set_index("measure")
    assert (
        pairs.loc["jitter_local_pct", "within_tolerance"] and pairs.loc["jitter_local_pct", "within_rounding"]
    )
    assert pairs.loc["hnr_db", "rel_diff"] == pytest.approx(0.025)
    assert not pairs.loc["hnr_db", "within_rounding"]
    assert pairs.loc["nhr", "status"] == "both undefined"
    assert pairs.loc["shimmer_apq11_pct", "status"] == "undefined in report"
    assert not pairs.loc["shimmer_apq11_pct", "within_rounding"]


@pytest.mark.slow
def test_demo_reports_agree_with_recomputation_within_one_percent(small_cohort, tmp_path):
    ids = small_cohort.recordings.query("vowel == 'A'")["recording_id"]
    agreement = report_agreement(small_cohort, recording_ids=ids, cache_dir=tmp_path, n_jobs=2)
    assert agreement.problems.empty
    assert agreement.pairs["recording_id"].nunique() == len(ids) == 86
    summary = agreement.summary.set_index("measure")
    assert (summary["n_undefined_mismatch"] == 0).all()
    jitter_shimmer_hnr = [k for k in MEASURE_KEYS if k.startswith(("jitter", "shimmer"))] + ["hnr_db"]
    assert (summary.loc[jitter_shimmer_hnr, "max_rel_diff"] <= 0.01).all(), summary.loc[jitter_shimmer_hnr]
    # Every value of every measure is the report's to its printed precision.
    assert agreement.pairs.loc[agreement.pairs["status"] == "compared", "within_rounding"].all()
