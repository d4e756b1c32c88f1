"""Backbone registry, weights resolution, the prefix/tail cut and the staged dual model."""

from __future__ import annotations

import hashlib
import importlib

import keras
import numpy as np
import pytest

from core.config import ModelConfig
from core.errors import ConfigError
from core.models import weights as weights_store  # noqa: E402
from core.models.backbones import (  # noqa: E402
    BACKBONES,
    IMAGENET_STDDEV_RGB,
    backbone_names,
    build_backbone,
    get_backbone,
    stage_split,
    valid_cuts,
)
from core.models.dual import DualModel, build_model  # noqa: E402
from core.models.preprocess import imagenet_preprocess  # noqa: E402
from core.models.weights import resolve_weights  # noqa: E402


def images(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_registry_has_the_required_backbones_default_first() -> None:
    assert backbone_names()[0] == "efficientnetb0"
    assert {
        "efficientnetb0",
        "mobilenetv3small",
        "mobilenetv3large",
        "resnet50",
        "inceptionv3",
        "small_cnn",
    } <= set(BACKBONES)
    assert get_backbone("ResNet50").name == "resnet50"
    with pytest.raises(ConfigError, match="vgg16"):
        get_backbone("vgg16")


def test_imagenet_falls_back_to_random_with_a_reason(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    spec = get_backbone("efficientnetb0")
    choice = resolve_weights(spec, "imagenet")
    assert choice.source == "random" and choice.path is None and choice.sha256 is None
    assert "efficientnetb0_notop.h5" in choice.reason and "weights fetch" in choice.reason
    cached = tmp_path / "models" / "efficientnetb0_notop.h5"
    cached.parent.mkdir()
    cached.write_bytes(b"not Keras' file")
    # a file under Keras' name whose md5 is not Keras' published one is not used
    assert resolve_weights(spec, "imagenet").source == "random"
    assert "does not match Keras' published md5" in weights_store.weights_status("efficientnetb0").note
    md5 = hashlib.md5(b"not Keras' file").hexdigest()
    monkeypatch.setitem(weights_store.KERAS_ORIGINS, "efficientnetb0", ("http://127.0.0.1:9/", md5))
    choice = resolve_weights(spec, "imagenet")
    assert choice.source == "imagenet" and choice.path == cached
    assert choice.sha256 == hashlib.sha256(b"not Keras' file").hexdigest()
    assert resolve_weights(get_backbone("small_cnn"), "imagenet").reason.endswith("trained from scratch")
    with pytest.raises(ConfigError, match="no such file"):
        resolve_weights(spec, str(tmp_path / "missing.h5"))


def test_efficientnet_gets_keras_imagenet_rescaling_for_any_weights() -> None:
    """Keras adds Rescaling(1/sqrt(std)) after Normalization only for weights="imagenet"; so do we, always."""
    keras_none = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(32, 32, 3))
    base = build_backbone(get_backbone("efficientnetb0"), image_size=32)
    assert len(keras_none.layers) == 237 and len(base.layers) == 238
    kinds = [type(layer).__name__ for layer in base.layers[:5]]
    assert kinds == ["InputLayer", "Rescaling", "Normalization", "Rescaling", "ZeroPadding2D"]
    np.testing.assert_allclose(np.ravel(base.layers[3].scale), [1 / np.sqrt(s) for s in IMAGENET_STDDEV_RGB])
    mobilenet = build_backbone(get_backbone("mobilenetv3small"), image_size=32)
    keras_mobilenet = keras.applications.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    )
    assert len(mobilenet.layers) == len(keras_mobilenet.layers)


def test_weights_file_path_is_loaded(tmp_path) -> None:
    spec = get_backbone("small_cnn")
    keras.utils.set_random_seed(1)
    trained = build_backbone(spec, image_size=32)
    path = tmp_path / "cnn.weights.h5"
    trained.save_weights(path)
    choice = resolve_weights(spec, str(path))
    assert choice.source == "file"
    keras.utils.set_random_seed(2)
    loaded = build_backbone(spec, image_size=32, weights_path=choice.path)
    x = images(2).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), trained.predict(x, verbose=0), atol=1e-6)


def test_cut_never_splits_a_residual_connection() -> None:
    inputs = keras.Input((8, 8, 4))
    a = keras.layers.Conv2D(4, 1, name="a")(inputs)
    b = keras.layers.Conv2D(4, 1, name="b")(a)
    added = keras.layers.Add(name="add")([a, b])
    out = keras.layers.Conv2D(4, 1, name="c")(added)
    model = keras.Model(inputs, out)
    names = [model.layers[i].name for i in valid_cuts(model)]
    assert "a" in names and "add" in names and "b" not in names
    split = stage_split(model, unfreeze_ratio=0.4)
    # "add" (index 3) has no weights, so the cut may sit on it, right before "c" trains
    assert split.frozen_until == 3 and split.cut_layer == "add"
    assert stage_split(model, unfreeze_ratio=0.6).cut_layer == "a"


