"""Settings for every stage as frozen dataclasses, named presets, JSON and hashes.

The "seed" preset is the study's method exactly; "quick" keeps the
same science with fewer epochs and a small backbone so five folds finish in minutes
on a laptop CPU. Every run folder stores ``ExperimentConfig.to_dict()`` and its hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from core.errors import ConfigError

VOWELS: tuple[str, ...] = ("A", "I", "U", "E")
PHASES: tuple[str, ...] = ("pre", "post")


@dataclass(frozen=True)
class AudioConfig:
    """How a recording becomes an analysis signal.

    Parameters
    ----------
    sample_rate : int
        Target rate in Hz; every file is resampled to it (mono, mean removed,
        peak-normalised to 1).
    """

    sample_rate: int = 16_000

    def validate(self) -> None:
        if not 4_000 <= self.sample_rate <= 96_000:
            raise ConfigError(f"audio.sample_rate={self.sample_rate} Hz; expected 4000..96000")


@dataclass(frozen=True)
class TrimConfig:
    """Energy-threshold trimming of leading/trailing silence.

    Parameters
    ----------
    enabled : bool
        Trim or keep the whole clip.
    threshold_db : float
        Frames quieter than the loudest frame by more than this many dB are silence.
    frame_s, hop_s : float
        Analysis frame and hop of the energy envelope, in seconds.
    """

    enabled: bool = True
    threshold_db: float = 40.0
    frame_s: float = 0.02
    hop_s: float = 0.005

    def validate(self) -> None:
        if not 1.0 <= self.threshold_db <= 120.0:
            raise ConfigError(f"trim.threshold_db={self.threshold_db}; expected 1..120 dB")
        if not 0 < self.hop_s <= self.frame_s <= 0.5:
            raise ConfigError(
                f"trim.frame_s={self.frame_s}, trim.hop_s={self.hop_s}; "
                "expected 0 < hop_s <= frame_s <= 0.5 s"
            )


Position = Literal["start", "centre", "stable"]
ShortPolicy = Literal["pad", "skip"]
WindowMode = Literal["span", "whole"]


@dataclass(frozen=True)
class WindowConfig:
    """Sliding windows cut from the kept span of the trimmed recording.

    Parameters
    ----------
    span_s : float
        Length of audio kept per recording (0.3 s in the study).
    window_s : float
        Length of one segment (0.05 s).
    count : int
        Number of segments per recording (10). The hop is the largest that fits
        ``count`` windows inside ``span_s`` (444 samples at 16 kHz for the seed preset,
        i.e. 44.5 % overlap; the study quotes 44.4 %).
    position : {"start", "centre", "stable"}
        Where the span sits inside the voiced region: its start, its centre, or the
        span whose RMS envelope varies least.
    short_policy : {"pad", "skip"}
        A voiced region shorter than ``span_s`` is zero-padded at the end ("pad") or
        skipped with a validation row ("skip").
    mode : {"span", "whole"}
        "span" (the study): ``count`` windows inside one span of ``span_s``. "whole":
        windows over the whole voiced region every ``hop_s`` seconds, at most ``count``
        of them (spread evenly over the region when more would fit); ``span_s`` and
        ``position`` are then unused, and "short" means shorter than one window.
    hop_s : float
        Hop between windows in "whole" mode, in seconds.
    """

    span_s: float = 0.3
    window_s: float = 0.05
    count: int = 10
    position: Position = "start"
    short_policy: ShortPolicy = "pad"
    mode: WindowMode = "span"
    hop_s: float = 0.025

    def validate(self) -> None:
        if not 0 < self.window_s <= self.span_s <= 30.0:
            raise ConfigError(
                f"window.window_s={self.window_s}, window.span_s={self.span_s}; "
                "expected 0 < window_s <= span_s <= 30 s"
            )
        if not 1 <= self.count <= 1000:
            raise ConfigError(f"window.count={self.count}; expected 1..1000")
        if self.position not in ("start", "centre", "stable"):
            raise ConfigError(f"window.position={self.position!r}; expected start, centre or stable")
        if self.short_policy not in ("pad", "skip"):
            raise ConfigError(f"window.short_policy={self.short_policy!r}; expected pad or skip")
        if self.mode not in ("span", "whole"):
            raise ConfigError(f"window.mode={self.mode!r}; expected span or whole")
        if not 0 < self.hop_s <= 10.0:
            raise ConfigError(f"window.hop_s={self.hop_s}; expected 0 < hop_s <= 10 s")

    @property
    def overlap(self) -> float:
        """Fractional overlap of consecutive windows implied by span, window and count (or the hop)."""
        if self.mode == "whole":
            return max(0.0, 1.0 - self.hop_s / self.window_s)
        if self.count == 1:
            return 0.0
        hop = (self.span_s - self.window_s) / (self.count - 1)
        return max(0.0, 1.0 - hop / self.window_s)


@dataclass(frozen=True)
class SpectrogramConfig:
    """Mel and STFT matrices and the images made from them.

    Parameters
    ----------
    n_fft, hop_length : int
        FFT size and hop in samples (128, 16); halved together for segments shorter
        than ``n_fft`` ("adaptive").
    n_mels : int
        Mel bands (64).
    top_db : float
        Dynamic range kept by ``power_to_db`` (80 dB).
    frames : int
        Time axis fixed to this many frames: longer is cut, shorter repeats the last
        column (64).
    image_size : int
        Side of the square image fed to the backbone (224).
    contrast_low_pct, contrast_high_pct : float
        Percentiles of the dB matrix mapped to black and white (5, 95).
    min_range_db : float
        The contrast window is widened to at least this many dB (10).
    fit : bool
        Derive the geometry from the signal instead of the study's fixed one: mel
        filter count without empty filters, frames equal to the segment's own (no
        repeated column, both kinds on the ``center=False`` grid), band top per
        recording (:mod:`core.spectrogram_geometry`). Off for "seed" and "quick".
    band_limit : bool
        With ``fit``: end each recording's band at its own Nyquist (8 kHz audio shows
        0..4 kHz over the whole image height).
    fmax_hz : float
        With ``fit``: highest frequency shown (0 = no limit beyond the Nyquist).
    """

    n_fft: int = 128
    hop_length: int = 16
    n_mels: int = 64
    top_db: float = 80.0
    frames: int = 64
    image_size: int = 224
    contrast_low_pct: float = 5.0
    contrast_high_pct: float = 95.0
    min_range_db: float = 10.0
    fit: bool = False
    band_limit: bool = False
    fmax_hz: float = 0.0

    def validate(self) -> None:
        if self.fmax_hz < 0:
            raise ConfigError(f"spectrogram.fmax_hz={self.fmax_hz}; expected >= 0 (0 = Nyquist)")
        if self.n_fft < 8 or self.n_fft & (self.n_fft - 1):
            raise ConfigError(f"spectrogram.n_fft={self.n_fft}; expected a power of two >= 8")
        if not 1 <= self.hop_length <= self.n_fft:
            raise ConfigError(f"spectrogram.hop_length={self.hop_length}; expected 1..n_fft")
        if not 8 <= self.n_mels <= 512:
            raise ConfigError(f"spectrogram.n_mels={self.n_mels}; expected 8..512")
        if not 8 <= self.frames <= 4096:
            raise ConfigError(f"spectrogram.frames={self.frames}; expected 8..4096")
        if not 32 <= self.image_size <= 1024:
            raise ConfigError(f"spectrogram.image_size={self.image_size}; expected 32..1024")
        if not 0 <= self.contrast_low_pct < self.contrast_high_pct <= 100:
            raise ConfigError(
                f"spectrogram contrast percentiles {self.contrast_low_pct}..{self.contrast_high_pct}; "
                "expected 0 <= low < high <= 100"
            )


@dataclass(frozen=True)
class SelectionConfig:
    """Which recordings enter the dataset.

    Parameters
    ----------
    phases : tuple of {"pre", "post"}
        Recording phases (the main model uses pre-op only).
    vowels : tuple of {"A", "I", "U", "E"}
        Vowels (the main model uses /a/ only).
    """

    phases: tuple[str, ...] = ("pre",)
    vowels: tuple[str, ...] = ("A",)

    def validate(self) -> None:
        bad = [p for p in self.phases if p not in PHASES]
        if bad or not self.phases:
            raise ConfigError(f"selection.phases={self.phases}; expected a non-empty subset of {PHASES}")
        bad = [v for v in self.vowels if v not in VOWELS]
        if bad or not self.vowels:
            raise ConfigError(f"selection.vowels={self.vowels}; expected a non-empty subset of {VOWELS}")


@dataclass(frozen=True)
class PreprocessConfig:
    """Everything that turns a cohort into segment arrays; its hash keys the disk cache."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    trim: TrimConfig = field(default_factory=TrimConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    spectrogram: SpectrogramConfig = field(default_factory=SpectrogramConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)

    def validate(self) -> None:
        for f in fields(self):
            getattr(self, f.name).validate()

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))

    def hash(self) -> str:
        return config_hash(self.to_dict())


