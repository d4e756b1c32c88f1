"""The dual-input classifier as explicit stages: prefix -> tail -> head.

``prefix`` is the frozen part (cast to float, backbone preprocessing, backbone layers up
to the cut), ``tail`` the rest of the backbone up to its last feature map (before
pooling), ``head`` global-average-pools each branch's map, concatenates, and applies
Dense(64, ReLU, L2 1e-4) -> Dropout(0.35) -> Dense(1, sigmoid). The mel and STFT
images go through ONE shared prefix and tail. Mel-only and STFT-only variants have one
branch and a head that takes one map.

The backbone always runs in inference mode (``training=False``): BatchNorm keeps its
statistics, as in the study, and the backbone's own dropout stays off, as in Keras'
transfer-learning recipe. Only the head's dropout is active while training. This makes
cached prefix outputs exactly what the uncached model computes.

A fold's model is saved as one ``.keras`` file holding the end-to-end model (with the
three stage models nested by name) plus a ``.json`` sidecar with the stage metadata.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.config import ModelConfig
from core.errors import ConfigError, RunError
from core.models.backbones import build_backbone, get_backbone, row_coordinate_layer, stage_split
from core.models.branches import INPUT_BRANCHES
from core.models.preprocess import imagenet_preprocess, registered_preprocess
from core.models.runtime import tensorflow
from core.models.weights import WeightsChoice, resolve_weights

_WARNED: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class ModelInfo:
    """What a built model is, for the manifest and for rebuilding it from disk.

    Attributes
    ----------
    backbone : str
        Registry name.
    branches : tuple of str
        ("mel", "stft"), ("mel",) or ("stft",).
    image_size : int
    weights : {"imagenet", "file", "random"}
        Source of the initial backbone weights.
    weights_reason : str
        Why the requested weights were not used ("" when they were).
    n_layers, frozen_until, cut, n_trainable_layers : int
        See :class:`core.models.backbones.StageSplit`.
    cut_layer : str
    trainable_layers : tuple of str
        Backbone layers trained in fine-tuning (BatchNorm excluded).
    feature_shape : tuple of int
        (h, w, c) of the tail's output map.
    prefix_shape : tuple of int
        Shape of one prefix output.
    """

    backbone: str
    branches: tuple[str, ...]
    image_size: int
    weights: str
    weights_reason: str
    n_layers: int
    frozen_until: int
    cut: int
    cut_layer: str
    n_trainable_layers: int
    trainable_layers: tuple[str, ...] = field(repr=False)
    feature_shape: tuple[int, ...]
    prefix_shape: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


class DualModel:
    """A fold's classifier as three stage models plus the end-to-end Keras model.

    Use :func:`build_model` or :meth:`load` to make one.

    Attributes
    ----------
    info : ModelInfo
    prefix_model, tail_model, head_model, classifier : keras.Model
        Stage models; ``classifier`` is the head after pooling and concatenation
        (input ``[n, c * n_branches]``), shared with ``head_model``.
    keras_model : keras.Model
        End-to-end model, inputs named after :attr:`branches`, output ``[n, 1]``.
    """

    def __init__(self, *, keras_model: Any, info: ModelInfo) -> None:
        self.keras_model = keras_model
        self.info = info
        self.prefix_model = keras_model.get_layer("prefix")
        self.tail_model = keras_model.get_layer("tail")
        self.head_model = keras_model.get_layer("head")
        self.classifier = self.head_model.get_layer("classifier")
        self._fns: dict[str, Any] = {}

    @property
    def branches(self) -> tuple[str, ...]:
        return self.info.branches

    def prefix(self, images: Any) -> Any:
        """Frozen stage: images ``[n, S, S, 3]`` (uint8 or float, 0..255) -> prefix tensor (float32)."""
        tf = tensorflow()
        # float32 out also from a model built in bfloat16 (core.precision): caches and callers see one dtype
        return tf.cast(self.prefix_model(tf.cast(images, tf.float32), training=False), tf.float32)

    def tail(self, x: Any) -> Any:
        """Trainable backbone stage: prefix output -> float32 feature map ``[n, h, w, c]``, before pooling."""
        tf = tensorflow()
        return tf.cast(self.tail_model(x, training=False), tf.float32)

    def head(self, *maps: Any, training: bool = False) -> Any:
        """Classifier stage: one feature map per branch (mel first) -> probability ``[n]``."""
        if len(maps) != len(self.branches):
            raise ConfigError(f"head takes {len(self.branches)} map(s) ({self.branches}); got {len(maps)}")
        tf = tensorflow()
        out = self.head_model(list(maps) if len(maps) > 1 else maps[0], training=training)
        return tf.reshape(out, [-1])

    def _fn(self, name: str) -> Any:
        if name not in self._fns:
            tf = tensorflow()

            def prefix(x: Any) -> Any:
                return self.prefix(x)

            def tail(x: Any) -> Any:
                return self.tail(x)

            def pooled(x: Any) -> Any:
                return tf.reduce_mean(self.tail(x), axis=[1, 2])

            def prob(*xs: Any) -> Any:
                return self.head(*(self.tail_model(x, training=False) for x in xs))

            stage = {"prefix": prefix, "tail": tail, "pooled": pooled, "prob": prob}[name]
            # autograph off: plain tensor code needs no conversion, and conversion of closures is fragile
            if name == "prefix":  # uint8 or float images: let the first calls decide
                self._fns[name] = tf.function(stage, reduce_retracing=True, autograph=False)
            else:  # prefix outputs of any batch size: one trace, also for a short last batch
                spec = tf.TensorSpec((None, *self.info.prefix_shape), tf.float32)
                n_inputs = len(self.branches) if name == "prob" else 1
                self._fns[name] = tf.function(stage, input_signature=[spec] * n_inputs, autograph=False)
        return self._fns[name]

    def run_stage(self, name: str, x: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
        """Apply a stage ("prefix", "tail" or "pooled" = tail then GAP) in batches, numpy out."""
        fn = self._fn(name)
        if len(x) == 0:
            probe = fn(x[:1] if len(x) else np.zeros((1, *x.shape[1:]), x.dtype))
            return np.zeros((0, *probe.shape[1:]), np.float32)
        return np.concatenate([fn(x[i : i + batch_size]).numpy() for i in range(0, len(x), batch_size)])

    def predict_prefix(self, *prefixes: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Probabilities from cached prefix outputs: tail and head in one graph per batch.

        The feature maps stay inside the graph (no copy of ``[n, h, w, c]`` maps to numpy
        and back), which is what makes per-epoch evaluation cheap.

        Parameters
        ----------
        *prefixes : np.ndarray [shape=(n, *prefix_shape), dtype=float32]
            One prefix output array per branch, in :attr:`branches` order.
        batch_size : int

        Returns
        -------
        prob : np.ndarray [shape=(n,), dtype=float32]
        """
        if len(prefixes) != len(self.branches):
            raise ConfigError(f"model with branches {self.branches} needs {len(self.branches)} prefix arrays")
        fn, n = self._fn("prob"), len(prefixes[0])
        out = [fn(*(p[i : i + batch_size] for p in prefixes)).numpy() for i in range(0, n, batch_size)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)

    def _inputs(self, mel: np.ndarray | None, stft: np.ndarray | None) -> list[np.ndarray]:
        given = {"mel": mel, "stft": stft}
        missing = [b for b in self.branches if given[b] is None]
        if missing:
            raise ConfigError(f"model with branches {self.branches} needs {missing} images")
        arrays = [given[b] for b in self.branches]
        if len({len(a) for a in arrays}) != 1:
            raise ConfigError(
                f"mel and stft must have the same number of images; got {[len(a) for a in arrays]}"
            )
        return arrays

    def feature_maps(
        self, mel: np.ndarray | None = None, stft: np.ndarray | None = None, *, batch_size: int = 64
    ) -> tuple[np.ndarray, ...]:
        """Last conv feature map of each branch.

        Parameters
        ----------
        mel, stft : np.ndarray [shape=(n, S, S, 3), dtype=uint8]
            Images of the branches the model has.

        Returns
        -------
        maps : tuple of np.ndarray [shape=(n, h, w, c), dtype=float32]
            One per branch, in :attr:`branches` order.
        """
        return tuple(
            self.run_stage(
                "tail", self.run_stage("prefix", images, batch_size=batch_size), batch_size=batch_size
            )
            for images in self._inputs(mel, stft)
        )

    def predict(
        self, mel: np.ndarray | None = None, stft: np.ndarray | None = None, *, batch_size: int = 64
    ) -> np.ndarray:
        """Probability of a poor outcome per segment.

        Parameters
        ----------
        mel, stft : np.ndarray [shape=(n, S, S, 3), dtype=uint8]
        batch_size : int

        Returns
        -------
        prob : np.ndarray [shape=(n,), dtype=float32]
        """
        arrays = self._inputs(mel, stft)
        out = []
        for i in range(0, len(arrays[0]), batch_size):
            prefixes = [self._fn("prefix")(a[i : i + batch_size]) for a in arrays]
            out.append(self._fn("prob")(*prefixes).numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)

    def set_stage(self, stage: str) -> None:
        """Set trainable flags: "warmup" (backbone frozen) or "finetune" (study's last layers).

        BatchNorm layers stay frozen in both stages; the head is always trainable.
        """
        if stage not in ("warmup", "finetune"):
            raise ConfigError(f"stage {stage!r}; expected warmup or finetune")
        self.prefix_model.trainable = False
        trainable = set(self.info.trainable_layers) if stage == "finetune" else set()
        self.tail_model.trainable = bool(trainable)
        for layer in self.tail_model.layers:
            layer.trainable = layer.name in trainable
        self.head_model.trainable = True

    def backbone_fingerprint(self) -> str:
        """Hash of the prefix and tail weights: equal fingerprints give equal cached features."""
        digest = hashlib.sha1()
        policy = self.prefix_model.dtype_policy.name
        if policy != "float32":  # bfloat16 compute gives other features from the same weights
            digest.update(policy.encode())
        for weight in (*self.prefix_model.weights, *self.tail_model.weights):
            digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
        return digest.hexdigest()[:16]

    def get_trainable_state(self) -> list[np.ndarray]:
        """Copies of the tail and head weights (what training can change)."""
        return [w.numpy().copy() for w in (*self.tail_model.weights, *self.head_model.weights)]

    def set_trainable_state(self, state: list[np.ndarray]) -> None:
        for weight, value in zip((*self.tail_model.weights, *self.head_model.weights), state, strict=True):
            weight.assign(value)

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (``.keras``) and its ``.json`` sidecar atomically; return the path."""
        path = Path(path)
        if path.suffix != ".keras":
            raise ConfigError(f"model file {path.name!r}; expected a .keras name")
        tmp = path.with_name(path.stem + ".tmp.keras")
        self.keras_model.save(tmp)
        tmp.replace(path)
        side = path.with_suffix(".json")
        tmp_side = side.with_name(side.name + ".tmp")
        tmp_side.write_text(json.dumps(self.info.to_dict(), indent=2))
        tmp_side.replace(side)
        return path

    @classmethod
    def load(cls, path: str | Path) -> DualModel:
        """Load a model written by :meth:`save`.

        Raises
        ------
        RunError
            When the file or its sidecar is missing or unreadable.
        """
        tensorflow()
        import keras

        path = Path(path)
        side = path.with_suffix(".json")
        if not path.is_file() or not side.is_file():
            raise RunError(f"model file {path} or its sidecar {side.name} is missing")
        registered_preprocess()
        row_coordinate_layer()
        try:
            model = keras.models.load_model(path, compile=False, safe_mode=True)
            info = ModelInfo.from_dict(json.loads(side.read_text()))
        except Exception as exc:
            raise RunError(f"cannot load model {path}: {exc}") from None
        return cls(keras_model=model, info=info)


def build_model(
    config: ModelConfig,
    *,
    image_size: int,
    unfreeze_ratio: float,
    backbone_seed: int = 0,
    head_seed: int = 0,
) -> DualModel:
    """Build a dual (or single-branch) model as stages.

    Parameters
    ----------
    config : ModelConfig
        Backbone, inputs ("dual", "mel", "stft"), weights request and head settings.
    image_size : int
        Side S of the input images.
    unfreeze_ratio : float
        Fraction of backbone layers trained in fine-tuning (0.2 in the study).
    backbone_seed : int
        Seeds the random initialisation of the backbone. Folds share it, so the frozen
        prefix (and, before fine-tuning, the whole backbone) is identical across folds
        and its cached outputs can be reused, as with ImageNet weights.
    head_seed : int
        Seeds the head's initialisation and dropout (per fold).
    """
    config.validate()
    tensorflow()
    import keras
    from keras import layers

    spec = get_backbone(config.backbone)
    choice: WeightsChoice = resolve_weights(spec, config.weights)
    if choice.source == "random" and config.weights != "random" and (spec.name, choice.reason) not in _WARNED:
        _WARNED.add((spec.name, choice.reason))
        logging.getLogger(__name__).warning("%s", choice.reason)
    keras.utils.set_random_seed(backbone_seed)
    base = build_backbone(spec, image_size=image_size, weights_path=choice.path)
    split = stage_split(base, unfreeze_ratio=unfreeze_ratio)
    cut_tensor = base.layers[split.cut].output

    image = keras.Input((image_size, image_size, 3), name="image")
    x = image
    if spec.preprocessing in ("caffe", "tf"):
        x = imagenet_preprocess(spec.preprocessing)(x)
    if split.cut > 0:
        x = keras.Model(base.input, cut_tensor, name="backbone_prefix")(x)
    prefix_model = keras.Model(image, x, name="prefix")
    tail_model = keras.Model(cut_tensor, base.output, name="tail")

    keras.utils.set_random_seed(head_seed)
    branches = INPUT_BRANCHES[config.inputs]
    feature_shape = tuple(int(d) for d in tail_model.output.shape[1:])
    features = keras.Input((feature_shape[-1] * len(branches),), name="pooled")
    h = layers.Dense(
        config.head_units,
        activation="relu",
        kernel_regularizer=keras.regularizers.L2(config.l2),
        name="dense",
    )(features)
    h = layers.Dropout(config.dropout, name="dropout")(h)
    # float32 also under a mixed-precision policy (core.precision): probabilities stay float32
    prob = layers.Dense(1, activation="sigmoid", name="prob", dtype="float32")(h)
    classifier = keras.Model(features, prob, name="classifier")

    map_inputs = [keras.Input(feature_shape, name=f"{b}_map") for b in branches]
    pooled = [
        layers.GlobalAveragePooling2D(name=f"gap_{b}")(m) for b, m in zip(branches, map_inputs, strict=True)
    ]
    joined = layers.Concatenate(name="concat")(pooled) if len(pooled) > 1 else pooled[0]
    head_model = keras.Model(
        map_inputs if len(map_inputs) > 1 else map_inputs[0], classifier(joined), name="head"
    )

    images = [keras.Input((image_size, image_size, 3), name=b) for b in branches]
    maps = [tail_model(prefix_model(img)) for img in images]
    end_to_end = keras.Model(
        images if len(images) > 1 else images[0],
        head_model(maps if len(maps) > 1 else maps[0]),
        name="voe_dual",
    )
    trainable = tuple(
        layer.name
        for layer in base.layers[split.frozen_until :]
        if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)
    )
    info = ModelInfo(
        backbone=spec.name,
        branches=branches,
        image_size=image_size,
        weights=choice.source,
        weights_reason=choice.reason,
        **asdict(split),
        trainable_layers=trainable,
        feature_shape=feature_shape,
        prefix_shape=tuple(int(d) for d in prefix_model.output.shape[1:]),
    )
    model = DualModel(keras_model=end_to_end, info=info)
    model.set_stage("warmup")
    return model


__all__ = ["DualModel", "ModelInfo", "build_model", "imagenet_preprocess"]
