"""Backbone registry, ImageNet weights from the Keras cache, and the prefix/tail cut.

Every backbone is a Keras functional model without its classification top that maps
uint8-range images ``[n, S, S, 3]`` to its last convolutional feature map
``[n, h, w, c]``. Registry names: ``efficientnetb0`` (default), ``mobilenetv3small``,
``mobilenetv3large``, ``resnet50``, ``inceptionv3`` and ``small_cnn`` (a four-conv
network trained from scratch).

Weights: "imagenet" is used only when Keras already holds the file in its cache
(``$KERAS_HOME/models`` or ``~/.keras/models``; the file names are in
:data:`BACKBONES`); a path to a weights file is loaded as given; otherwise the backbone
starts from random initialisation and the reason is returned for the run manifest.

The cut
-------
The study froze ``base.layers[:int(len(base.layers) * 0.8)]`` and trained the rest
(BatchNorm excluded). :func:`stage_split` keeps that trainable set exactly and puts the
prefix/tail cut at the last layer before the first layer that trains whose single
output is the only tensor that later layers read (EfficientNet's residual adds make
most positions invalid). Layers between the study's index and the first trainable layer
have no weights or are BatchNorm, so they are frozen all the same and may join the
prefix. For EfficientNetB0 at 224x224: 237 layers, the study's index is 189
(``block6b_drop``), the first trainable layer is 191 (``block6c_expand_conv``), the cut
is layer 190 (``block6b_add``, output 7x7x192), and the tail holds layers 191..236
(46 layers). Of the 48 layers from 189 on, 16 carry trainable weights (the
convolutions, depthwise convolutions and squeeze-excite convolutions of block6c,
block6d, block7a and ``top_conv``: 2.29 M parameters), 10 are BatchNorm (kept frozen)
and 22 have no weights. The whole of block6b is in the cached prefix: an epoch never
recomputes it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.errors import ConfigError
from core.models.runtime import tensorflow

Preprocessing = Literal["builtin", "caffe", "tf"]


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one backbone family.

    Attributes
    ----------
    name : str
        Registry key.
    label : str
        Name shown on pages.
    application : str
        Attribute of ``keras.applications`` (empty for the small CNN).
    weights_file : str
        File name Keras caches the no-top ImageNet weights under ("" when none exist).
    preprocessing : {"builtin", "caffe", "tf"}
        "builtin": the application rescales inside itself (EfficientNet, MobileNetV3,
        the small CNN); "caffe"/"tf": ``imagenet_utils.preprocess_input`` mode applied
        in the prefix.
    min_size : int
        Smallest image side the architecture accepts.
    """

    name: str
    label: str
    application: str
    weights_file: str
    preprocessing: Preprocessing
    min_size: int


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec("efficientnetb0", "EfficientNetB0", "EfficientNetB0", "efficientnetb0_notop.h5", "builtin", 32),
        BackboneSpec(
            "mobilenetv3small",
            "MobileNetV3Small",
            "MobileNetV3Small",
            "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
            "builtin",
            32,
        ),
        BackboneSpec(
            "mobilenetv3large",
            "MobileNetV3Large",
            "MobileNetV3Large",
            "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
            "builtin",
            32,
        ),
        BackboneSpec(
            "resnet50", "ResNet50", "ResNet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", "caffe", 32
        ),
        BackboneSpec(
            "inceptionv3",
            "InceptionV3",
            "InceptionV3",
            "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "tf",
            75,
        ),
        BackboneSpec("small_cnn", "Small CNN (from scratch)", "", "", "builtin", 16),
    )
}


def backbone_names() -> tuple[str, ...]:
    """Registry names, default first."""
    return tuple(BACKBONES)


def get_backbone(name: str) -> BackboneSpec:
    """Look a backbone up by registry name (case-insensitive).

    Raises
    ------
    ConfigError
        Naming the unknown backbone and the known ones.
    """
    key = name.lower().replace("-", "").replace(" ", "")
    if key not in BACKBONES:
        raise ConfigError(f"model.backbone={name!r}; expected one of {list(BACKBONES)}")
    return BACKBONES[key]


