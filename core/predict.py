"""Prediction for a new recording with every fold model of a run.

Steps, in order:

1. Quality checks, each with a verdict ("pass", "warn", "fail") and a plain reason:
   readable, not silent, long enough for the run's span, voiced part long enough,
   clipping, sample rate, channels. Any "fail" stops here.
2. The run's exact preprocessing (its manifest's config → :class:`PreprocessConfig`):
   load, resample, normalise, trim, cut the span into windows
   (:func:`core.audio.cut_recording`), Mel/STFT dB matrices and images
   (:mod:`core.spectrogram`), as :func:`core.dataset.build_dataset` does for a cohort.
3. Every fold model of the run gives a probability of a poor outcome per segment; its
   recording-level probability aggregates the segments as the run aggregated patients
   (mean by default). The ensemble reports the mean and spread over models and how many
   models reach their own validation-chosen patient-level threshold.
4. Grad-CAM of the most typical segment (its mean probability over models nearest the
   ensemble's) from the model nearest the ensemble mean.

Uploaded bytes go to a private temporary folder only for as long as they are read, and
the folder is deleted before the function returns, also on error. Nothing is written
anywhere else; no cohort or run folder is touched.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.audio import cut_recording, load_audio, trim_region, window_lengths
from core.audio_gate import CLIP_FRACTION, examine
from core.cohort.classes import DEFAULT_CLASS_NAMES, ClassNames, class_names, is_study
from core.config import ExperimentConfig, PreprocessConfig
from core.errors import AudioError, CoreError, RunError
from core.folds import FoldKey
from core.metrics import ModelSpread
from core.runs import Run, load_fold_model
from core.spectrogram import segment_images, tile_channels
from core.spectrogram_geometry import band_top_hz, native_rate

#: Columns of the quality-check table.
CHECK_COLUMNS: tuple[str, ...] = ("check", "verdict", "value", "reason")
VERDICTS: tuple[str, ...] = ("pass", "warn", "fail")

#: Uploads larger than this are refused before they are read (a sustained vowel is far smaller).
MAX_UPLOAD_BYTES: int = 50 * 1024 * 1024
#: Share of samples at full scale from which clipping fails the check (warns from CLIP_FRACTION).
CLIP_FAIL_FRACTION: float = 0.05
#: A peak below this (−40 dBFS) is very quiet: the recording level is worth a warning.
QUIET_PEAK: float = 0.01
#: Stored rates below this cannot show the voice's harmonics the models were trained on (a verdict of
#: this check, stricter than the audio gate's 4 kHz floor below which no file is read at all).
MIN_SAMPLE_RATE: int = 8_000
#: Gate refusals that mean "nothing to analyse" rather than "not readable".
SILENT_REASONS: tuple[str, ...] = ("all-silent", "anti-phase stereo")
#: Recordings longer than this are unusual for one sustained vowel (only the span is used).
LONG_RECORDING_S: float = 30.0

NOT_A_DIAGNOSIS = (
    "Research tool, not a diagnosis: the probability comes from a model trained on a small study "
    "cohort and has not been validated for clinical decisions."
)

AudioInput = bytes | str | Path


@contextlib.contextmanager
def audio_file(audio: AudioInput, *, suffix: str = ".wav") -> Iterator[Path]:
    """A readable path for ``audio``: the path itself, or bytes in a temporary file deleted on exit.

    Parameters
    ----------
    audio : bytes, str or Path
        The recording's bytes (an upload) or a file path.
    suffix : str
        File suffix of the temporary copy (".wav", ".flac").
    """
    if not isinstance(audio, (bytes, bytearray)):
        yield Path(audio)
        return
    suffix = suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,5}", suffix or "") else ".wav"
    # A private folder (mode 0700) removed with its content however the block ends.
    with tempfile.TemporaryDirectory(prefix="voe-upload-") as folder:
        path = Path(folder) / f"recording{suffix}"
        path.write_bytes(bytes(audio))
        yield path


@dataclass(frozen=True)
class QualityReport:
    """Quality checks of one recording.

    Attributes
    ----------
    checks : pd.DataFrame
        Columns :data:`CHECK_COLUMNS`, one row per check that ran (checks after an
        unreadable file do not run).
    sample_rate, channels : int
        As stored (0 when unreadable).
    duration_s : float
    """

    checks: pd.DataFrame
    sample_rate: int
    channels: int
    duration_s: float

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return not (self.checks["verdict"] == "fail").any()

    @property
    def failures(self) -> list[str]:
        """Reasons of the failed checks."""
        return self.checks.loc[self.checks["verdict"] == "fail", "reason"].tolist()

    def verdict(self, check: str) -> str:
        """Verdict of one check by name ("" when it did not run)."""
        rows = self.checks[self.checks["check"] == check]
        return str(rows["verdict"].iloc[0]) if not rows.empty else ""


def quality_checks(path: Path, *, config: PreprocessConfig) -> QualityReport:
    """Check a recording before prediction, in plain words.

    The file goes through the audio gate (:func:`core.audio_gate.examine`) first, the
    same gate validation and preprocessing use: a header out of bounds (a sample rate of
    1 Hz, hours of audio) fails "readable" before any sample is read or resampled, and
    the silence rules (all-zero, DC-only, anti-phase stereo) fail "not silent".

    Parameters
    ----------
    path : Path
        The audio file.
    config : PreprocessConfig
        The run's preprocessing: its span, sample rate, trimming and short-clip policy.

    Returns
    -------
    QualityReport
        Never raises for a bad file; a problem is a "fail" row.
    """
    rows: list[dict[str, str]] = []

    def add(check: str, verdict: str, value: str, reason: str) -> None:
        rows.append({"check": check, "verdict": verdict, "value": value, "reason": reason})

    def report(rate: int = 0, channels: int = 0, duration: float = 0.0) -> QualityReport:
        return QualityReport(pd.DataFrame(rows, columns=list(CHECK_COLUMNS)), rate, channels, duration)

    size = path.stat().st_size if path.is_file() else 0
    if size > MAX_UPLOAD_BYTES:
        add(
            "readable",
            "fail",
            f"{size / 1e6:.0f} MB",
            f"the file is larger than {MAX_UPLOAD_BYTES / 1e6:.0f} MB; a sustained vowel needs a few seconds",
        )
        return report()
    gate = examine(path)
    header, refusal = gate.header, gate.refusal
    silent = refusal is not None and refusal.startswith(SILENT_REASONS)
    if header is None or (refusal is not None and not silent):
        value = f"{header.format} {header.subtype}" if header is not None else "—"
        add("readable", "fail", value, refusal or "the file cannot be read as audio")
        return report(gate.sample_rate, gate.channels)
    rate, channels, duration = header.sample_rate, header.channels, gate.duration_s
    add("readable", "pass", f"{header.format} {header.subtype}", "read as audio")

    peak = gate.peak
    peak_db = 20 * np.log10(peak) if peak > 0 else -np.inf
    level = f"peak {peak_db:.0f} dBFS" if peak > 0 else "every sample is zero"
    if silent:
        add("not silent", "fail", level, str(refusal))
    elif peak < QUIET_PEAK:
        add("not silent", "warn", level, "very quiet; it is normalised, but noise is amplified with it")
    else:
        add("not silent", "pass", level, "a clear signal")

    span_s = config.window.span_s
    if duration < span_s:
        add(
            "duration",
            "fail",
            f"{duration:.2f} s",
            f"shorter than the {span_s:g} s the run analyses; record a sustained vowel of a few seconds",
        )
    elif duration > LONG_RECORDING_S:
        add(
            "duration",
            "warn",
            f"{duration:.1f} s",
            f"long for one sustained vowel; only {span_s:g} s of the voiced part is analysed",
        )
    else:
        add("duration", "pass", f"{duration:.2f} s", f"at least the {span_s:g} s the run analyses")

    clipped = gate.clipped
    if clipped >= CLIP_FAIL_FRACTION:
        add(
            "clipping",
            "fail",
            f"{100 * clipped:.2f} %",
            "heavily clipped: the distortion changes the spectrum; record again with less gain",
        )
    elif clipped >= CLIP_FRACTION:
        add(
            "clipping",
            "warn",
            f"{100 * clipped:.2f} %",
            "some samples hit full scale; the spectrum may be slightly distorted",
        )
    else:
        add("clipping", "pass", f"{100 * clipped:.2f} %", "no clipping")

    target = config.audio.sample_rate
    if rate < MIN_SAMPLE_RATE:
        add(
            "sample rate",
            "fail",
            f"{rate} Hz",
            f"below {MIN_SAMPLE_RATE} Hz: too coarse for the voice's harmonics",
        )
    elif rate < target:
        add(
            "sample rate",
            "warn",
            f"{rate} Hz",
            f"below the run's {target} Hz: frequencies above {rate // 2} Hz are empty, unlike the training recordings",
        )
    else:
        add(
            "sample rate",
            "pass",
            f"{rate} Hz",
            f"resampled to the run's {target} Hz" if rate != target else "the run's rate",
        )

    if channels > 1:
        add("channels", "warn", f"{channels}", "stereo: the channels are averaged to mono, as in training")
    else:
        add("channels", "pass", "1", "mono")

    if not silent and duration >= span_s:
        _voiced_check(path, config=config, add=add)
    return report(rate, channels, duration)


def _voiced_check(path: Path, *, config: PreprocessConfig, add: Any) -> None:
    """Voiced length after the run's energy trimming, against its span and short-clip policy."""
    sr = config.audio.sample_rate
    try:
        y = load_audio(path, config=config.audio, name="the recording")
    except AudioError as exc:
        add("voiced part", "fail", "—", str(exc))
        return
    start, end = trim_region(y, sr=sr, config=config.trim)
    _, _, span = window_lengths(sr=sr, config=config.window)
    voiced = (end - start) / sr
    if end - start >= span:
        add(
            "voiced part",
            "pass",
            f"{voiced:.2f} s",
            f"at least the {span / sr:g} s span after trimming silence",
        )
    elif config.window.short_policy == "skip":
        add(
            "voiced part",
            "fail",
            f"{voiced:.2f} s",
            f"the voiced part is shorter than the {span / sr:g} s span and the run skips short clips",
        )
    else:
        add(
            "voiced part",
            "warn",
            f"{voiced:.2f} s",
            f"the voiced part is shorter than the {span / sr:g} s span; the end is zero-padded, as in training",
        )


