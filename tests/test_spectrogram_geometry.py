"""Spectrogram geometry: fitted images ("voice" preset) have no empty mel filter, no repeated column and
a band per recording; for any config, which image columns are padding and which mel rows are empty
(padding never a top region)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from core.audio import cut_recording
from core.config import preset, replace
from core.explain.occlusion import aggregate_occlusion
from core.explain.regions import ImageAxes, region_table
from core.explain.summary import summarise
from core.spectrogram import db_matrix, matrix_column_ms, matrix_row_hz, matrix_shape, real_frames
from core.spectrogram_geometry import (
    band_top_hz,
    empty_mel_filters,
    fitted_mels,
    image_geometry,
    narrowest_band_hz,
)


def _vowel(sr: int, seconds: float = 1.2, f0: float = 140.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    harmonics = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 200) if f0 * k < 0.45 * sr)
    return (0.5 * harmonics / np.abs(harmonics).max()).astype(np.float32)


@pytest.mark.parametrize("analysis_rate", [8_000, 16_000, 44_100])
def test_voice_preset_has_no_empty_mel_filter_at_any_rate(analysis_rate: int) -> None:
    spec = preset("voice").preprocess.spectrogram
    window = round(preset("voice").preprocess.window.window_s * analysis_rate)
    n_fft = spec.n_fft
    rows = fitted_mels(analysis_rate, n_fft, spec)
    for native in (8_000, 16_000, 44_100):
        top = band_top_hz(analysis_rate, native_rate=native, config=spec)
        assert top <= analysis_rate / 2 and top <= max(native / 2, narrowest_band_hz(analysis_rate, spec))
        assert empty_mel_filters(analysis_rate, n_fft, rows, fmax=top) == 0
        noise = np.random.default_rng(1).standard_normal((1, window)).astype(np.float32)
        mel = db_matrix("mel", noise, sr=analysis_rate, config=spec, top_hz=top)
        assert mel.shape[1] == rows
        # white noise lights every filter: no row sits near the -80 dB floor (a black stripe)
        assert mel[0].mean(axis=1).min() > mel.max() - 30


def test_study_presets_keep_the_studys_empty_filters_and_say_how_many() -> None:
    # seed and quick reproduce the study's images, artefacts included (n_fft 128, 64 mels at 16 kHz).
    for name in ("seed", "quick"):
        spec = preset(name).preprocess.spectrogram
        assert not spec.fit
        assert empty_mel_filters(16_000, spec.n_fft, spec.n_mels) == 7


@pytest.mark.parametrize("name", ["seed", "quick", "voice"])
def test_fitted_frames_never_repeat_a_column(name: str) -> None:
    config = preset(name).preprocess
    sr = config.audio.sample_rate
    window = round(config.window.window_s * sr)
    rng = np.random.default_rng(0)
    segments = rng.standard_normal((3, window)).astype(np.float32)
    for kind, db in (
        ("mel", db_matrix("mel", segments, sr=sr, config=config.spectrogram)),
        ("stft", db_matrix("stft", segments, sr=sr, config=config.spectrogram)),
    ):
        repeated = np.all(np.diff(db, axis=2) == 0, axis=1).mean()
        if config.spectrogram.fit:
            assert repeated == 0.0
            assert db.shape[2] == real_frames(kind, n_samples=window, config=config.spectrogram)
            ms = matrix_column_ms(kind, sr=sr, n_samples=window, config=config.spectrogram)
            assert ms[-1] + config.spectrogram.n_fft / 2 / sr * 1000 <= window / sr * 1000 + 1e-9
        else:
            assert repeated > 0.2  # the study's 50 ms windows repeat their last frame (21-33 % of columns)


def test_band_follows_each_recordings_nyquist_on_real_audio(pd_root: Path, tmp_path: Path) -> None:
    config = preset("voice").preprocess
    spec = config.spectrogram
    sr = config.audio.sample_rate
    path = pd_root / pd.read_csv(pd_root / "labels.csv")["path"].iloc[0]
    assert sf.info(str(path)).samplerate == 8_000
    top = band_top_hz(sr, native_rate=8_000, config=spec)
    assert top == 4_000
    cut = cut_recording(path, config=config)
    stft = db_matrix("stft", cut.segments, sr=sr, config=spec, top_hz=top)
    rows, frames = matrix_shape("stft", sr=sr, n_samples=cut.segments.shape[1], config=spec)
    assert stft.shape == (len(cut.plan), rows, frames)
    hz = matrix_row_hz("stft", sr=sr, n_samples=cut.segments.shape[1], config=spec, top_hz=top)
    assert hz[-1] == pytest.approx(4_000)
    # an unlimited band would leave the upper half (4..8 kHz) near the floor; the limited one does not
    full = db_matrix("stft", cut.segments, sr=sr, config=replace(spec, band_limit=False), top_hz=sr / 2)
    upper_full = full[:, full.shape[1] // 2 + 2 :, :].mean() - full.max()
    upper_band = stft[:, stft.shape[1] // 2 :, :].mean() - stft.max()
    assert upper_full < -60 < upper_band


def test_dataset_of_a_mixed_bandwidth_folder_has_one_geometry(tmp_path: Path) -> None:
    from core.cohort import load_cohort
    from core.dataset import build_dataset

    root = tmp_path / "cohort"
    for cls, rate, first in (("healthy", 8_000, 100), ("pathological", 44_100, 200)):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            sf.write(root / cls / f"{first + i}-a_n.wav", _vowel(rate, f0=120 + 20 * i), rate)
    cohort = load_cohort(root, label_map={"healthy": 0, "pathological": 1})
    config = preset("voice").preprocess
    dataset = build_dataset(cohort, config)
    assert len(dataset) == 4 * 5 and dataset.problems.empty  # 1.2 s: windows of 0.4 s every 0.2 s
    rows = fitted_mels(16_000, 1024, config.spectrogram)
    assert dataset.mel_db.shape[1:] == (rows, 34)
    assert not np.all(np.diff(dataset.mel_db, axis=2) == 0, axis=1).any()
    # both bandwidths fill their image: rows at 80-88 % of its height hold harmonics
    # (8 kHz file: 3.2-3.5 kHz of a 4 kHz band; 44.1 kHz file: 6.4-7 kHz of an 8 kHz band)
    n_rows = dataset.stft_db.shape[1]
    high = dataset.stft_db[:, int(0.8 * n_rows) : int(0.88 * n_rows), :].max(axis=(1, 2))
    assert (high - dataset.stft_db.max(axis=(1, 2)) > -60).all()


def test_new_recording_images_equal_the_datasets_under_the_voice_preset(
    pd_root: Path, tmp_path: Path
) -> None:
    import shutil

    from core.cohort import load_cohort
    from core.dataset import build_dataset
    from core.predict import recording_images

    sheet = pd.read_csv(pd_root / "labels.csv")
    root = tmp_path / "cohort"
    for group in ("HC", "PD"):
        (root / group).mkdir(parents=True)
        first = sheet[sheet["group"] == group]["path"].iloc[0]
        shutil.copy(pd_root / first, root / group / "1.wav")
    cohort = load_cohort(root, label_map={"HC": 0, "PD": 1})
    config = preset("voice").preprocess
    dataset = build_dataset(cohort, config)
    rid = cohort.recordings["recording_id"].iloc[0]
    images = recording_images(cohort.audio_path(rid), config=config)
    rows = dataset.segments["recording_id"].to_numpy() == rid
    np.testing.assert_array_equal(images.mel, dataset.mel[rows])
    np.testing.assert_array_equal(images.stft, dataset.stft[rows])


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
    from core.spectrogram import db_matrix, to_images

    config = preset("seed").preprocess
    sr = config.audio.sample_rate
    t = np.arange(800) / sr
    rng = np.random.default_rng(0)
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 30)) + 0.05 * rng.standard_normal(800)
    segment = (voice / np.abs(voice).max()).astype(np.float32)[None]
    geometry = image_geometry(config)
    for kind, db in (
        ("mel", db_matrix("mel", segment, sr=sr, config=config.spectrogram)),
        ("stft", db_matrix("stft", segment, sr=sr, config=config.spectrogram)),
    ):
        image = np.asarray(to_images(db, config=config.spectrogram))[0, :, :, 0].astype(int)
        padded = geometry[kind].padded_columns
        first_padded = int(np.flatnonzero(padded).min())
        # Every padded column repeats the last frame exactly; the signal columns before it vary.
        assert (image[:, padded] == image[:, [first_padded]]).all()
        assert not (image[:, ~padded] == image[:, [first_padded]]).all(axis=0).any()
    mel_image = np.asarray(
        to_images(db_matrix("mel", segment, sr=sr, config=config.spectrogram), config=config.spectrogram)
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


def test_region_words_name_padding_chunks_instead_of_a_zero_width_span() -> None:
    from core.explain.regions import region_words

    axes = ImageAxes.from_config(preset("seed").preprocess)
    regions = region_table(axes.size, axes=axes)
    stft_time = regions[(regions["branch"] == "stft") & (regions["axis"] == "time")]
    words = [region_words(row) for _, row in stft_time.iterrows()]
    pure_padding = stft_time["signal_fraction"] == 0
    assert pure_padding.any()  # the seed preset's STFT image ends with columns past the 50 ms segment
    for text, padding, (_, row) in zip(words, pure_padding, stft_time.iterrows(), strict=True):
        if padding:
            assert text == "padding after 50.0 ms"
        else:
            assert text == f"{row['start_ms']:.1f}–{row['end_ms']:.1f} ms" and row["end_ms"] > row["start_ms"]
    band = regions[(regions["branch"] == "mel") & (regions["axis"] == "frequency")].iloc[0]
    assert region_words(band) == f"0–{band['high_hz']:.0f} Hz"
    assert [region_words(r) for r in stft_time.head(2).itertuples()] == words[:2]  # row tuples read alike
    assert region_words(region_table(axes.size).iloc[-1]) == "chunk 10"  # no axes: the chunk's number
