"""Prediction for a new recording: quality checks, the run's exact preprocessing, the fold ensemble."""

from __future__ import annotations

import dataclasses
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core import predict, quality
from core.config import PreprocessConfig
from core.metrics import aggregate_probabilities


def wav_bytes(y: np.ndarray, sr: int, *, format: str = "WAV", subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, y, sr, format=format, subtype=subtype)
    return buffer.getvalue()


def vowel(seconds: float, sr: int, *, amplitude: float = 0.5, f0: float = 150.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return amplitude * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) / 2.3


def checks(
    data: bytes, *, suffix: str = ".wav", config: PreprocessConfig | None = None
) -> quality.QualityReport:
    with quality.audio_file(data, suffix=suffix) as path:
        return quality.quality_checks(path, config=config or PreprocessConfig())


def test_a_clean_vowel_passes_every_check():
    report = checks(wav_bytes(vowel(2.0, 16_000), 16_000))
    assert report.ok and report.failures == []
    assert list(report.checks["check"]) == [
        "readable",
        "not silent",
        "duration",
        "clipping",
        "sample rate",
        "channels",
        "voiced part",
    ]
    assert set(report.checks["verdict"]) == {"pass"}
    assert (report.sample_rate, report.channels) == (16_000, 1)
    assert report.duration_s == pytest.approx(2.0)


def test_silent_upload_fails_with_its_reason():
    report = checks(wav_bytes(np.zeros(16_000), 16_000))
    assert not report.ok
    assert report.verdict("not silent") == "fail"
    assert report.failures == ["all-silent: every sample is zero"]
    assert report.verdict("voiced part") == ""  # not run on a silent file


def test_too_short_upload_fails_against_the_runs_span():
    report = checks(wav_bytes(vowel(0.1, 16_000), 16_000))
    assert report.verdict("duration") == "fail"
    assert "shorter than the 0.3 s" in report.failures[0]
    longer_span = PreprocessConfig(window=dataclasses.replace(PreprocessConfig().window, span_s=0.5))
    assert checks(wav_bytes(vowel(0.4, 16_000), 16_000), config=longer_span).verdict("duration") == "fail"
    assert checks(wav_bytes(vowel(0.4, 16_000), 16_000)).verdict("duration") == "pass"


def test_not_audio_and_empty_files_are_unreadable():
    report = checks(b"this is not a recording", suffix=".wav")
    assert list(report.checks["check"]) == ["readable"] and report.verdict("readable") == "fail"
    assert report.failures[0].startswith("not audio")
    assert checks(b"").failures[0].startswith("zero length")
    nan = wav_bytes(np.full(8000, np.nan), 16_000, subtype="FLOAT")
    assert checks(nan).failures == ["NaN samples: 8000 of 8000 samples are NaN"]


def test_a_lying_header_fails_before_any_sample_is_resampled(monkeypatch):
    def no_resampling(*args, **kwargs):
        raise AssertionError("a refused file must never reach resampling")

    monkeypatch.setattr("core.audio.resample", no_resampling)
    one_hz = wav_bytes(vowel(1.0, 16_000), 1)  # 16 000 samples declared at 1 Hz: 4.4 h
    report = checks(one_hz)
    assert list(report.checks["check"]) == ["readable"] and report.verdict("readable") == "fail"
    assert report.failures[0].startswith("sample rate out of range: the header says 1 Hz")
    dc = checks(wav_bytes(np.full(16_000, 0.5), 16_000))
    assert dc.verdict("readable") == "pass" and dc.verdict("not silent") == "fail"
    assert dc.failures[0].startswith("all-silent: only a constant offset (DC)")
    y = vowel(1.0, 16_000)
    opposed = checks(wav_bytes(np.stack([y, -y], axis=1), 16_000))
    assert opposed.failures[0].startswith("anti-phase stereo: the 2 channels cancel")