@dataclass(frozen=True)
class RecordingImages:
    """One recording preprocessed exactly as the run's training data.

    Attributes
    ----------
    mel, stft : np.ndarray [shape=(k, S, S, 3), dtype=uint8]
        Segment images (read-only broadcast views of grey arrays).
    starts_s, ends_s : np.ndarray [shape=(k,)]
        Window boundaries in seconds from the recording's start.
    padded : np.ndarray [shape=(k,), dtype=bool]
    """

    mel: np.ndarray
    stft: np.ndarray
    starts_s: np.ndarray
    ends_s: np.ndarray
    padded: np.ndarray

    def __len__(self) -> int:
        return int(self.mel.shape[0])


def recording_images(path: Path, *, config: PreprocessConfig) -> RecordingImages:
    """Cut a recording into the run's segments and make their Mel and STFT images.

    Raises
    ------
    AudioError
        The recording is unusable or the short-clip policy skipped it.
    """
    sr = config.audio.sample_rate
    cut = cut_recording(path, config=config, name="the recording")
    if not len(cut.plan):
        raise AudioError(f"the recording gives no segment: {cut.plan.skipped}")
    spec = config.spectrogram
    top = band_top_hz(sr, native_rate=native_rate(path), config=spec)  # as the dataset builder does
    images = segment_images(cut.segments, sr=sr, config=spec, top_hz=top)
    return RecordingImages(
        mel=tile_channels(images.mel_grey),
        stft=tile_channels(images.stft_grey),
        starts_s=cut.plan.starts / sr,
        ends_s=cut.plan.ends / sr,
        padded=cut.plan.padded.copy(),
    )


