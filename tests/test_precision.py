"""train.precision: a bfloat16 fold on the demo cohort, the policy put back, hardware check, config."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from core.config import hyperparameter_table, preset, with_overrides
from core.errors import ConfigError
from core.precision import (
    PrecisionWarning,
    bf16_hardware,
    cpu_bf16_flags,
    precision_record,
    precision_scope,
)

CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f {extra}\nbogomips\t: 4000\n"


def test_cpu_flags_and_hardware_are_read_from_cpuinfo() -> None:
    assert cpu_bf16_flags(CPUINFO.format(extra="avx512_bf16 amx_bf16")) == ("avx512_bf16", "amx_bf16")
    assert cpu_bf16_flags(CPUINFO.format(extra="avx512_vnni")) == ()
    assert cpu_bf16_flags("") == ()
    assert bf16_hardware(cpuinfo=CPUINFO.format(extra="amx_bf16"), gpus=0) == "amx_bf16"
    assert bf16_hardware(cpuinfo=CPUINFO.format(extra=""), gpus=0) == ""
    assert bf16_hardware(cpuinfo="", gpus=1) == "gpu"
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    flags = set(next((line for line in lines if line.startswith("flags")), "").split())
    assert set(cpu_bf16_flags()) == flags & {"avx512_bf16", "amx_bf16"}  # this machine's own answer


def test_precision_record_names_the_policy_and_the_hardware() -> None:
    assert precision_record("float32") == {"precision": "float32", "policy": "float32", "hardware": ""}
    assert precision_record("bfloat16", hardware="gpu")["policy"] == "mixed_bfloat16"
    assert precision_record("bfloat16", hardware="")["hardware"].startswith("none (emulated")


def test_config_takes_precision_from_overrides_and_refuses_others() -> None:
    config = with_overrides(preset("quick"), {"train.precision": "bfloat16"})
    assert config.train.precision == "bfloat16" and preset("quick").train.precision == "float32"
    assert config.hash() != preset("quick").hash()
    rows = {row["name"]: row["value"] for row in hyperparameter_table(config)}
    assert rows["precision"].startswith("bfloat16 (mixed")
    assert {row["name"]: row["value"] for row in hyperparameter_table(preset("seed"))}[
        "precision"
    ] == "float32"
    with pytest.raises(ConfigError, match="train.precision='float16'"):
        with_overrides(preset("quick"), {"train.precision": "float16"})


def test_train_set_and_sweep_settings_reach_the_config() -> None:
    from core.__main__ import build_parser
    from core.commands.train import build_config
    from core.sweep import SweepSpec, configurations, parse_setting

    args = build_parser().parse_args(
        ["train", "--cohort", "x", "--name", "n", "--preset", "quick", "--set", "train.precision=bfloat16"]
    )
    assert build_config(args).train.precision == "bfloat16"
    settings = dict(
        parse_setting(text) for text in ("f32:train.precision=float32", "bf16:train.precision=bfloat16")
    )
    grid = configurations(SweepSpec(settings=settings))
    assert [(label, c.train.precision) for label, c in grid] == [
        ("quick-small_cnn-dual-f32", "float32"),
        ("quick-small_cnn-dual-bf16", "bfloat16"),
    ]


def test_scope_restores_the_global_policy_even_after_an_error() -> None:
    import keras

    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(RuntimeError), warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        with precision_scope("bfloat16") as policy:
            assert policy == "mixed_bfloat16" and keras.config.dtype_policy().name == "mixed_bfloat16"
            raise RuntimeError("stop")
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(ConfigError):
        with precision_scope("float16"):
            pass


@pytest.mark.slow
def test_a_bfloat16_fold_trains_on_the_demo_cohort(demo_cohort_dir: Path, tmp_path: Path) -> None:
    """Mixed bfloat16: layers compute in bfloat16, the output layer and the probabilities stay float32."""
    import keras

    from core.models.dual import DualModel
    from core.splits import make_folds
    from core.training import train_fold
    from core.training_data import load_training_data

    config = with_overrides(
        preset("quick"),
        {
            "split.n_folds": 3,
            "train.finetune_epochs": 2,
            "preprocess.spectrogram.image_size": 32,
            "train.precision": "bfloat16",
        },
    )
    dataset, _ = load_training_data(demo_cohort_dir, config, cache_dir=tmp_path / "cache")
    fold = make_folds(dataset.segments, config.split)[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train_fold(dataset, fold, config)
    emulated = [w for w in caught if issubclass(w.category, PrecisionWarning)]
    assert bool(emulated) == (bf16_hardware() == "")  # warned exactly where bfloat16 is emulated
    assert keras.config.dtype_policy().name == "float32"  # the global policy is back

    model = result.model
    conv = [layer for layer in model.tail_model.layers if layer.weights]
    assert conv and {layer.dtype_policy.name for layer in conv} == {"mixed_bfloat16"}
    assert {layer.compute_dtype for layer in conv} == {"bfloat16"}
    assert {w.dtype for layer in conv for w in layer.weights} == {"float32"}  # weights stay float32
    assert model.classifier.get_layer("dense").compute_dtype == "bfloat16"
    assert model.classifier.get_layer("prob").compute_dtype == "float32"

    test_rows = fold.test
    prob = model.predict(dataset.mel[test_rows], dataset.stft[test_rows])
    assert prob.dtype == np.float32 and np.all((prob >= 0) & (prob <= 1))
    stored = result.predictions[result.predictions["part"] == "test"]["prob"].to_numpy()
    assert np.array_equal(stored.astype(np.float32), stored)  # float32 values, kept exactly
    np.testing.assert_allclose(stored, prob, atol=1e-6)
    test = result.metrics[(result.metrics["part"] == "test") & (result.metrics["level"] == "patient")]
    assert np.isfinite(float(test["auroc"].iloc[0]))
    assert np.isfinite(result.history["val_auroc"]).all() and len(result.history) == 2

    # the saved model computes as it was trained
    path = model.save(tmp_path / "bf16.keras")
    again = DualModel.load(path)
    assert again.classifier.get_layer("dense").compute_dtype == "bfloat16"
    np.testing.assert_allclose(
        again.predict(dataset.mel[test_rows], dataset.stft[test_rows]), prob, atol=1e-6
    )
    assert keras.config.dtype_policy().name == "float32"