SplitKind = Literal["patient", "segment_leaky"]
SplitPatients = Literal["with_segments", "cohort"]


@dataclass(frozen=True)
class SplitConfig:
    """Outer cross-validation and inner validation.

    Parameters
    ----------
    kind : {"patient", "segment_leaky"}
        "patient" keeps every segment of a patient on one side (default);
        "segment_leaky" splits segments as the study's notebook did, for comparison only.
    n_folds : int
        Outer folds (5).
    seed : int
        Seed of the first repeat (42); repeat r uses ``seed + r``.
    val_ratio : float
        Fraction of the outer-train patients held out for validation (0.15).
    repeats : int
        Repeated CV runs for confidence intervals.
    patients : {"with_segments", "cohort"}
        Which patients the patient folds are drawn over: those with labelled segments in
        this run (default, as every run before), or every labelled patient of the cohort
        under the selected phases, whatever vowels they recorded ("cohort": runs that select
        different vowels share one patient → fold map; a patient without segments in a run
        adds no rows to it). "cohort" needs ``kind="patient"``.
    """

    kind: SplitKind = "patient"
    n_folds: int = 5
    seed: int = 42
    val_ratio: float = 0.15
    repeats: int = 1
    patients: SplitPatients = "with_segments"

    def validate(self) -> None:
        if self.kind not in ("patient", "segment_leaky"):
            raise ConfigError(f"split.kind={self.kind!r}; expected patient or segment_leaky")
        if not 2 <= self.n_folds <= 20:
            raise ConfigError(f"split.n_folds={self.n_folds}; expected 2..20")
        if not 0.05 <= self.val_ratio <= 0.5:
            raise ConfigError(f"split.val_ratio={self.val_ratio}; expected 0.05..0.5")
        if not 1 <= self.repeats <= 100:
            raise ConfigError(f"split.repeats={self.repeats}; expected 1..100")
        if self.patients not in ("with_segments", "cohort"):
            raise ConfigError(f"split.patients={self.patients!r}; expected with_segments or cohort")
        if self.patients == "cohort" and self.kind != "patient":
            raise ConfigError("split.patients='cohort' draws patient folds; expected split.kind='patient'")