@dataclass
class Ensemble:
    """Every fold model of a run with its patient-level threshold.

    Attributes
    ----------
    run_id : str
    config : ExperimentConfig
    models : dict of str to DualModel
        By fold key ("r0f1"), in training order.
    thresholds : dict of str to float
        Each fold's validation-chosen patient-level threshold.
    class_names : (str, str)
        What the run calls label 0 and 1 (well/poor for the study).
    """

    run_id: str
    config: ExperimentConfig
    models: dict[str, Any]
    thresholds: dict[str, float]
    class_names: ClassNames = DEFAULT_CLASS_NAMES

    @classmethod
    def from_run(cls, run: Run) -> Ensemble:
        """Load every finished fold's model (imports TensorFlow).

        Raises
        ------
        RunError
            When the run has no finished fold or a fold lacks its threshold.
        """
        keys = list(run.manifest.get("folds_done", []))
        if not keys:
            raise RunError(f"run {run.path.name} has no finished fold to predict with")
        folds = run.folds
        rows = folds[(folds["level"] == "patient") & (folds["part"] == "test")] if not folds.empty else folds
        thresholds = {FoldKey(int(r.repeat), int(r.fold)).key: float(r.threshold) for r in rows.itertuples()}
        missing = [k for k in keys if k not in thresholds]
        if missing:
            raise RunError(
                f"run {run.path.name}: no patient-level threshold for folds {missing} in folds.csv"
            )
        models = {key: load_fold_model(run.path, key) for key in keys}
        config = ExperimentConfig.from_dict(run.manifest["config"])
        return cls(
            run_id=run.path.name,
            config=config,
            models=models,
            thresholds={k: thresholds[k] for k in keys},
            class_names=class_names(run),
        )

    @property
    def aggregation(self) -> str:
        return self.config.train.patient_aggregation

    def segment_probabilities(self, images: RecordingImages) -> np.ndarray:
        """Probability of a poor outcome of every segment under every model.

        Returns
        -------
        prob : np.ndarray [shape=(n_models, k), dtype=float32]
            Rows in the order of :attr:`models`.
        """
        return np.stack([model.predict(images.mel, images.stft) for model in self.models.values()])