def test_clipping_stereo_and_sample_rate_verdicts():
    y = np.clip(3 * vowel(1.0, 48_000), -1, 1)
    stereo = np.stack([y, y], axis=1)
    report = checks(wav_bytes(stereo, 48_000, format="FLAC"), suffix=".flac")
    clipped = float(np.mean(np.abs(stereo) >= 1 - 2.0**-15))
    assert report.checks.set_index("check").loc["clipping", "value"] == f"{100 * clipped:.2f} %"
    assert report.verdict("clipping") == "fail" and clipped >= quality.CLIP_FAIL_FRACTION
    assert report.verdict("channels") == "warn" and report.channels == 2
    assert report.verdict("sample rate") == "pass"
    light = vowel(1.0, 16_000)
    light[:40] = 1.0  # 0.25 % of samples at full scale
    assert checks(wav_bytes(light, 16_000)).verdict("clipping") == "warn"
    assert checks(wav_bytes(vowel(1.0, 11_025), 11_025)).verdict("sample rate") == "warn"
    assert checks(wav_bytes(vowel(1.0, 6_000), 6_000)).verdict("sample rate") == "fail"


def test_voiced_part_shorter_than_the_span_warns_when_padded_and_fails_when_skipped():
    sr = 16_000
    y = np.concatenate([np.zeros(sr), vowel(0.2, sr), np.zeros(sr)])
    assert checks(wav_bytes(y, sr)).verdict("voiced part") == "warn"
    skip = PreprocessConfig(window=dataclasses.replace(PreprocessConfig().window, short_policy="skip"))
    report = checks(wav_bytes(y, sr), config=skip)
    assert report.verdict("voiced part") == "fail" and "skips short clips" in report.failures[0]


