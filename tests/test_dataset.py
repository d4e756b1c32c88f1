"""Dataset builder (core.dataset): segment table, arrays, problems, selection and the disk cache."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import core.audio as audio_module
from core.cohort.model import PATIENT_COLUMNS, PROBLEM_COLUMNS, RECORDING_COLUMNS, Cohort
from core.cohort.validation import inspect_audio
from core.config import PreprocessConfig, SelectionConfig, SpectrogramConfig, WindowConfig, preset
from core.dataset import SEGMENT_COLUMNS, build_dataset, preprocess_key
from core.spectrogram import to_grey_images

RATE = 44_100


def vowel(duration_s: float, *, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(round(duration_s * RATE)) / RATE
    f0 = rng.uniform(100, 250)
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) + 0.01 * rng.standard_normal(t.size)
    lead = 1e-4 * rng.standard_normal(round(0.1 * RATE))
    return (0.5 * np.concatenate([lead, y / np.abs(y).max(), lead])).astype(np.float32)


#: (raw file name, patient, phase, vowel, duration or kind, label); raw names carry record numbers.
RECORDINGS = [
    ("10000001S1.wav", "P01", "pre", "A", 1.0, 0),
    ("10000001A1.wav", "P01", "post", "A", 1.2, 0),
    ("10000001S2.wav", "P01", "pre", "I", 0.9, 0),
    ("10000002S1.wav", "P02", "pre", "A", 14.0, 1),
    ("10000003S1.wav", "P03", "pre", "A", 0.2, 1),
    ("10000004S1.wav", "P04", "pre", "A", "silent", 1),
    ("10000005S1.wav", "P05", "pre", "A", "nan", None),
    ("10000006S1.wav", "P06", "pre", "A", "garbage", 0),
    ("10000007S1.wav", "P07", "pre", "A", 0.6, None),
]


def make_cohort(root: Path) -> Cohort:
    """A small cohort written to ``root`` and built directly as a :class:`Cohort`."""
    rows, paths, identifiers = [], {}, {}
    for i, (raw, pid, phase, vow, kind, label) in enumerate(RECORDINGS):
        path = root / "raw" / raw
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "silent":
            sf.write(path, np.zeros(RATE // 2, np.float32), RATE)
        elif kind == "nan":
            sf.write(path, np.full(RATE // 2, np.nan, np.float32), RATE, subtype="FLOAT")
        elif kind == "garbage":
            path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
        else:
            sf.write(path, vowel(float(kind), seed=i), RATE)
        rid = f"{pid}-{phase}-{vow}"
        paths[rid] = path
        identifiers[raw[:8]] = pid
        source = f"{pid}/{phase}/{pid}{'S' if phase == 'pre' else 'A'}{'AIUE'.index(vow) + 1}.wav"
        rows.append(
            {
                "recording_id": rid,
                "patient_id": pid,
                "phase": phase,
                "vowel": vow,
                "take": 1,
                "source": source,
                "duration_s": 1.0,
                "sample_rate": RATE,
                "channels": 1,
                "label": label,
            }
        )
    recordings = pd.DataFrame(rows, columns=list(RECORDING_COLUMNS))
    recordings["label"] = recordings["label"].astype("Int64")
    patients = pd.DataFrame({"patient_id": sorted(recordings["patient_id"].unique())}).reindex(
        columns=list(PATIENT_COLUMNS)
    )
    return Cohort(
        root=root,
        layout="study",
        recordings=recordings,
        patients=patients,
        problems=pd.DataFrame(columns=list(PROBLEM_COLUMNS)),
        _paths=paths,
        _identifiers=identifiers,
    )


@pytest.fixture
def cohort(tmp_path: Path) -> Cohort:
    return make_cohort(tmp_path / "cohort")


def count_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every audio file the builder reads."""
    loaded: list[str] = []
    original = audio_module.load_audio

    def spy(path, **kwargs):
        loaded.append(kwargs.get("name") or str(path))
        return original(path, **kwargs)

    monkeypatch.setattr(audio_module, "load_audio", spy)
    return loaded