@dataclass(frozen=True)
class EnsemblePrediction(ModelSpread):
    """The ensemble's answer for one recording.

    Attributes
    ----------
    mean, sd, low, high, threshold, n_models, n_poor
        See :class:`core.metrics.ModelSpread`, over the models' recording-level
        probabilities.
    per_model : pd.DataFrame
        ``fold_key, prob, threshold, predicted`` per model: ``prob`` aggregates the
        segments as the run aggregated patients.
    segments : pd.DataFrame
        ``segment, start_s, end_s, padded, prob_mean, prob_sd``: each segment's mean and
        SD over models.
    verdict : str
        Plain-language sentence, ending with :data:`NOT_A_DIAGNOSIS`.
    segment : int
        Index of the most typical segment.
    explained_by : str
        Fold key of the model whose Grad-CAM is shown (nearest the ensemble mean).
    mel, stft : np.ndarray [shape=(S, S), dtype=uint8] or None
        The typical segment's grey images.
    heatmap_mel, heatmap_stft : np.ndarray [shape=(S, S), dtype=float32] or None
        Grad-CAM in [0, 1]; None when not asked for.
    delta : np.ndarray [shape=(S, S), dtype=float32] or None
        ΔCAM (dual model).
    """

    per_model: pd.DataFrame
    segments: pd.DataFrame
    verdict: str
    segment: int
    explained_by: str
    mel: np.ndarray | None
    stft: np.ndarray | None
    heatmap_mel: np.ndarray | None
    heatmap_stft: np.ndarray | None
    delta: np.ndarray | None


