"""ImageNet input preprocessing that Keras leaves outside ResNet50 and InceptionV3.

Keras' ResNet50 expects ``keras.applications.resnet50.preprocess_input`` ("caffe":
RGB -> BGR, minus the ImageNet channel means) and InceptionV3 expects
``keras.applications.inception_v3.preprocess_input`` ("tf": ``x / 127.5 - 1``) applied
before the model. The dual model applies them as a saveable layer at the start of its
prefix, so a saved fold model carries its own preprocessing. EfficientNet and
MobileNetV3 preprocess inside themselves.
"""

from __future__ import annotations

from typing import Any

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

_PREPROCESS: Any = None


def _preprocess_layer_class() -> Any:
    import keras

    @keras.saving.register_keras_serializable(package="voe")
    class ImagenetPreprocess(keras.layers.Layer):
        """``imagenet_utils.preprocess_input`` in "caffe" or "tf" mode as a saveable layer."""

        def __init__(self, mode: str = "tf", **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.mode = mode

        def call(self, x: Any) -> Any:
            if self.mode == "tf":
                return x / 127.5 - 1.0
            bgr = keras.ops.flip(x, axis=-1)
            return bgr - keras.ops.convert_to_tensor(CAFFE_MEAN_BGR, dtype=x.dtype)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "mode": self.mode}

    return ImagenetPreprocess


def registered_preprocess() -> Any:
    """The preprocessing layer class, registered with Keras once (needed to load models)."""
    global _PREPROCESS
    if _PREPROCESS is None:
        _PREPROCESS = _preprocess_layer_class()
    return _PREPROCESS


def imagenet_preprocess(mode: str) -> Any:
    """A saveable Keras layer applying the "caffe" or "tf" ImageNet preprocessing."""
    return registered_preprocess()(mode=mode, name=f"preprocess_{mode}")


def feature_extractor(preprocessing: str, base: Any) -> Any:
    """``base`` behind its ImageNet preprocessing: uint8-range images -> feature maps.

    Parameters
    ----------
    preprocessing : {"builtin", "caffe", "tf"}
        :attr:`core.models.backbones.BackboneSpec.preprocessing`.
    base : keras.Model
        A backbone from :func:`core.models.backbones.build_backbone`.

    Returns
    -------
    keras.Model
        ``[n, S, S, 3]`` float images in 0..255 -> ``[n, h, w, c]``, what the dual
        model's prefix and tail compute together.
    """
    import keras

    image = keras.Input(tuple(base.input.shape[1:]), name="image")
    x = imagenet_preprocess(preprocessing)(image) if preprocessing in ("caffe", "tf") else image
    return keras.Model(image, base(x), name=f"{base.name}_features")


__all__ = ["CAFFE_MEAN_BGR", "feature_extractor", "imagenet_preprocess", "registered_preprocess"]
