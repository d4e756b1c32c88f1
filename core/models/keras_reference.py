"""Keras' own ImageNet build of a backbone, loaded from a file, and the check against it.

The reference is what ``keras.applications.<X>(include_top=False, weights="imagenet")``
builds, with one change: Keras' download (``keras.src.utils.file_utils.get_file``) is
replaced by the given file for the duration of the build, so the reference runs Keras'
ImageNet branch (graph and ``load_weights``) without a network. Building with
``weights=FILE`` instead would not do: Keras takes its ImageNet-only graph branches
only when ``weights == "imagenet"`` (EfficientNet's ``Rescaling`` by
``1 / sqrt(std)``), so a file path gives a different EfficientNet than the study's.

:func:`verify_file` loads the same file into the project's backbone
(:func:`core.models.backbones.build_backbone`, behind the dual model's preprocessing)
and into the reference (behind Keras' ``preprocess_input``), feeds both the same
deterministic images and compares the feature maps.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from core.errors import ConfigError, WeightsError
from core.models.backbones import BackboneSpec, build_backbone, get_backbone
from core.models.preprocess import feature_extractor
from core.models.runtime import tensorflow

RELATIVE_TOLERANCE = 1e-4
_BUILD_LOCK = threading.Lock()


def keras_reference(spec: BackboneSpec, *, image_size: int, weights_path: str | Path) -> Any:
    """Keras' ``weights="imagenet"`` no-top build of ``spec`` with ``weights_path`` as the download.

    Raises
    ------
    ConfigError
        When the backbone is not a Keras application or the file does not fit it.
    WeightsError
        When Keras asks for another file than the registry's (the registry is stale).
    """
    if not spec.application:
        raise ConfigError(
            f"{spec.label} is not a Keras application: there is no Keras reference to compare with"
        )
    tensorflow()
    import keras
    from keras.src.utils import file_utils

    asked: list[str] = []

    def get_file(fname: str | None = None, origin: str | None = None, **kwargs: Any) -> str:
        asked.append(str(fname))
        return str(weights_path)

    factory = getattr(keras.applications, spec.application)
    with _BUILD_LOCK, mock.patch.object(file_utils, "get_file", get_file), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MobileNetV3 warns that its ImageNet weights are for 224x224
        try:
            model = factory(include_top=False, weights="imagenet", input_shape=(image_size, image_size, 3))
        except Exception as exc:
            raise ConfigError(
                f"weights file {Path(weights_path).name!r} does not fit Keras' {spec.label}: {str(exc)[:300]}"
            ) from None
    if asked != [spec.weights_file]:
        raise WeightsError(f"Keras' {spec.label} asked for {asked}, the registry says {spec.weights_file!r}")
    return model


def reference_images(image_size: int, *, n: int = 2, seed: int = 0) -> np.ndarray:
    """Deterministic test images: uniform noise in 0..255.

    Returns
    -------
    images : np.ndarray [shape=(n, image_size, image_size, 3), dtype=float32]
    """
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, image_size, image_size, 3)).astype(np.float32)


def verify_file(name: str, weights_path: str | Path, *, image_size: int = 224) -> dict[str, Any]:
    """Compare the project's backbone with Keras' ImageNet build, both loaded from one file.

    Parameters
    ----------
    name : str
        Registry name (a Keras application: not ``small_cnn``).
    weights_path : path
        Keras ``.h5`` or ``.weights.h5`` file.
    image_size : int
        Side of the test images.

    Returns
    -------
    dict
        ``backbone``; ``matches_keras_reference`` (same layer count and types, and
        ``max_abs_diff <= 1e-4 * reference_max_abs``); ``max_abs_diff`` between the two
        feature maps ``[2, h, w, c]``; ``layers`` and ``keras_layers`` (``len(model.layers)``
        of each); ``same_layer_types``; ``reference_max_abs``; ``image_size``; ``file``.

    Raises
    ------
    ConfigError
        Unknown backbone, small CNN, missing file, or a file that does not fit.
    """
    spec = get_backbone(name)
    path = Path(weights_path).expanduser()
    if not path.is_file():
        raise ConfigError(f"weights file {str(path)!r}: no such file")
    import keras

    ours = build_backbone(spec, image_size=image_size, weights_path=path)
    reference = keras_reference(spec, image_size=image_size, weights_path=path)
    images = reference_images(image_size)
    ours_out = np.asarray(feature_extractor(spec.preprocessing, ours)(images, training=False))
    preprocess = getattr(keras.applications, spec.keras_module).preprocess_input
    ref_out = np.asarray(reference(preprocess(images.copy()), training=False))
    same_types = [type(layer).__name__ for layer in ours.layers] == [
        type(layer).__name__ for layer in reference.layers
    ]
    same_shape = ours_out.shape == ref_out.shape
    diff = float(np.max(np.abs(ours_out - ref_out))) if same_shape else float("inf")
    scale = float(np.max(np.abs(ref_out)))
    return {
        "backbone": spec.name,
        "matches_keras_reference": bool(same_types and same_shape and diff <= RELATIVE_TOLERANCE * scale),
        "max_abs_diff": diff,
        "layers": len(ours.layers),
        "keras_layers": len(reference.layers),
        "same_layer_types": same_types,
        "reference_max_abs": scale,
        "image_size": image_size,
        "file": path.name,
    }


__all__ = ["RELATIVE_TOLERANCE", "keras_reference", "reference_images", "verify_file"]