Inputs = Literal["dual", "mel", "stft"]


@dataclass(frozen=True)
class ModelConfig:
    """The dual-input shared-backbone classifier.

    Parameters
    ----------
    backbone : str
        Name in :mod:`core.models` registry ("efficientnetb0" by default).
    inputs : {"dual", "mel", "stft"}
        Both branches through one shared backbone, or one branch only.
    weights : str
        "imagenet" (cached, imported, or fetched before training; offline random init and said so),
        "random", or a path to a weights file.
    head_units, l2, dropout
        Dense 64 ReLU with L2 1e-4, Dropout 0.35, then Dense 1 sigmoid.
    """

    backbone: str = "efficientnetb0"
    inputs: Inputs = "dual"
    weights: str = "imagenet"
    head_units: int = 64
    l2: float = 1e-4
    dropout: float = 0.35

    def validate(self) -> None:
        if self.inputs not in ("dual", "mel", "stft"):
            raise ConfigError(f"model.inputs={self.inputs!r}; expected dual, mel or stft")
        if not 1 <= self.head_units <= 4096:
            raise ConfigError(f"model.head_units={self.head_units}; expected 1..4096")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"model.dropout={self.dropout}; expected 0 <= dropout < 1")


@dataclass(frozen=True)
class TrainConfig:
    """Two-stage training, early stopping and the decision threshold.

    Parameters follow the study's hyper-parameter table.
    """

    warmup_epochs: int = 20
    warmup_lr: float = 3e-4
    finetune_epochs: int = 60
    finetune_lr: float = 1e-5
    unfreeze_ratio: float = 0.2
    batch_size: int = 32
    label_smoothing: float = 0.05
    class_weight: bool = True
    patience: int = 15
    threshold_steps: int = 201
    augment: bool = False
    brightness: float = 0.08
    contrast_low: float = 0.9
    contrast_high: float = 1.1
    spec_augment: Literal["off", "mask", "mask+mix"] = "off"  # core.augment
    mask_time: float = 0.2
    mask_freq: float = 0.15
    masks: int = 1
    mixup_alpha: float = 0.2
    patient_aggregation: Literal["mean", "median", "max"] = "mean"
    curves: Literal["full", "fast"] = "full"
    precision: Literal["float32", "bfloat16"] = "float32"

    def validate(self) -> None:
        for name, choices in TRAIN_CHOICES.items():
            # core.precision, core.curves ("fast" predicts only validation per epoch), core.augment
            if getattr(self, name) not in choices:
                expected = f"{', '.join(choices[:-1])} or {choices[-1]}"
                raise ConfigError(f"train.{name}={getattr(self, name)!r}; expected {expected}")
        if self.warmup_epochs < 0 or self.finetune_epochs < 0:
            raise ConfigError("train epochs must be >= 0")
        if self.warmup_epochs + self.finetune_epochs == 0:
            raise ConfigError("train.warmup_epochs + train.finetune_epochs must be > 0")
        if not 0 <= self.unfreeze_ratio <= 1:
            raise ConfigError(f"train.unfreeze_ratio={self.unfreeze_ratio}; expected 0..1")
        if not 1 <= self.batch_size <= 4096:
            raise ConfigError(f"train.batch_size={self.batch_size}; expected 1..4096")
        if not 0 <= self.label_smoothing < 0.5:
            raise ConfigError(f"train.label_smoothing={self.label_smoothing}; expected 0..0.5")
        if self.threshold_steps < 2:
            raise ConfigError(f"train.threshold_steps={self.threshold_steps}; expected >= 2")
        if not (0 <= self.mask_time < 1 and 0 <= self.mask_freq < 1 and 0 <= self.masks <= 8):
            raise ConfigError(
                f"train.mask_time={self.mask_time}, mask_freq={self.mask_freq}, masks={self.masks}; "
                "expected shares 0..1 and 0..8 masks"
            )
        if not self.mixup_alpha > 0:
            raise ConfigError(f"train.mixup_alpha={self.mixup_alpha}; expected > 0")


