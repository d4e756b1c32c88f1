"""Masking summaries that do not cancel across classes; the people's table in a fixed fold order."""

from __future__ import annotations

import pandas as pd
import pytest

from core.explain.masking import MASKING_COLUMNS, masking_summary


def _table() -> pd.DataFrame:
    # Masking mel moves both classes' segments strongly, in opposite directions (it cancels in
    # the signed mean); masking STFT moves every segment a little, one way.
    delta_mel = [0.2, 0.4, -0.2, -0.4]
    delta_stft = [0.05, 0.05, 0.05, 0.05]
    prob = [0.9, 0.8, 0.3, 0.4]
    return pd.DataFrame(
        {
            "segment_id": [10, 11, 12, 13],
            "prob": prob,
            "prob_mel_masked": [p - d for p, d in zip(prob, delta_mel, strict=True)],
            "prob_stft_masked": [p - d for p, d in zip(prob, delta_stft, strict=True)],
            "delta_mel": delta_mel,
            "delta_stft": delta_stft,
            "label": [1, 1, 0, 0],
        }
    )


def test_mean_absolute_and_per_class_means_name_the_branch_that_matters() -> None:
    table = _table()
    assert set(MASKING_COLUMNS) <= set(table.columns)
    row = masking_summary(table, fold=2).iloc[0]
    assert row["mel_branch_mean"] == pytest.approx(0.0, abs=1e-12)  # the study's signed mean cancels
    assert row["stft_branch_mean"] == pytest.approx(0.05)
    assert row["mel_branch_mean_abs"] == pytest.approx(0.3) and row["stft_branch_mean_abs"] == pytest.approx(
        0.05
    )
    assert row["mel_mean_class1"] == pytest.approx(0.3) and row["mel_mean_class0"] == pytest.approx(-0.3)
    assert row["stft_mean_class1"] == pytest.approx(0.05) and row["stft_mean_class0"] == pytest.approx(0.05)
    assert (row["n_class0"], row["n_class1"], row["n_segments"]) == (2, 2, 4)
    # Signed means would call STFT dominant; by mean |Δp| mel is.
    assert row["dominant_branch"] == "mel"


def test_without_labels_the_class_means_are_empty_not_invented() -> None:
    row = masking_summary(_table().drop(columns="label")).iloc[0]
    assert pd.isna(row["mel_mean_class0"]) and row["n_class1"] == 0 and row["dominant_branch"] == "mel"