@pytest.mark.slow
def test_efficientnetb0_cut_matches_the_study_trainable_set() -> None:
    base = build_backbone(get_backbone("efficientnetb0"), image_size=224)
    split = stage_split(base, unfreeze_ratio=0.2)
    # Keras' ImageNet EfficientNetB0, as the study built it: 238 layers, int(238 * 0.8) = 190
    assert split.n_layers == len(base.layers) == 238 and split.frozen_until == 190
    assert base.layers[190].name == "block6b_drop"
    assert split.cut == 191 and split.cut_layer == "block6b_add"
    assert base.layers[192].name == "block6c_expand_conv"
    assert split.cut in valid_cuts(base)
    assert tuple(base.layers[split.cut].output.shape[1:]) == (7, 7, 192)
    assert len(base.layers) - (split.cut + 1) == 46 and split.n_trainable_layers == 16
    frozen_between = base.layers[split.frozen_until : split.cut + 1]
    assert all(
        not layer.weights or isinstance(layer, keras.layers.BatchNormalization) for layer in frozen_between
    )


def test_dual_model_stages_compose_to_predict() -> None:
    model = build_model(
        ModelConfig(backbone="small_cnn", weights="random"), image_size=32, unfreeze_ratio=0.2
    )
    mel, stft = images(5, seed=1), images(5, seed=2)
    prob = model.predict(mel, stft, batch_size=2)
    assert prob.shape == (5,) and np.all((prob > 0) & (prob < 1))
    maps = model.feature_maps(mel, stft)
    assert len(maps) == 2 and maps[0].shape == (5, *model.info.feature_shape)
    manual = model.head(model.tail(model.prefix(mel)), model.tail(model.prefix(stft))).numpy()
    np.testing.assert_allclose(manual, prob, atol=1e-6)
    assert model.info.weights == "random" and model.info.branches == ("mel", "stft")
    with pytest.raises(ConfigError, match="2 map"):
        model.head(maps[0])


def test_single_branch_variant_takes_one_map_and_ignores_the_other_branch() -> None:
    model = build_model(
        ModelConfig(backbone="small_cnn", inputs="mel", weights="random"), image_size=32, unfreeze_ratio=0.2
    )
    mel = images(3)
    prob = model.predict(mel=mel)
    np.testing.assert_allclose(model.predict(mel=mel, stft=images(3, seed=9)), prob)
    assert model.head(*model.feature_maps(mel=mel)).shape == (3,)
    with pytest.raises(ConfigError, match="mel"):
        model.predict(stft=mel)


def test_save_and_load_round_trip(tmp_path) -> None:
    model = build_model(
        ModelConfig(backbone="small_cnn", weights="random"), image_size=32, unfreeze_ratio=0.2
    )
    mel, stft = images(4, seed=3), images(4, seed=4)
    path = model.save(tmp_path / "r0f0.keras")
    loaded = DualModel.load(path)
    np.testing.assert_allclose(loaded.predict(mel, stft), model.predict(mel, stft), atol=1e-6)
    assert loaded.info == model.info


def test_stages_set_trainable_flags_and_keep_batchnorm_frozen() -> None:
    model = build_model(
        ModelConfig(backbone="mobilenetv3small", weights="random"), image_size=32, unfreeze_ratio=0.2
    )
    model.set_stage("warmup")
    assert not model.tail_model.trainable_variables and not model.prefix_model.trainable_variables
    assert model.head_model.trainable_variables
    model.set_stage("finetune")
    trainable = [layer for layer in model.tail_model.layers if layer.trainable and layer.weights]
    assert {layer.name for layer in trainable} == set(model.info.trainable_layers)
    assert len(trainable) == model.info.n_trainable_layers > 0
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in trainable)
    assert not model.prefix_model.trainable_variables


@pytest.mark.slow
def test_model_preprocessing_layer_is_keras_preprocess_input_without_touching_the_input() -> None:
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(2, 8, 8, 3), dtype=np.uint8)
    as_float = images.astype(np.float32)
    kept = as_float.copy()
    assert get_backbone("efficientnetb0").preprocessing == "builtin"  # rescales inside the application
    caffe = np.asarray(imagenet_preprocess("caffe")(as_float))
    np.testing.assert_array_equal(as_float, kept)  # Keras' caffe mode would have written in place
    np.testing.assert_allclose(caffe[..., 0], as_float[..., 2] - 103.939, rtol=1e-6)
    np.testing.assert_allclose(caffe[..., 2], as_float[..., 0] - 123.68, rtol=1e-6)
    tf_mode = np.asarray(imagenet_preprocess("tf")(images.astype(np.float32)))
    np.testing.assert_allclose(tf_mode, as_float / 127.5 - 1, atol=1e-6)
    layered = [spec for spec in BACKBONES.values() if spec.preprocessing in ("caffe", "tf")]
    assert {spec.name for spec in layered} == {"resnet50", "inceptionv3"}
    for spec in layered:
        keras_input = importlib.import_module(f"keras.applications.{spec.keras_module}").preprocess_input
        ours = np.asarray(imagenet_preprocess(spec.preprocessing)(as_float))
        np.testing.assert_allclose(ours, keras_input(as_float.copy()), atol=1e-4)
    with pytest.raises(ConfigError, match="expected one of"):
        get_backbone("alexnet")