#: The allowed values of TrainConfig's choice fields (core.precision, core.augment read them here).
TRAIN_CHOICES: dict[str, tuple[str, ...]] = {
    "precision": ("float32", "bfloat16"),
    "curves": ("full", "fast"),
    "spec_augment": ("off", "mask", "mask+mix"),
    "patient_aggregation": ("mean", "median", "max"),
}


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment: preprocessing, split, model and training."""

    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = "seed"

    def validate(self) -> None:
        self.preprocess.validate()
        self.split.validate()
        self.model.validate()
        self.train.validate()

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def hash(self) -> str:
        """:func:`config_hash` of :meth:`to_dict`, less the :data:`HASH_NEUTRAL_DEFAULTS` at their default."""
        data = self.to_dict()
        for dotted, default in HASH_NEUTRAL_DEFAULTS.items():
            *path, name = dotted.split(".")
            node = data
            for part in path:
                node = node[part]
            if node.get(name) == default:
                del node[name]
        return config_hash(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        """Rebuild a config from :meth:`to_dict` output; unknown keys are an error."""
        return _from_dict(cls, data, "config")


#: Settings added after runs were stored, left out of :meth:`ExperimentConfig.hash` while they
#: hold this default: every config made before keeps its hash, so its runs still resume and
#: its sweeps still match their grid. (Fields added earlier, such as ``train.curves``, are
#: hashed: runs stored since then carry hashes that include them.)
HASH_NEUTRAL_DEFAULTS: dict[str, Any] = {"split.patients": "with_segments"}


def config_hash(data: dict[str, Any]) -> str:
    """Short stable hash (12 hex digits) of a JSON-able mapping."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def _from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {unknown}; known: {sorted(known)}")
    kwargs: dict[str, Any] = {}
    defaults = cls()
    for name, value in data.items():
        current = getattr(defaults, name)
        if dataclasses.is_dataclass(current):
            kwargs[name] = _from_dict(type(current), value, f"{where}.{name}")
        elif isinstance(current, tuple):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def preset(name: str) -> ExperimentConfig:
    """Return a named preset.

    Parameters
    ----------
    name : {"seed", "quick", "voice"}
        "seed" reproduces the study; "quick" is the same preprocessing and protocol
        with a small backbone and few epochs, for a demo run in minutes on a CPU;
        "voice" is recommended for real recordings (:mod:`core.presets`).
    """
    if name == "seed":
        return ExperimentConfig(preset="seed")
    if name == "quick":
        return ExperimentConfig(
            model=ModelConfig(backbone="small_cnn", weights="random"),
            train=TrainConfig(
                warmup_epochs=0,
                finetune_epochs=30,
                finetune_lr=1e-3,
                unfreeze_ratio=1.0,
                patience=10,
            ),
            preset="quick",
        )
    if name == "voice":
        from core.presets import voice_preset

        return voice_preset()
    raise ConfigError(f"unknown preset {name!r}; expected one of {PRESETS}")