def test_uploaded_bytes_leave_no_file_behind(tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with quality.audio_file(wav_bytes(vowel(1.0, 16_000), 16_000), suffix=".wav") as path:
        assert path.is_file() and path.parent.parent == scratch
    assert list(scratch.iterdir()) == []
    with pytest.raises(RuntimeError), quality.audio_file(b"abc", suffix="../../x") as path:
        assert path.name == "recording.wav"  # a suffix from a client never shapes the path
        raise RuntimeError("fails while reading")
    assert list(scratch.iterdir()) == []


def test_recording_images_are_the_datasets_images(demo_cohort_dir):
    from core.cohort import load_cohort
    from core.dataset import build_dataset

    cohort = load_cohort(demo_cohort_dir)
    config = PreprocessConfig(spectrogram=dataclasses.replace(PreprocessConfig().spectrogram, image_size=64))
    recording = cohort.recordings[
        (cohort.recordings["phase"] == "pre") & (cohort.recordings["vowel"] == "A")
    ].iloc[5]
    one = dataclasses.replace(
        cohort, recordings=cohort.recordings[cohort.recordings["recording_id"] == recording["recording_id"]]
    )
    dataset = build_dataset(one, config, cache_dir=None)
    images = predict.recording_images(cohort.audio_path(recording["recording_id"]), config=config)
    assert len(images) == len(dataset) == 10
    np.testing.assert_array_equal(images.mel, dataset.mel)
    np.testing.assert_array_equal(images.stft, dataset.stft)
    np.testing.assert_allclose(images.starts_s, dataset.segments["start_s"])


def test_aggregate_and_verdict_text():
    prob = np.array([[0.2, 0.4, 0.9], [0.1, 0.1, 0.7]])
    np.testing.assert_allclose(aggregate_probabilities(prob, how="mean"), [0.5, 0.3])
    np.testing.assert_allclose(aggregate_probabilities(prob, how="max"), [0.9, 0.7])
    text = predict.verdict_text(mean=0.6, low=0.5, high=0.7, n_models=5, n_poor=4)
    assert (
        text.startswith("The models lean towards a poor outcome: 4 of 5") and predict.NOT_A_DIAGNOSIS in text
    )
    assert "split" in predict.verdict_text(mean=0.5, low=0.4, high=0.6, n_models=2, n_poor=1)
    assert "good outcome: 3 of 3" in predict.verdict_text(mean=0.2, low=0.1, high=0.3, n_models=3, n_poor=0)


@pytest.fixture(scope="module")
def run(demo_runs_root):
    from core.run import load_run
    from core.runs import list_runs

    return load_run(list_runs(demo_runs_root)["run_dir"].iloc[0])


@pytest.fixture(scope="module")
def ensemble(run):
    return predict.Ensemble.from_run(run)


@pytest.mark.slow
def test_a_demo_recording_gets_the_mean_of_the_fold_models(run, ensemble, demo_cohort_dir):
    from core.cohort import load_cohort
    from core.dataset import build_dataset
    from core.runs import load_fold_model

    cohort = load_cohort(demo_cohort_dir)
    patient_id = run.patient_predictions.query("part == 'test'")["patient_id"].iloc[0]
    recording_id = f"{patient_id}-pre-A"
    prediction = predict.predict_recording(cohort.audio_path(recording_id).read_bytes(), ensemble=ensemble)
    assert prediction.ok and prediction.quality.ok
    result = prediction.result

    # Independently: the run's own dataset images of this recording through each saved fold model.
    one = dataclasses.replace(
        cohort, recordings=cohort.recordings[cohort.recordings["recording_id"] == recording_id]
    )
    dataset = build_dataset(one, ensemble.config.preprocess, cache_dir=None)
    expected = {
        key: float(np.mean(load_fold_model(run.path, key).predict(dataset.mel, dataset.stft)))
        for key in run.manifest["folds_done"]
    }
    per_model = result.per_model.set_index("fold_key")["prob"]
    for key, value in expected.items():
        assert per_model[key] == pytest.approx(value, abs=1e-5)
    assert 0.0 <= result.mean <= 1.0
    assert result.mean == pytest.approx(np.mean(list(expected.values())), abs=1e-5)
    assert result.sd == pytest.approx(np.std(list(expected.values())), abs=1e-5)
    # The fold that held this patient out stored the same number as its test prediction.
    stored = run.patient_predictions.query("part == 'test' and patient_id == @patient_id").iloc[0]
    assert per_model[f"r{stored['repeat']}f{stored['fold']}"] == pytest.approx(stored["prob"], abs=1e-5)
    assert result.n_poor == int((result.per_model["prob"] >= result.per_model["threshold"]).sum())
    assert result.verdict.endswith(predict.NOT_A_DIAGNOSIS)
    assert abs(result.segments["prob_mean"].iloc[result.segment] - result.mean) == pytest.approx(
        (result.segments["prob_mean"] - result.mean).abs().min()
    )
    size = ensemble.config.preprocess.spectrogram.image_size
    assert result.heatmap_mel.shape == result.heatmap_stft.shape == (size, size)
    assert 0.0 <= result.heatmap_mel.min() and result.heatmap_mel.max() <= 1.0
    assert result.explained_by in ensemble.models


@pytest.mark.slow
def test_a_real_8khz_voice_against_the_synthetic_run_gets_a_tempered_verdict(
    run, ensemble, tmp_path, pd_root
):
    """A pd_vowels recording (8 kHz, real speaker) is unlike the demo run's data; the verdict says so."""

    from core import ood
    from core.pairing import run_is_synthetic

    files = sorted((pd_root / "HC").glob("*.wav"))
    assert run_is_synthetic(run)
    reference = ood.run_reference(run, cache_dir=tmp_path)
    prediction = predict.predict_recording(files[0], ensemble=ensemble, reference=reference, synthetic=True)
    assert prediction.ok and not prediction.ood.ok
    verdict = prediction.result.verdict
    assert verdict.startswith("This recording is unlike the training data: sample rate 8000 Hz")
    assert "not reliable here" in verdict and "trained on synthetic recordings" in verdict
    assert verdict.endswith(predict.NOT_A_DIAGNOSIS)


@pytest.mark.slow
def test_a_silent_upload_is_refused_before_any_model_runs(ensemble):
    prediction = predict.predict_recording(wav_bytes(np.zeros(32_000), 16_000), ensemble=ensemble)
    assert not prediction.ok and prediction.result is None
    assert "silent" in prediction.quality.failures[0]
    # an upload whose header lies about its rate is answered with a reason, not a MemoryError
    lying = predict.predict_recording(wav_bytes(vowel(2.0, 16_000), 1), ensemble=ensemble)
    assert lying.result is None and lying.quality.failures[0].startswith("sample rate out of range")


def test_ensemble_needs_finished_folds(run):
    from core.errors import RunError

    empty = dataclasses.replace(run, manifest={**run.manifest, "folds_done": []})
    with pytest.raises(RunError, match="no finished fold"):
        predict.Ensemble.from_run(empty)


def test_audio_file_passes_paths_through(tmp_path):
    path = tmp_path / "given.wav"
    path.write_bytes(wav_bytes(vowel(0.5, 16_000), 16_000))
    with quality.audio_file(path) as opened:
        assert opened == Path(path)
    assert path.is_file()
