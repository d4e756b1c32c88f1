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

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.audio import cut_recording
from core.cohort.classes import DEFAULT_CLASS_NAMES, ClassNames, is_study
from core.config import ExperimentConfig, PreprocessConfig
from core.errors import AudioError, CoreError, RunError
from core.folds import FoldKey
from core.metrics import ModelSpread, aggregate_probabilities
from core.quality import AudioInput, QualityReport, audio_file, quality_checks
from core.run import Run
from core.spectrogram import segment_images, tile_channels
from core.spectrogram_geometry import band_top_hz, native_rate

NOT_A_DIAGNOSIS = (
    "Research tool, not a diagnosis: the probability comes from a model trained on a small study "
    "cohort and has not been validated for clinical decisions."
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
        keys = [key.key for key in run.fold_keys]
        if not keys:
            raise RunError(f"run {run.path.name} has no finished fold to predict with")
        table = run.thresholds(level="patient")
        thresholds = {FoldKey(int(r), int(f)).key: float(t) for r, f, t in table.itertuples(index=False)}
        missing = [k for k in keys if k not in thresholds]
        if missing:
            raise RunError(
                f"run {run.path.name}: no patient-level threshold for folds {missing} in folds.csv"
            )
        return cls(
            run_id=run.path.name,
            config=run.config,
            models={key: run.model(key) for key in keys},
            thresholds={k: thresholds[k] for k in keys},
            class_names=run.class_names,
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
        below = n_models - n_poor
        lean = f"The models lean towards {negative}: {below} of {n_models} stay below their threshold"
    else:
        lean = f"The models are split: {n_poor} of {n_models} reach their threshold"
    return f"{lean} (mean probability of {positive} {mean:.2f}, {spread}). {NOT_A_DIAGNOSIS}"


def predict_images(
    images: RecordingImages, *, ensemble: Ensemble, explain: bool = True
) -> EnsemblePrediction:
    """Ensemble prediction (and Grad-CAM of the typical segment) for preprocessed images."""
    from core.explain.gradcam import GradCam, delta_cam

    prob = ensemble.segment_probabilities(images)
    per_model_prob = aggregate_probabilities(prob, how=ensemble.aggregation)
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
            return Prediction(quality=quality.with_failure("preprocessing", str(exc)), result=None)
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
    "NOT_A_DIAGNOSIS",
    "Ensemble",
    "EnsemblePrediction",
    "Prediction",
    "RecordingImages",
    "predict_images",
    "predict_recording",
    "recording_images",
    "verdict_text",
]