@dataclass(frozen=True)
class WeightsChoice:
    """Which initial weights a backbone gets and why.

    Attributes
    ----------
    source : {"imagenet", "file", "random"}
    path : Path or None
        File to load (None for random initialisation).
    reason : str
        Plain sentence for the manifest and the page ("" when the request was met).
    """

    source: str
    path: Path | None
    reason: str


def keras_cache_dir() -> Path:
    """Folder where Keras keeps downloaded application weights."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def resolve_weights(spec: BackboneSpec, weights: str) -> WeightsChoice:
    """Decide the initial weights without touching the network.

    Parameters
    ----------
    spec : BackboneSpec
    weights : str
        "imagenet", "random", or a path to a weights file (``.h5`` / ``.weights.h5``).

    Raises
    ------
    ConfigError
        When ``weights`` is a path that does not exist.
    """
    if weights == "random":
        return WeightsChoice("random", None, "random initialisation was requested")
    if weights == "imagenet":
        if not spec.weights_file:
            return WeightsChoice("random", None, f"{spec.label} has no ImageNet weights; trained from scratch")
        cached = keras_cache_dir() / spec.weights_file
        if cached.is_file():
            return WeightsChoice("imagenet", cached, "")
        return WeightsChoice(
            "random",
            None,
            f"ImageNet weights for {spec.label} are not in the Keras cache ({spec.weights_file} "
            "missing) and cannot be downloaded here; started from random initialisation",
        )
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ConfigError(f"model.weights={weights!r}: no such file; expected imagenet, random or a weights file")
    return WeightsChoice("file", path, "")


def build_backbone(spec: BackboneSpec, *, image_size: int, weights_path: Path | None = None) -> Any:
    """Build the backbone as a functional Keras model ``[n, S, S, 3] -> [n, h, w, c]``.

    Parameters
    ----------
    spec : BackboneSpec
    image_size : int
        Side S of the square input images.
    weights_path : Path, optional
        Weights file to load (ImageNet cache file or a user file); random init when None.

    Raises
    ------
    ConfigError
        When the image is smaller than the architecture accepts or the file does not fit.
    """
    tensorflow()
    import keras

    if image_size < spec.min_size:
        raise ConfigError(f"image size {image_size} is below {spec.min_size}, the minimum of {spec.label}")
    shape = (image_size, image_size, 3)
    if spec.name == "small_cnn":
        base = _small_cnn(shape)
    else:
        factory: Callable[..., Any] = getattr(keras.applications, spec.application)
        base = factory(include_top=False, weights=None, input_shape=shape)
    if weights_path is not None:
        try:
            base.load_weights(str(weights_path))
        except Exception as exc:
            raise ConfigError(f"weights file {Path(weights_path).name!r} does not fit {spec.label}: {exc}") from None
    return base


_ROW_COORDINATE: Any = None


def row_coordinate_layer() -> Any:
    """The (registered) Keras layer class appending a row-position channel (CoordConv)."""
    global _ROW_COORDINATE
    if _ROW_COORDINATE is not None:
        return _ROW_COORDINATE
    import keras

    @keras.saving.register_keras_serializable(package="voe")
    class RowCoordinate(keras.layers.Layer):
        """Append a channel holding each row's position, 0 (top, high frequency) .. 1 (bottom)."""

        def call(self, x: Any) -> Any:
            shape = keras.ops.shape(x)
            rows = keras.ops.linspace(0.0, 1.0, shape[1])
            plane = keras.ops.broadcast_to(keras.ops.reshape(rows, (1, -1, 1, 1)), (shape[0], shape[1], shape[2], 1))
            return keras.ops.concatenate([x, keras.ops.cast(plane, x.dtype)], axis=-1)

        def compute_output_shape(self, input_shape: tuple) -> tuple:
            return (*input_shape[:-1], input_shape[-1] + 1)

    _ROW_COORDINATE = RowCoordinate
    return RowCoordinate


