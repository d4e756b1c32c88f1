"""PNG export of one segment's spectrogram (core.export)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from core.config import PreprocessConfig
from core.dataset import SEGMENT_COLUMNS, SegmentDataset
from core.errors import DatasetError
from core.export import export_segment_png
from core.spectrogram import db_matrix, to_images


def tiny_dataset() -> SegmentDataset:
    rng = np.random.default_rng(0)
    t = np.arange(800) / 16_000
    segments = np.stack([np.sin(2 * np.pi * 200 * t) + 0.05 * rng.standard_normal(800) for _ in range(2)])
    config = PreprocessConfig()
    mel, stft = db_matrix("mel", segments, sr=16_000), db_matrix("stft", segments, sr=16_000)
    table = pd.DataFrame(
        {
            "segment_id": [0, 1],
            "recording_id": ["P03-pre-A"] * 2,
            "patient_id": ["P03"] * 2,
            "phase": ["pre"] * 2,
            "vowel": ["A"] * 2,
            "take": [1, 1],
            "segment_index": [0, 1],
            "start_s": [0.1, 0.12775],
            "end_s": [0.15, 0.17775],
            "padded": [False, False],
            "label": pd.array([1, 1], dtype="Int64"),
        },
        columns=list(SEGMENT_COLUMNS),
    )
    return SegmentDataset(
        table,
        to_images(mel),
        to_images(stft),
        mel,
        stft,
        config,
        pd.DataFrame(columns=["source", "severity", "reason"]),
    )


def test_export_writes_a_png_per_branch(tmp_path: Path) -> None:
    ds = tiny_dataset()
    mel_png = export_segment_png(ds, 1, tmp_path / "figs", branch="mel", dpi=100)
    stft_png = export_segment_png(ds, 1, tmp_path / "figs", branch="stft", dpi=100)
    assert mel_png.name == "P03-pre-A_seg01_mel.png" and stft_png.name == "P03-pre-A_seg01_stft.png"
    mel_image = cv2.imread(str(mel_png))
    stft_image = cv2.imread(str(stft_png))
    assert mel_image.shape == (320, 400, 3)  # 4 x 3.2 in at 100 dpi
    assert mel_image.std() > 20 and not np.array_equal(mel_image, stft_image)


def test_export_rejects_unknown_segment_or_branch(tmp_path: Path) -> None:
    ds = tiny_dataset()
    with pytest.raises(DatasetError, match="segment_id=5"):
        export_segment_png(ds, 5, tmp_path)
    with pytest.raises(DatasetError, match="branch"):
        export_segment_png(ds, 0, tmp_path, branch="cqt")  # type: ignore[arg-type]