def test_segment_table_arrays_and_problems(cohort: Cohort) -> None:
    config = preset("seed").preprocess
    progress: list[tuple[int, int]] = []
    ds = build_dataset(cohort, config, progress=lambda done, total: progress.append((done, total)))

    # Pre-op /a/: P01, P02 (14 s), P03 (0.2 s, padded), P07 give segments; P04-P06 are problems.
    assert list(ds.segments.columns) == list(SEGMENT_COLUMNS)
    assert len(ds) == 40
    assert ds.segments["recording_id"].unique().tolist() == [
        "P01-pre-A",
        "P02-pre-A",
        "P03-pre-A",
        "P07-pre-A",
    ]
    assert ds.segments["segment_id"].tolist() == list(range(40))
    assert ds.segments["segment_index"].tolist() == list(range(10)) * 4
    assert ds.segments["label"].dtype == "Int64"
    assert ds.segments.loc[ds.segments.patient_id == "P02", "label"].eq(1).all()
    assert ds.segments.loc[ds.segments.patient_id == "P07", "label"].isna().all()
    np.testing.assert_allclose(ds.segments["end_s"] - ds.segments["start_s"], 0.05)
    first = ds.segments[ds.segments.recording_id == "P01-pre-A"]
    assert np.all(np.abs(np.rint(np.diff(first["start_s"]) * 16_000) - 445) <= 1)
    assert 0.08 <= first["start_s"].iloc[0] <= 0.12  # trimmed 0.1 s of lead silence
    short = ds.segments[ds.segments.recording_id == "P03-pre-A"]
    assert short["padded"].any() and not ds.segments.loc[ds.segments.patient_id != "P03", "padded"].any()

    assert ds.mel.shape == ds.stft.shape == (40, 224, 224, 3)
    assert ds.mel.dtype == ds.stft.dtype == np.uint8
    assert ds.mel_db.shape == (40, 64, 64) and ds.stft_db.shape == (40, 65, 64)
    assert ds.mel_db.dtype == ds.stft_db.dtype == np.float32
    assert np.isfinite(ds.mel_db).all() and np.isfinite(ds.stft_db).all()
    np.testing.assert_array_equal(ds.mel[..., 0], to_grey_images(ds.mel_db))
    np.testing.assert_array_equal(ds.stft[..., 2], to_grey_images(ds.stft_db))

    problems = ds.problems
    assert list(problems.columns) == ["source", "severity", "reason"]
    assert problems["source"].tolist() == ["P04/pre/P04S1.wav", "P05/pre/P05S1.wav", "P06/pre/P06S1.wav"]
    assert (problems["severity"] == "error").all()
    # the audio gate's reasons, word for word what validation reports for the same files
    assert problems["reason"].tolist() == [
        "all-silent: every sample is zero",
        "NaN samples: 22050 of 22050 samples are NaN",
        "unreadable or corrupt audio file: Error in WAV file. No 'data' chunk marker.",
    ]
    names = ["10000004S1.wav", "10000005S1.wav", "10000006S1.wav"]
    for path, reason in zip(names, problems["reason"], strict=True):
        assert inspect_audio(cohort.root / "raw" / path).issues == (("error", reason),)
    text = problems.to_string() + ds.segments.to_string()
    assert "1000000" not in text and str(cohort.root) not in text
    assert progress[-1] == (7, 7) and [d for d, _ in progress] == sorted(d for d, _ in progress)


