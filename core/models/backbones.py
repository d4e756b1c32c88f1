"""Backbone registry, Keras' ImageNet graph of each backbone, and the prefix/tail cut.

Every backbone is a Keras functional model without its classification top that maps
uint8-range images ``[n, S, S, 3]`` to its last convolutional feature map
``[n, h, w, c]``. Registry names: ``efficientnetb0`` (default), ``mobilenetv3small``,
``mobilenetv3large``, ``resnet50``, ``inceptionv3`` and ``small_cnn`` (a four-conv
network trained from scratch).

One graph for every kind of weights
-----------------------------------
Keras builds some applications differently when ``weights="imagenet"``: EfficientNet
then adds a ``Rescaling`` by ``1 / sqrt(ImageNet std)`` right after its ``Normalization``
(the ImageNet file stores the standard deviation where Keras expects the variance), so
Keras' ImageNet EfficientNetB0 has 238 layers, its ``weights=None`` build 237.
MobileNetV3 (its ``Rescaling`` to [-1, 1] comes from ``include_preprocessing``),
ResNet50 and InceptionV3 build the same graph for any ``weights``; ResNet50 ("caffe")
and InceptionV3 ("tf") expect ``preprocess_input`` outside the model, which
:mod:`core.models.preprocess` applies in the prefix. :func:`build_backbone` always
builds Keras' ImageNet graph, whether a weights file is loaded or the backbone starts
from random initialisation, so a run's layer count, cut and trainable set never depend
on whether the file was present. :mod:`core.models.keras_reference` checks the result
against Keras' own ``weights="imagenet"`` build; :mod:`core.models.weights` says where
files come from.

The cut
-------
The study froze ``base.layers[:int(len(base.layers) * 0.8)]`` of Keras' ImageNet
EfficientNetB0 and trained the rest (BatchNorm excluded). :func:`stage_split` keeps
that trainable set exactly and puts the prefix/tail cut at the last layer before the
first layer that trains whose single output is the only tensor that later layers read
(EfficientNet's residual adds make most positions invalid). Layers between the study's
index and the first trainable layer have no weights or are BatchNorm, so they are
frozen all the same and may join the prefix. For EfficientNetB0 at 224x224: 238
layers, the study's index is 190 (``block6b_drop``), the first trainable layer is 192
(``block6c_expand_conv``), the cut is layer 191 (``block6b_add``, output 7x7x192), and
the tail holds layers 192..237 (46 layers). Of the 48 layers from 190 on, 16 carry
trainable weights (the convolutions, depthwise convolutions and squeeze-excite
convolutions of block6c, block6d, block7a and ``top_conv``: 2.29 M parameters), 10 are
BatchNorm (kept frozen) and 22 have no weights. The whole of block6b is in the cached
prefix: an epoch never recomputes it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.errors import ConfigError
from core.models.runtime import tensorflow

Preprocessing = Literal["builtin", "caffe", "tf"]

# keras.src.applications.efficientnet.IMAGENET_STDDEV_RGB, used only for weights="imagenet"
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)


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
    keras_module : str
        Module of ``keras.applications`` holding its ``preprocess_input`` ("" for none).
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
    keras_module: str
    weights_file: str
    preprocessing: Preprocessing
    min_size: int


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            "efficientnetb0",
            "EfficientNetB0",
            "EfficientNetB0",
            "efficientnet",
            "efficientnetb0_notop.h5",
            "builtin",
            32,
        ),
        BackboneSpec(
            "mobilenetv3small",
            "MobileNetV3Small",
            "MobileNetV3Small",
            "mobilenet_v3",
            "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
            "builtin",
            32,
        ),
        BackboneSpec(
            "mobilenetv3large",
            "MobileNetV3Large",
            "MobileNetV3Large",
            "mobilenet_v3",
            "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
            "builtin",
            32,
        ),
        BackboneSpec(
            "resnet50",
            "ResNet50",
            "ResNet50",
            "resnet50",
            "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "caffe",
            32,
        ),
        BackboneSpec(
            "inceptionv3",
            "InceptionV3",
            "InceptionV3",
            "inception_v3",
            "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "tf",
            75,
        ),
        BackboneSpec("small_cnn", "Small CNN (from scratch)", "", "", "", "builtin", 16),
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


def imagenet_graph(spec: BackboneSpec, base: Any) -> Any:
    """Keras' ``weights="imagenet"`` graph from its ``weights=None`` build.

    Adds the layers Keras adds only on its ImageNet branch: for EfficientNet the
    ``Rescaling(1 / sqrt(std))`` right after the ``Normalization`` layer. Every other
    application's graph is the same for any ``weights`` and is returned unchanged.

    Parameters
    ----------
    spec : BackboneSpec
    base : keras.Model
        ``keras.applications.<application>(include_top=False, weights=None, ...)``.
    """
    if not spec.application.startswith("EfficientNet"):
        return base
    import keras

    scale = [1.0 / math.sqrt(stddev) for stddev in IMAGENET_STDDEV_RGB]

    def call(layer: Any, *args: Any, **kwargs: Any) -> Any:
        out = layer(*args, **kwargs)
        if isinstance(layer, keras.layers.Normalization):
            out = keras.layers.Rescaling(scale)(out)
        return out

    return keras.models.clone_model(base, call_function=call)


def load_weights_file(base: Any, path: str | Path, *, label: str) -> None:
    """Load a Keras ``.h5`` (ImageNet layout) or ``.weights.h5`` file into ``base``.

    Raises
    ------
    ConfigError
        Naming the file and the backbone when the file does not fit.
    """
    path = Path(path)
    if not path.name.endswith((".h5", ".hdf5")):
        raise ConfigError(f"weights file {path.name!r}: expected a Keras .h5 or .weights.h5 file")
    try:
        with warnings.catch_warnings():  # Keras warns per unmatched group before it raises
            warnings.simplefilter("ignore")
            base.load_weights(str(path))
    except Exception as exc:
        raise ConfigError(f"weights file {path.name!r} does not fit {label}: {str(exc)[:300]}") from None


def build_backbone(spec: BackboneSpec, *, image_size: int, weights_path: Path | None = None) -> Any:
    """Build Keras' ImageNet graph of the backbone, ``[n, S, S, 3] -> [n, h, w, c]``.

    Parameters
    ----------
    spec : BackboneSpec
    image_size : int
        Side S of the square input images.
    weights_path : Path, optional
        Weights file to load (ImageNet file or a user file); random init when None.
        The graph is the same either way (see the module docstring).

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
        base = imagenet_graph(spec, factory(include_top=False, weights=None, input_shape=shape))
    if weights_path is not None:
        load_weights_file(base, weights_path, label=spec.label)
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
            plane = keras.ops.broadcast_to(
                keras.ops.reshape(rows, (1, -1, 1, 1)), (shape[0], shape[1], shape[2], 1)
            )
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
        x = layers.Conv2D(
            filters, 3, padding="same", activation="relu", kernel_initializer="he_normal", name=f"conv{i + 1}"
        )(x)
        x = layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", kernel_initializer="he_normal", name="conv4")(
        x
    )
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
    "IMAGENET_STDDEV_RGB",
    "BackboneSpec",
    "StageSplit",
    "backbone_names",
    "build_backbone",
    "get_backbone",
    "imagenet_graph",
    "layer_edges",
    "load_weights_file",
    "row_coordinate_layer",
    "stage_split",
    "valid_cuts",
]