@dataclass(frozen=True)
class Prediction:
    """Quality checks and, when they pass, the ensemble's prediction.

    Attributes
    ----------
    quality : QualityReport
    result : EnsemblePrediction or None
        None when a check failed.
    """

    quality: QualityReport
    result: EnsemblePrediction | None
    ood: Any = None

    @property
    def ok(self) -> bool:
        return self.result is not None


def aggregate(prob: np.ndarray, *, how: str = "mean") -> np.ndarray:
    """Recording-level probability per model from segment probabilities.

    Parameters
    ----------
    prob : np.ndarray [shape=(n_models, k)]
    how : {"mean", "median", "max"}

    Returns
    -------
    np.ndarray [shape=(n_models,), dtype=float64]
    """
    functions = {"mean": np.mean, "median": np.median, "max": np.max}
    if how not in functions:
        raise RunError(f"patient aggregation {how!r}; expected one of {sorted(functions)}")
    return functions[how](np.asarray(prob, dtype=np.float64), axis=1)


def verdict_text(
    *,
    mean: float,
    low: float,
    high: float,
    n_models: int,
    n_poor: int,
    class_names: ClassNames = DEFAULT_CLASS_NAMES,
) -> str:
    """The plain-language verdict of the ensemble, in the run's class names (well/poor for the study)."""
    spread = f"range {low:.2f}–{high:.2f} over {n_models} models" if n_models > 1 else "one model"
    negative, positive = ("a good outcome", "a poor outcome") if is_study(class_names) else class_names
    if n_poor * 2 > n_models:
        lean = f"The models lean towards {positive}: {n_poor} of {n_models} reach their threshold"
    elif n_poor * 2 < n_models:
        lean = f"The models lean towards {negative}: {n_models - n_poor} of {n_models} stay below their threshold"
    else:
        lean = f"The models are split: {n_poor} of {n_models} reach their threshold"
    return f"{lean} (mean probability of {positive} {mean:.2f}, {spread}). {NOT_A_DIAGNOSIS}"


def predict_images(
    images: RecordingImages, *, ensemble: Ensemble, explain: bool = True
) -> EnsemblePrediction:
    """Ensemble prediction (and Grad-CAM of the typical segment) for preprocessed images."""
    from core.explain.gradcam import GradCam, delta_cam

    prob = ensemble.segment_probabilities(images)
    per_model_prob = aggregate(prob, how=ensemble.aggregation)
    keys = list(ensemble.models)
    thresholds = np.array([ensemble.thresholds[k] for k in keys])
    poor = per_model_prob >= thresholds
    mean = float(per_model_prob.mean())
    per_model = pd.DataFrame(
        {
            "fold_key": keys,
            "prob": per_model_prob,
            "threshold": thresholds,
            "predicted": np.where(poor, ensemble.class_names[1], ensemble.class_names[0]),
        }
    )
    segment_mean = prob.mean(axis=0)
    segments = pd.DataFrame(
        {
            "segment": np.arange(len(images)),
            "start_s": images.starts_s,
            "end_s": images.ends_s,
            "padded": images.padded,
            "prob_mean": segment_mean,
            "prob_sd": prob.std(axis=0),
        }
    )
    # argmin takes the first of equals: the earliest segment, the model trained first.
    typical = int(np.argmin(np.abs(segment_mean - mean)))
    chosen = keys[int(np.argmin(np.abs(per_model_prob - mean)))]
    model = ensemble.models[chosen]
    branches = tuple(model.branches)
    maps: dict[str, np.ndarray] = {}
    if explain:
        pair = {b: np.asarray(getattr(images, b)[typical : typical + 1]) for b in ("mel", "stft")}
        explanation = GradCam().explain(
            model, pair["mel"] if "mel" in branches else None, pair["stft"] if "stft" in branches else None
        )
        maps = {f"heatmap_{b}": e.heatmap[0] for b, e in explanation.items()}
        if set(explanation) == {"mel", "stft"}:
            maps["delta"] = delta_cam(explanation["mel"], explanation["stft"])[0][0]
    spread = ModelSpread.of(per_model_prob, thresholds)
    return EnsemblePrediction(
        **spread,
        per_model=per_model,
        segments=segments,
        verdict=verdict_text(
            mean=spread["mean"],
            low=spread["low"],
            high=spread["high"],
            n_models=spread["n_models"],
            n_poor=spread["n_poor"],
            class_names=ensemble.class_names,
        ),
        segment=typical,
        explained_by=chosen,
        mel=np.asarray(images.mel[typical])[..., 0].copy() if "mel" in branches else None,
        stft=np.asarray(images.stft[typical])[..., 0].copy() if "stft" in branches else None,
        heatmap_mel=maps.get("heatmap_mel"),
        heatmap_stft=maps.get("heatmap_stft"),
        delta=maps.get("delta"),
    )