PRESETS: tuple[str, ...] = ("seed", "quick", "voice")


def with_overrides(config: ExperimentConfig, overrides: dict[str, Any]) -> ExperimentConfig:
    """Apply dotted overrides such as ``{"model.backbone": "resnet50"}``.

    A list setting given as text is split at commas: ``{"preprocess.selection.vowels":
    "A,I,U,E"}`` is ``("A", "I", "U", "E")``.
    """
    data = config.to_dict()
    for dotted, value in overrides.items():
        node = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            if part not in node or not isinstance(node[part], dict):
                raise ConfigError(f"unknown setting {dotted!r}")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"unknown setting {dotted!r}")
        if isinstance(node[parts[-1]], list | tuple) and isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        node[parts[-1]] = value
    new = ExperimentConfig.from_dict(data)
    new.validate()
    return new


def hyperparameter_table(config: ExperimentConfig) -> list[dict[str, str]]:
    """The study's hyper-parameter table (name, meaning, value) for a config.

    Returns
    -------
    list of dict
        Rows with keys ``name``, ``meaning``, ``value``, in the study's order.
    """
    s, m, t = config.split, config.model, config.train
    size = config.preprocess.spectrogram.image_size
    return [
        {"name": "IMG_H, IMG_W", "meaning": "input image size", "value": f"{size} × {size}"},
        {"name": "N_FOLDS", "meaning": "outer cross-validation folds", "value": str(s.n_folds)},
        {"name": "SEED", "meaning": "random seed of the split", "value": str(s.seed)},
        {
            "name": "SPLIT",
            "meaning": "what the folds keep apart",
            "value": {"with_segments": "patients", "cohort": "patients (folds over the cohort's patients)"}[
                s.patients
            ]
            if s.kind == "patient"
            else "segments (leaky)",
        },
        {"name": "REPEATS", "meaning": "repeated cross-validation runs", "value": str(s.repeats)},
        {"name": "BATCH_SIZE", "meaning": "samples per gradient step", "value": str(t.batch_size)},
        {
            "name": "VAL_RATIO_IN_TRAIN",
            "meaning": "inner validation share of the outer train part",
            "value": f"{s.val_ratio:g}",
        },
        {"name": "BACKBONE", "meaning": "shared feature extractor", "value": f"{m.backbone} ({m.weights})"},
        {"name": "INPUTS", "meaning": "branches fed to the backbone", "value": m.inputs},
        {
            "name": "EPOCHS_WARMUP",
            "meaning": "stage 1 epochs, backbone frozen",
            "value": str(t.warmup_epochs),
        },
        {
            "name": "EPOCHS_FINETUNE",
            "meaning": "stage 2 epochs, last layers trainable",
            "value": str(t.finetune_epochs),
        },
        {"name": "LR_WARMUP", "meaning": "stage 1 learning rate (Adam)", "value": f"{t.warmup_lr:g}"},
        {"name": "LR_FINETUNE", "meaning": "stage 2 learning rate (Adam)", "value": f"{t.finetune_lr:g}"},
        {"name": "WEIGHT_DECAY_L2", "meaning": "L2 on the head's Dense layer", "value": f"{m.l2:g}"},
        {"name": "HEAD_UNITS", "meaning": "Dense units of the head", "value": str(m.head_units)},
        {"name": "DROPOUT", "meaning": "head dropout", "value": f"{m.dropout:g}"},
        {"name": "PATIENCE", "meaning": "early-stopping patience (val AUROC)", "value": str(t.patience)},
        {
            "name": "unfreeze_ratio",
            "meaning": "backbone share trainable in stage 2",
            "value": f"{t.unfreeze_ratio:g}",
        },
        {"name": "label_smoothing", "meaning": "BCE label smoothing", "value": f"{t.label_smoothing:g}"},
        {
            "name": "class_weight[0]",
            "meaning": "loss weight of class 0",
            "value": "n_pos / n_neg of the training part" if t.class_weight else "1",
        },
        {
            "name": "THR_SWEEP_STEPS",
            "meaning": "thresholds swept on validation (F1)",
            "value": str(t.threshold_steps),
        },
        {
            "name": "augmentation",
            "meaning": "brightness / contrast jitter",
            "value": f"±{t.brightness:g} / {t.contrast_low:g}–{t.contrast_high:g}" if t.augment else "off",
        },
        {
            "name": "precision",
            "meaning": "compute dtype of training",
            "value": "bfloat16 (mixed; float32 weights and output)"
            if t.precision == "bfloat16"
            else t.precision,
        },
        {
            "name": "spec_augment",
            "meaning": "time/frequency masks (widest share), mixup α",
            "value": t.spec_augment
            if t.spec_augment == "off"
            else f"{t.spec_augment}: {t.masks} × {t.mask_time:g} / {t.mask_freq:g}"
            + (f", α {t.mixup_alpha:g}" if t.spec_augment == "mask+mix" else ""),
        },
    ]


__all__ = [
    "HASH_NEUTRAL_DEFAULTS",
    "TRAIN_CHOICES",
    "AudioConfig",
    "ExperimentConfig",
    "ModelConfig",
    "PRESETS",
    "PHASES",
    "PreprocessConfig",
    "SelectionConfig",
    "SpectrogramConfig",
    "SplitConfig",
    "TrainConfig",
    "TrimConfig",
    "VOWELS",
    "WindowConfig",
    "config_hash",
    "hyperparameter_table",
    "preset",
    "replace",
    "with_overrides",
]