def _small_cnn(shape: tuple[int, int, int]) -> Any:
    """Four 3x3 conv blocks on a 4x average-pooled image with a row-position channel.

    Spectrogram rows are frequencies, and global average pooling would otherwise throw
    away which band a feature came from; the extra channel (CoordConv) keeps it.
    """
    import keras
    from keras import layers

    pool = max(1, shape[0] // 56)
    inputs = keras.Input(shape, name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inputs)
    x = layers.AveragePooling2D(pool, name="downsample")(x)
    x = row_coordinate_layer()(name="row_coordinate")(x)
    for i, filters in enumerate((16, 32, 64)):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer="he_normal",
                          name=f"conv{i + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", kernel_initializer="he_normal", name="conv4")(x)
    return keras.Model(inputs, x, name="small_cnn")


def layer_edges(base: Any) -> list[tuple[int, int]]:
    """(producer index, consumer index) pairs between the layers of a functional model."""
    index = {id(layer): i for i, layer in enumerate(base.layers)}
    edges = []
    for j, layer in enumerate(base.layers):
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                producer = tensor._keras_history.operation
                if id(producer) in index:
                    edges.append((index[id(producer)], j))
    return edges


def valid_cuts(base: Any) -> list[int]:
    """Layer indices whose single output is the only tensor read by any later layer."""
    edges = layer_edges(base)
    n = len(base.layers)
    cuts = []
    for i in range(n - 1):
        crossing = {src for src, dst in edges if src <= i < dst}
        if crossing == {i} and len(base.layers[i]._inbound_nodes[0].output_tensors) == 1:
            cuts.append(i)
    return cuts


@dataclass(frozen=True)
class StageSplit:
    """Where the backbone is cut and which layers train in fine-tuning.

    Attributes
    ----------
    n_layers : int
        ``len(base.layers)`` (the study's count, input layer included).
    frozen_until : int
        ``int(n_layers * (1 - unfreeze_ratio))``: layers before it stay frozen.
    cut : int
        Index of the last prefix layer: a valid single-tensor boundary before the first
        trainable layer (or inside the weightless leading layers).
    cut_layer : str
        Its name.
    n_trainable_layers : int
        Non-BatchNorm layers with weights from ``frozen_until`` on.
    """

    n_layers: int
    frozen_until: int
    cut: int
    cut_layer: str
    n_trainable_layers: int


def stage_split(base: Any, *, unfreeze_ratio: float) -> StageSplit:
    """The study's trainable set and the cache cut for a built backbone.

    Leading layers without weights (rescaling, pooling) always join the prefix: they
    have nothing to train, and caching their output is what makes from-scratch models
    cheap too.
    """
    import keras

    n = len(base.layers)
    frozen_until = int(n * (1 - unfreeze_ratio))
    weightless_lead = 0
    while weightless_lead < n - 1 and not base.layers[weightless_lead].weights:
        weightless_lead += 1
    # layers between frozen_until and the first trainable one (weightless or BatchNorm)
    # are frozen all the same, so the cut may sit right before that first trainable layer
    first_trainable = next(
        (
            i
            for i in range(frozen_until, n)
            if base.layers[i].weights and not isinstance(base.layers[i], keras.layers.BatchNormalization)
        ),
        n - 1,
    )
    limit = max(min(first_trainable, n - 1) - 1, weightless_lead - 1)
    cuts = [c for c in valid_cuts(base) if c <= limit]
    cut = cuts[-1] if cuts else 0
    trainable = sum(
        1
        for layer in base.layers[frozen_until:]
        if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)
    )
    return StageSplit(n, frozen_until, cut, base.layers[cut].name, trainable)


__all__ = [
    "BACKBONES",
    "BackboneSpec",
    "StageSplit",
    "WeightsChoice",
    "backbone_names",
    "build_backbone",
    "get_backbone",
    "keras_cache_dir",
    "layer_edges",
    "resolve_weights",
    "stage_split",
    "valid_cuts",
]
