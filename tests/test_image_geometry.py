"""Which image columns are padding and which mel rows are empty, for a config; padding never a top region."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import preset
from core.explain.occlusion import aggregate_occlusion
from core.explain.regions import ImageAxes, region_table
from core.explain.summary import summarise
from core.image_geometry import image_geometry


def test_geometry_of_the_seed_preset_padding_and_empty_mel_rows() -> None:
    geometry = image_geometry(preset("seed").preprocess)
    mel, stft = geometry["mel"], geometry["stft"]
    # 50 ms at 16 kHz: 51 mel and 43 STFT frames of 64; 224-pixel images.
    assert int(mel.padded_columns.sum()) == 47 and int(stft.padded_columns.sum()) == 75
    assert mel.padded_fraction == pytest.approx(0.2098, abs=1e-4) and stft.padded_fraction == pytest.approx(
        0.3348, abs=1e-4
    )
    assert not mel.padded_columns[:177].any() and mel.padded_columns[177:].all()
    assert (
        mel.column_ms[~mel.padded_columns].max() <= 50.0
        and stft.column_ms[~stft.padded_columns].max() <= 50.0
    )
    # n_fft 128 at 16 kHz: 7 of 64 mel filters catch no FFT bin; each spans 3.5 image rows.
    assert mel.empty_filters == 7 and int(mel.empty_rows.sum()) == 28 and not stft.empty_rows.any()
    assert mel.row_hz[mel.empty_rows].max() < 1100.0
    assert "7 of 64 mel filters" in mel.caption() and "47 of 224 columns (21%)" in mel.caption()


def test_geometry_matches_real_images_of_a_voice_like_segment() -> None:
    from core.spectrogram import mel_db, stft_db, to_images

    config = preset("seed").preprocess
    sr = config.audio.sample_rate
    t = np.arange(800) / sr
    rng = np.random.default_rng(0)
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 30)) + 0.05 * rng.standard_normal(800)
    segment = (voice / np.abs(voice).max()).astype(np.float32)[None]
    geometry = image_geometry(config)
    for kind, db in (
        ("mel", mel_db(segment, sr=sr, config=config.spectrogram)),
        ("stft", stft_db(segment, config=config.spectrogram)),
    ):
        image = np.asarray(to_images(db, config=config.spectrogram))[0, :, :, 0].astype(int)
        padded = geometry[kind].padded_columns
        first_padded = int(np.flatnonzero(padded).min())
        # Every padded column repeats the last frame exactly; the signal columns before it vary.
        assert (image[:, padded] == image[:, [first_padded]]).all()
        assert not (image[:, ~padded] == image[:, [first_padded]]).all(axis=0).any()
    mel_image = np.asarray(
        to_images(mel_db(segment, sr=sr, config=config.spectrogram), config=config.spectrogram)
    )[0, :, :, 0]
    empty = geometry["mel"].empty_rows
    # Rows of empty filters are the darkest of the image: the dB floor mapped to black.
    assert mel_image[empty].mean() < 0.5 * mel_image[~empty].mean()


def test_padding_chunks_never_rank_as_top_regions() -> None:
    axes = ImageAxes.from_config(preset("seed").preprocess)
    regions = region_table(axes.size, axes=axes)
    # Real occlusion rows of one segment where hiding the padded chunks moves the probability most.
    table = regions.assign(segment_id=3, prob=0.8)
    delta = np.where(table["axis"] == "time", 0.02 * table["region"], 0.01)
    delta = np.where((table["axis"] == "time") & (table["signal_fraction"] < 0.5), 0.30, delta)
    table["delta"] = delta
    table["occluded_prob"] = table["prob"] - table["delta"]
    summary = aggregate_occlusion(table)
    mel_time = summary[(summary["branch"] == "mel") & (summary["axis"] == "time")].set_index("region")
    padding = mel_time[mel_time["padding"]]
    assert list(padding.index) == [8, 9]  # chunks 9 and 10 of the mel image are mostly padding
    assert set(padding["rank"]) == {9, 10}
    assert mel_time.loc[7, "rank"] == 1 and mel_time["end_ms"].max() <= 50.0
    stft_time = summary[(summary["branch"] == "stft") & (summary["axis"] == "time")]
    assert int(stft_time["padding"].sum()) == 3  # a third of the STFT columns repeat the last frame
    text = summarise(prob=0.8, threshold=0.5, occlusion=table[table["branch"] == "mel"]).text
    assert "ms" in text and "61" not in text and "67" not in text and "padding" not in text
    facts = summarise(prob=0.8, threshold=0.5, occlusion=table[table["branch"] == "mel"]).facts["chunks"]
    assert all(f["signal_fraction"] >= 0.5 for f in facts) and facts[0]["region"] == 7.0


def test_fitted_voice_preset_has_no_padding_and_no_empty_rows() -> None:
    geometry = image_geometry(preset("voice").preprocess)
    for kind, branch in geometry.items():
        assert not branch.padded_columns.any(), kind
        assert not branch.empty_rows.any() and branch.empty_filters == 0, kind
        assert branch.segment_ms == 400.0
