"""openSMILE eGeMAPSv02 functionals on a real recording, through the acoustic feature table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from core.acoustics.egemaps import EGEMAPS_KEYS, egemaps_features
from core.acoustics.table import measure_recording


def test_keys_are_opensmiles_88_functionals() -> None:
    import opensmile

    smile = opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals
    )
    assert tuple(smile.feature_names) == EGEMAPS_KEYS and len(EGEMAPS_KEYS) == 88


def test_real_vowel_at_its_own_rate(pd_root: Path) -> None:
    sheet = pd.read_csv(pd_root / "labels.csv")
    path = pd_root / sheet["path"].iloc[0]
    samples, rate = sf.read(str(path), dtype="float32")
    assert rate == 8_000
    features = egemaps_features(samples, sr=rate)
    # a healthy adult female /a/ (this speaker): F0 around 200-260 Hz = 35-40 semitones re 27.5 Hz
    assert 33 < features["F0semitoneFrom27.5Hz_sma3nz_amean"] < 42
    assert 0 < features["jitterLocal_sma3nz_amean"] < 0.05
    assert features["HNRdBACF_sma3nz_amean"] > 5
    row = measure_recording(path, groups=("egemaps",), name="P01")
    assert row["span_from"] == "trimmed"
    assert abs(row["F0semitoneFrom27.5Hz_sma3nz_amean"] - features["F0semitoneFrom27.5Hz_sma3nz_amean"]) < 1.0


def test_too_short_span_gives_nan() -> None:
    out = egemaps_features(np.zeros(100, np.float32), sr=16_000)
    assert set(out) == set(EGEMAPS_KEYS) and all(np.isnan(v) for v in out.values())


def test_features_with_tensorflow_loaded_in_this_process() -> None:
    # openSMILE's library crashes a process that has TensorFlow loaded; the worker process keeps it apart
    import tensorflow  # noqa: F401

    rate = 16_000
    t = np.arange(rate) / rate
    samples = (0.5 * np.sin(2 * np.pi * 140.0 * t)).astype(np.float32)
    features = egemaps_features(samples, sr=rate)
    assert len(features) == len(EGEMAPS_KEYS) == 88
    # a 140 Hz tone: the F0 mean in semitones from 27.5 Hz is 12 * log2(140 / 27.5) = 28.2
    assert abs(features["F0semitoneFrom27.5Hz_sma3nz_amean"] - 12 * np.log2(140 / 27.5)) < 0.5