def predict_recording(
    audio: AudioInput,
    *,
    ensemble: Ensemble,
    suffix: str = ".wav",
    explain: bool = True,
    reference: pd.DataFrame | None = None,
    synthetic: bool = False,
) -> Prediction:
    """Check a new recording, then predict its outcome with every fold model of a run.

    Parameters
    ----------
    audio : bytes, str or Path
        Uploaded bytes (kept in a temporary file only while read) or a file path.
    ensemble : Ensemble
        :meth:`Ensemble.from_run`.
    suffix : str
        Suffix of the upload's name (".wav", ".flac"), for the temporary copy.
    explain : bool
        Also Grad-CAM of the most typical segment.
    reference : pd.DataFrame, optional
        :func:`core.ood.run_reference`: when given, ``ood`` compares the recording with the
        training recordings and an unlike recording tempers the verdict.
    synthetic : bool
        The run was trained on synthetic data: the verdict says so.

    Returns
    -------
    Prediction
        ``result`` is None when a quality check failed (the reasons are in ``quality``).
    """
    from core import ood as ood_check

    preprocess = ensemble.config.preprocess
    with audio_file(audio, suffix=suffix) as path:
        quality = quality_checks(path, config=preprocess)
        if not quality.ok:
            return Prediction(quality=quality, result=None)
        try:
            images = recording_images(path, config=preprocess)
        except CoreError as exc:
            rows = pd.concat(
                [
                    quality.checks,
                    pd.DataFrame(
                        [{"check": "preprocessing", "verdict": "fail", "value": "—", "reason": str(exc)}]
                    ),
                ],
                ignore_index=True,
            )
            failed = QualityReport(rows, quality.sample_rate, quality.channels, quality.duration_s)
            return Prediction(quality=failed, result=None)
        report = (
            None
            if reference is None
            else ood_check.compare(ood_check.recording_features(path, config=preprocess), reference)
        )
    result = predict_images(images, ensemble=ensemble, explain=explain)
    result = replace(
        result, verdict=ood_check.tempered_verdict(result.verdict, report=report, synthetic=synthetic)
    )
    return Prediction(quality=quality, result=result, ood=report)


__all__ = [
    "CHECK_COLUMNS",
    "NOT_A_DIAGNOSIS",
    "Ensemble",
    "EnsemblePrediction",
    "Prediction",
    "QualityReport",
    "RecordingImages",
    "aggregate",
    "audio_file",
    "predict_images",
    "predict_recording",
    "quality_checks",
    "recording_images",
    "verdict_text",
]