def test_returned_images_are_read_only_views_and_copies_are_writeable(cohort: Cohort, tmp_path: Path) -> None:
    ds = build_dataset(cohort, preset("seed").preprocess, cache_dir=tmp_path / "cache")
    with pytest.raises(ValueError, match="read-only"):
        ds.mel[0, 0, 0, 0] = 1
    copy = np.array(ds.mel)
    copy[0] = 0
    again = build_dataset(cohort, preset("seed").preprocess, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(again.mel, ds.mel)
    assert ds.mel_db.flags.writeable


def test_skip_policy_turns_a_short_recording_into_a_problem_row(cohort: Cohort) -> None:
    config = replace(preset("seed").preprocess, window=WindowConfig(short_policy="skip"))
    ds = build_dataset(cohort, config)
    assert "P03-pre-A" not in set(ds.segments["recording_id"])
    row = ds.problems[ds.problems["source"] == "P03/pre/P03S1.wav"]
    assert len(row) == 1 and "shorter" in row["reason"].iloc[0]
    assert len(ds) == 30


def test_selection_picks_other_vowels_and_post_op(cohort: Cohort) -> None:
    config = replace(
        preset("seed").preprocess, selection=SelectionConfig(phases=("pre", "post"), vowels=("A", "I"))
    )
    ds = build_dataset(cohort, config)
    assert {"P01-post-A", "P01-pre-I"} <= set(ds.segments["recording_id"])
    assert len(ds) == 60
    post_only = replace(config, selection=SelectionConfig(phases=("post",), vowels=("A",)))
    assert build_dataset(cohort, post_only).segments["recording_id"].unique().tolist() == ["P01-post-A"]


def test_cache_recomputes_only_what_changed(
    cohort: Cohort, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    config = preset("seed").preprocess
    loaded = count_loads(monkeypatch)

    cold = build_dataset(cohort, config, cache_dir=cache)
    assert len(loaded) == 7
    entries = sorted((cache / f"segments-{preprocess_key(config)}").glob("*.npy"))
    assert len(entries) == 7 and not list(cache.rglob("*.tmp"))

    loaded.clear()
    warm = build_dataset(cohort, config, cache_dir=cache)
    assert loaded == []
    for name in ("mel", "stft", "mel_db", "stft_db"):
        np.testing.assert_array_equal(getattr(warm, name), getattr(cold, name))
    pd.testing.assert_frame_equal(warm.segments, cold.segments)
    pd.testing.assert_frame_equal(warm.problems, cold.problems)

    # A changed file recomputes that recording only.
    sf.write(cohort.audio_path("P07-pre-A"), vowel(0.7, seed=99), RATE)
    loaded.clear()
    changed = build_dataset(cohort, config, cache_dir=cache)
    assert loaded == ["P07/pre/P07S1.wav"]
    assert not np.array_equal(changed.mel_db[-10:], cold.mel_db[-10:])
    np.testing.assert_array_equal(changed.mel_db[:30], cold.mel_db[:30])

    # A new selection computes only the recordings not seen before.
    loaded.clear()
    build_dataset(cohort, replace(config, selection=SelectionConfig(vowels=("A", "I"))), cache_dir=cache)
    assert loaded == ["P01/pre/P01S2.wav"]

    # A changed spectrogram parameter recomputes everything selected.
    loaded.clear()
    other = replace(config, spectrogram=SpectrogramConfig(top_db=60.0))
    build_dataset(cohort, other, cache_dir=cache)
    assert len(loaded) == 7
    assert preprocess_key(other) != preprocess_key(config)


def test_corrupt_cache_entry_is_recomputed(
    cohort: Cohort, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    config = preset("seed").preprocess
    cold = build_dataset(cohort, config, cache_dir=cache)
    entries = sorted((cache / f"segments-{preprocess_key(config)}").glob("*.npy"))
    entries[0].write_bytes(b"truncated")
    loaded = count_loads(monkeypatch)
    again = build_dataset(cohort, config, cache_dir=cache)
    assert len(loaded) == 1
    # recomputed alone instead of in a batch of four: the batched FFT may round differently (< 1e-5 dB)
    np.testing.assert_allclose(again.mel_db, cold.mel_db, rtol=0, atol=1e-4)


def test_empty_selection_result_has_the_contract_shapes(cohort: Cohort) -> None:
    config = replace(preset("seed").preprocess, selection=SelectionConfig(phases=("post",), vowels=("U",)))
    ds = build_dataset(cohort, config)
    assert len(ds) == 0 and list(ds.segments.columns) == list(SEGMENT_COLUMNS)
    assert ds.mel.shape == (0, 224, 224, 3) and ds.stft_db.shape == (0, 65, 64)


def test_real_svd_recordings_build_finite_arrays(svd_root: Path, tmp_path: Path) -> None:
    from core.cohort import load_cohort

    cohort = load_cohort(svd_root)
    a_pre = cohort.recordings[(cohort.recordings.vowel == "A") & (cohort.recordings.phase == "pre")]
    assert len(a_pre) == 54
    ds = build_dataset(cohort, PreprocessConfig(), cache_dir=tmp_path / "cache")
    assert len(ds) == 540 and ds.problems.empty
    assert np.isfinite(ds.mel_db).all() and np.isfinite(ds.stft_db).all()
    assert not ds.segments["padded"].any()
    assert ds.mel[..., 0].std(axis=(1, 2)).min() > 10  # every image has contrast


@pytest.mark.slow
def test_demo_cohort_pre_a_gives_430_segments(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    from core.cohort import load_cohort

    cohort = load_cohort(request.getfixturevalue("demo_cohort_dir"))
    ds = build_dataset(cohort, preset("seed").preprocess, cache_dir=tmp_path / "cache")
    assert len(ds) == 430 and ds.segments["patient_id"].nunique() == 43
    assert ds.problems.empty


def test_missing_file_becomes_a_problem_row_without_its_raw_path(cohort: Cohort) -> None:
    cohort.audio_path("P07-pre-A").unlink()
    ds = build_dataset(cohort, preset("seed").preprocess)
    row = ds.problems[ds.problems["source"] == "P07/pre/P07S1.wav"]
    assert row["reason"].tolist() == ["audio file cannot be read (No such file or directory)"]
    assert ds.problems["source"].tolist()[-1] == "P07/pre/P07S1.wav"  # rows follow the cohort order
    assert "10000007" not in ds.problems.to_string()
    assert len(ds) == 30


@pytest.mark.slow
def test_demo_cohort_all_four_vowels_give_every_patient_each_vowel_and_folds_keep_patients(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from core.cohort import load_cohort
    from core.splits import assert_no_leakage, make_folds

    cohort = load_cohort(request.getfixturevalue("demo_cohort_dir"))
    quick = preset("quick").preprocess
    only_a = build_dataset(cohort, quick, cache_dir=tmp_path / "cache")
    aiue = replace(quick, selection=SelectionConfig(vowels=("A", "I", "U", "E")))
    ds = build_dataset(cohort, aiue, cache_dir=tmp_path / "cache")
    assert ds.problems.empty and len(ds) == 4 * len(only_a) == 1720
    per_patient = ds.segments.groupby("patient_id")["vowel"].agg(lambda v: "".join(sorted(set(v))))
    assert len(per_patient) == 43 and set(per_patient) == {"AEIU"}
    assert (ds.segments.groupby(["patient_id", "vowel"]).size() == 10).all()
    a_rows = np.flatnonzero(ds.segments["vowel"].to_numpy() == "A")
    np.testing.assert_array_equal(ds.mel[a_rows], only_a.mel)  # the /a/ segments are the A-only run's
    i_rows = np.flatnonzero(ds.segments["vowel"].to_numpy() == "I")
    assert not np.array_equal(ds.mel[i_rows], only_a.mel)
    folds_a = make_folds(only_a.segments, preset("quick").split)
    for fold, fold_a in zip(make_folds(ds.segments, preset("quick").split), folds_a, strict=True):
        assert_no_leakage(ds.segments, fold)
        for part in ("train", "val", "test"):
            rows = getattr(fold, part)
            table = ds.segments.iloc[rows]
            assert (table.groupby("patient_id")["vowel"].nunique() == 4).all()  # all of a patient's vowels
            same = set(only_a.segments["patient_id"].iloc[getattr(fold_a, part)])
            assert set(table["patient_id"]) == same  # the same patient folds as with /a/ alone
