"""ImageNet weights: fetch from a loopback origin, hash and interruption guards, import, status,
training's fetch-before-train, and every backbone against Keras' own ImageNet build."""

from __future__ import annotations

import hashlib
import http.server
import importlib
import inspect
import io
import json
import os
import threading
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from core.__main__ import main  # noqa: E402
from core.config import preset, with_overrides
from core.errors import ConfigError, CoreError, TrainingError, WeightsError
from core.models import weights as store  # noqa: E402
from core.models.backbones import BACKBONES, build_backbone, get_backbone  # noqa: E402
from core.models.download import ensure_imagenet, fetch, origin_url  # noqa: E402
from core.models.keras_reference import keras_reference, reference_images, verify_file  # noqa: E402
from core.models.weights import KERAS_ORIGINS, resolve_weights, weights_status  # noqa: E402

B0_FILE = "efficientnetb0_notop.h5"


class _Origin(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` by name; under ``/truncated/`` it sends half the body and hangs up."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = self.server.files.get(self.path.rsplit("/", 1)[-1])
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        truncated = self.path.startswith("/truncated/")
        self.wfile.write(body[: len(body) // 2] if truncated else body)
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def origin():
    """A loopback HTTP server on 127.0.0.1: (server, base URL); put bytes in ``server.files``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    server.files = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    """An empty Keras home; no download failure remembered from earlier tests."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(store, "_FETCH_FAILURES", {})
    return tmp_path / "keras"


def save_legacy_h5(model, path: Path) -> Path:
    """Write weights in the layout of Keras' ImageNet ``.h5`` files (legacy HDF5, layer by layer)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)
    return path


@pytest.fixture(scope="module")
def b0_files(tmp_path_factory):
    """A locally made EfficientNetB0 no-top file (ImageNet .h5 layout and .weights.h5), its stem kernel."""
    folder = tmp_path_factory.mktemp("b0")
    keras.utils.set_random_seed(7)
    model = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(32, 32, 3))
    model.save_weights(folder / "b0.weights.h5")
    return {
        "h5": save_legacy_h5(model, folder / B0_FILE),
        "weights_h5": folder / "b0.weights.h5",
        "stem": model.get_layer("stem_conv").kernel.numpy(),
    }


def cache_files(keras_home: Path) -> list[str]:
    folder = keras_home / "models"
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) if folder.exists() else []


def test_registry_origins_are_the_ones_keras_publishes(monkeypatch) -> None:
    monkeypatch.delenv("VOE_WEIGHTS_URL")
    apps = "keras.src.applications."
    effnet, mobilenet = (
        importlib.import_module(apps + "efficientnet"),
        importlib.import_module(apps + "mobilenet_v3"),
    )
    resnet, inception = (
        importlib.import_module(apps + "resnet"),
        importlib.import_module(apps + "inception_v3"),
    )
    expected = {
        "efficientnetb0": (effnet.BASE_WEIGHTS_PATH + B0_FILE, effnet.WEIGHTS_HASHES["b0"][1]),
        "mobilenetv3small": (
            mobilenet.BASE_WEIGHT_PATH + BACKBONES["mobilenetv3small"].weights_file,
            mobilenet.WEIGHTS_HASHES["small_224_1.0_float"][1],
        ),
        "mobilenetv3large": (
            mobilenet.BASE_WEIGHT_PATH + BACKBONES["mobilenetv3large"].weights_file,
            mobilenet.WEIGHTS_HASHES["large_224_1.0_float"][1],
        ),
        "resnet50": (
            resnet.BASE_WEIGHTS_PATH + BACKBONES["resnet50"].weights_file,
            resnet.WEIGHTS_HASHES["resnet50"][1],
        ),
        "inceptionv3": (inception.WEIGHTS_PATH_NO_TOP, KERAS_ORIGINS["inceptionv3"][1]),
    }
    assert KERAS_ORIGINS["inceptionv3"][1] in inspect.getsource(inception.InceptionV3)
    assert set(expected) == set(KERAS_ORIGINS)
    for name, (url, md5) in expected.items():
        assert origin_url(get_backbone(name)) == url and KERAS_ORIGINS[name][1] == md5


def test_fetch_stores_the_file_in_the_keras_cache_with_progress(
    origin, keras_home, b0_files, monkeypatch
) -> None:
    server, base = origin
    body = b0_files["h5"].read_bytes()
    server.files[B0_FILE] = body
    monkeypatch.setenv("VOE_WEIGHTS_URL", base)
    monkeypatch.setitem(KERAS_ORIGINS, "efficientnetb0", (base, hashlib.md5(body).hexdigest()))
    seen: list[tuple[int, int | None]] = []
    status = fetch("efficientnetb0", progress=lambda done, total: seen.append((done, total)))
    assert status.state == "cached" and status.keras_published
    assert Path(status.file) == keras_home / "models" / B0_FILE
    assert status.sha256 == hashlib.sha256(body).hexdigest()
    assert seen[-1] == (len(body), len(body)) and all(
        b[0] > a[0] for a, b in zip(seen, seen[1:], strict=False)
    )
    assert cache_files(keras_home) == [B0_FILE]
    loaded = build_backbone(get_backbone("efficientnetb0"), image_size=32, weights_path=status.path)
    np.testing.assert_array_equal(loaded.get_layer("stem_conv").kernel.numpy(), b0_files["stem"])
    choice = resolve_weights(get_backbone("efficientnetb0"), "imagenet")
    assert choice.source == "imagenet" and choice.sha256 == status.sha256 and choice.reason == ""


def test_a_file_with_another_hash_is_rejected_and_nothing_kept(
    origin, keras_home, b0_files, monkeypatch
) -> None:
    server, base = origin
    server.files[B0_FILE] = b0_files["h5"].read_bytes()
    monkeypatch.setenv("VOE_WEIGHTS_URL", base)  # Keras' published md5 stays: the local file cannot match it
    with pytest.raises(WeightsError, match="not Keras' published 50bc09e76180e00e4465e1a485ddc09d"):
        fetch("efficientnetb0")
    assert cache_files(keras_home) == []
    assert weights_status("efficientnetb0").state == "missing"


def test_an_interrupted_download_leaves_nothing_and_says_so(
    origin, keras_home, b0_files, monkeypatch
) -> None:
    server, base = origin
    body = b0_files["h5"].read_bytes()
    server.files[B0_FILE] = body
    stale = keras_home / "models" / f".{B0_FILE}.killed.tmp"  # left by a download killed outright long ago
    stale.parent.mkdir(parents=True)
    stale.write_bytes(body[:1000])
    os.utime(stale, (0, 0))
    monkeypatch.setenv("VOE_WEIGHTS_URL", base + "/truncated")
    monkeypatch.setitem(KERAS_ORIGINS, "efficientnetb0", (base, hashlib.md5(body).hexdigest()))
    with pytest.raises(CoreError, match=f"{B0_FILE} from {base}/truncated/{B0_FILE}.*nothing was kept"):
        fetch("efficientnetb0")
    assert cache_files(keras_home) == []


def test_offline_fails_fast_and_training_falls_back_with_the_reason(
    keras_home, tmp_path, synthetic_dataset
) -> None:
    from core.run_lifecycle import execute_run

    start = time.perf_counter()
    reason = ensure_imagenet("efficientnetb0")  # conftest points VOE_WEIGHTS_URL at a closed loopback port
    assert time.perf_counter() - start < 5.0 and "127.0.0.1:9" in reason
    choice = resolve_weights(get_backbone("efficientnetb0"), "imagenet")
    assert (
        choice.source == "random"
        and "the download failed" in choice.reason
        and "127.0.0.1:9" in choice.reason
    )
    dataset = synthetic_dataset(patients=8, per_patient=2)
    manifest = run_until_first_fold(tmp_path, dataset, "mobilenetv3small", execute_run)
    assert manifest["weights"] == "random" and manifest["weights_sha256"] == ""
    assert (
        "MobileNetV3Small" in manifest["weights_reason"]
        and "the download failed" in manifest["weights_reason"]
    )


def run_until_first_fold(tmp_path: Path, dataset, backbone: str, execute_run, events=None) -> dict:
    """Start a run with ``weights=imagenet`` and stop it right before its first fold trains."""
    from core import runs
    from core.splits import make_folds

    config = with_overrides(
        preset("seed"), {"model.backbone": backbone, "split.n_folds": 2, "split.val_ratio": 0.25}
    )
    folds = [f.key for f in make_folds(dataset.segments, config.split)]
    run_dir = runs.create_run(
        config.to_dict(), name="w", config_hash=config.hash(), data={}, folds=folds, root=tmp_path / "runs"
    )
    with pytest.raises(TrainingError, match="on purpose"):
        execute_run(
            run_dir, dataset, config, fail_after=0, progress=events.append if events is not None else None
        )
    return runs.read_manifest(run_dir)


def test_training_fetches_missing_weights_first_and_records_their_sha256(
    origin, keras_home, b0_files, tmp_path, monkeypatch, synthetic_dataset
) -> None:
    from core.run_lifecycle import execute_run

    server, base = origin
    body = b0_files["h5"].read_bytes()
    server.files[B0_FILE] = body
    monkeypatch.setenv("VOE_WEIGHTS_URL", base)
    monkeypatch.setitem(KERAS_ORIGINS, "efficientnetb0", (base, hashlib.md5(body).hexdigest()))
    events: list = []
    manifest = run_until_first_fold(
        tmp_path, synthetic_dataset(patients=8, per_patient=2), "efficientnetb0", execute_run, events
    )
    assert manifest["weights"] == "imagenet" and manifest["weights_reason"] == ""
    assert (
        manifest["weights_file"] == B0_FILE and manifest["weights_sha256"] == hashlib.sha256(body).hexdigest()
    )
    downloads = [e for e in events if e.kind == "weights"]
    assert downloads and downloads[-1].metrics == {"bytes": float(len(body)), "total": float(len(body))}
    # the Train page's bar (progress.json through jobs.progress_text) and the CLI's bar
    from core import jobs, runs
    from core.commands.train import ProgressBar

    run_dir = tmp_path / "runs" / manifest["run_id"]
    half = {**runs.read_progress(run_dir), "metrics": {"bytes": len(body) / 2, "total": float(len(body))}}
    state = {"alive": True, "status": "running", "run_dir": str(run_dir), "progress": half}
    megabytes = f"{len(body) / 2e6:.1f} of {len(body) / 1e6:.1f} MB"
    assert jobs.progress_text(state) == (0.5, f"downloading ImageNet weights for efficientnetb0: {megabytes}")
    stream = io.StringIO()
    bar = ProgressBar(with_overrides(preset("seed"), {}), stream=stream)
    for event in downloads:
        bar(event)
    assert (
        stream.getvalue().count("\n") == 2 and "[########################] downloading" in stream.getvalue()
    )


def test_import_checks_the_file_and_status_reports_it(keras_home, b0_files, capsys) -> None:
    source = b0_files["weights_h5"]
    code = main(
        ["weights", "import", str(source), "--backbone", "efficientnetb0", "--image-size", "32", "--json"]
    )
    imported = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and imported["state"] == "imported" and not imported["keras_published"]
    assert imported["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert imported["verification"]["matches_keras_reference"] and imported["verification"]["layers"] == 238
    assert cache_files(keras_home) == [
        "voe_imported",
        "voe_imported/efficientnetb0.json",
        "voe_imported/efficientnetb0.weights.h5",
    ]
    assert main(["weights", "status", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["backbones"]
    assert [b["backbone"] for b in listed] == list(BACKBONES)
    states = {b["backbone"]: b["state"] for b in listed}
    assert states == {
        **dict.fromkeys(BACKBONES, "missing"),
        "efficientnetb0": "imported",
        "small_cnn": "none",
    }
    choice = resolve_weights(get_backbone("efficientnetb0"), "imagenet")
    assert choice.source == "imagenet" and choice.sha256 == imported["sha256"]
    with pytest.raises(ConfigError, match="does not fit MobileNetV3Small"):
        store.import_file(source, "mobilenetv3small", image_size=32)
    assert weights_status("mobilenetv3small").state == "missing"
    with pytest.raises(ConfigError, match="trained from scratch"):
        store.import_file(source, "small_cnn")


def test_verify_reports_a_match_with_keras_imagenet_build(tmp_path, capsys) -> None:
    """The issue's check on the issue's file, at 64 px to stay fast (the slow test runs it at 224)."""
    path = tmp_path / "F.weights.h5"
    keras.applications.EfficientNetB0(
        include_top=False, weights=None, input_shape=(224, 224, 3)
    ).save_weights(path)
    code = main(
        [
            "weights",
            "verify",
            "--backbone",
            "efficientnetb0",
            "--file",
            str(path),
            "--image-size",
            "64",
            "--json",
        ]
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and result["matches_keras_reference"] is True
    assert (
        result["layers"] == result["keras_layers"] == 238
        and result["max_abs_diff"] <= 1e-4 * result["reference_max_abs"]
    )


@pytest.mark.slow
def test_verify_on_the_issue_file_at_224_and_why_weights_path_builds_differ(tmp_path, capsys) -> None:
    """Done-when, verbatim; Keras' own weights=FILE build skips the ImageNet-only Rescaling and differs."""
    path = tmp_path / "F.weights.h5"
    keras.applications.EfficientNetB0(
        include_top=False, weights=None, input_shape=(224, 224, 3)
    ).save_weights(path)
    assert main(["weights", "verify", "--backbone", "efficientnetb0", "--file", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (
        result["matches_keras_reference"] is True and result["layers"] == 238 and result["image_size"] == 224
    )
    images = reference_images(224)
    reference = keras_reference(get_backbone("efficientnetb0"), image_size=224, weights_path=path)
    by_path = keras.applications.EfficientNetB0(
        include_top=False, weights=str(path), input_shape=(224, 224, 3)
    )
    assert len(by_path.layers) == 237
    ref, other = np.asarray(reference(images)), np.asarray(by_path(images))
    assert np.max(np.abs(ref - other)) > 0.05 * np.max(np.abs(ref))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "size", "fmt"),
    [
        ("efficientnetb0", 32, ".weights.h5"),
        ("mobilenetv3small", 32, ".h5"),
        ("mobilenetv3large", 32, ".weights.h5"),
        ("resnet50", 32, ".h5"),
        ("inceptionv3", 75, ".weights.h5"),
    ],
)
def test_every_keras_backbone_matches_keras_own_imagenet_build(tmp_path, name, size, fmt) -> None:
    """Layers, preprocessing (caffe / tf outside the model) and feature maps equal Keras' ImageNet model's."""
    spec = get_backbone(name)
    keras.utils.set_random_seed(3)
    made = getattr(keras.applications, spec.application)(
        include_top=False, weights=None, input_shape=(size, size, 3)
    )
    path = tmp_path / f"{name}{fmt}"
    made.save_weights(path) if fmt == ".weights.h5" else save_legacy_h5(made, path)
    result = verify_file(name, path, image_size=size)
    assert result["matches_keras_reference"], result
    assert result["same_layer_types"] and result["layers"] == result["keras_layers"] == len(made.layers) + (
        name == "efficientnetb0"
    )
    assert result["reference_max_abs"] > 0


def test_the_small_cnn_has_no_imagenet_weights_and_no_keras_reference(tmp_path) -> None:
    """small_cnn: no origin to fetch from, state "none", and no Keras application to compare with."""
    assert weights_status("small_cnn").state == "none"
    with pytest.raises(ConfigError, match="trained from scratch"):
        fetch("small_cnn")
    path = tmp_path / "cnn.weights.h5"
    build_backbone(get_backbone("small_cnn"), image_size=32).save_weights(path)
    with pytest.raises(ConfigError, match="not a Keras application"):
        verify_file("small_cnn", path, image_size=32)


@pytest.mark.slow
def test_a_run_fetches_then_trains_every_fold_from_the_fetched_file(
    origin, keras_home, tmp_path, monkeypatch, synthetic_dataset
) -> None:
    """Online path end to end: fetch before the first fold, every fold starts from the file, sha256 kept."""
    from core import runs
    from core.run_lifecycle import execute_run
    from core.splits import make_folds

    keras.utils.set_random_seed(5)
    made = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3))
    spec = get_backbone("mobilenetv3small")
    body = save_legacy_h5(made, tmp_path / spec.weights_file).read_bytes()
    server, base = origin
    server.files[spec.weights_file] = body
    monkeypatch.setenv("VOE_WEIGHTS_URL", base)
    monkeypatch.setitem(KERAS_ORIGINS, "mobilenetv3small", (base, hashlib.md5(body).hexdigest()))
    dataset = synthetic_dataset(patients=8, per_patient=2)
    config = with_overrides(
        preset("seed"),
        {
            "model.backbone": "mobilenetv3small",
            "split.n_folds": 2,
            "split.val_ratio": 0.25,
            "train.warmup_epochs": 1,
            "train.finetune_epochs": 1,
            "train.batch_size": 8,
        },
    )
    folds = [f.key for f in make_folds(dataset.segments, config.split)]
    run_dir = runs.create_run(
        config.to_dict(),
        name="online",
        config_hash=config.hash(),
        data={},
        folds=folds,
        root=tmp_path / "runs",
    )
    manifest = execute_run(run_dir, dataset, config)
    assert (
        manifest["status"] == "complete"
        and manifest["weights"] == "imagenet"
        and manifest["weights_reason"] == ""
    )
    assert manifest["weights_sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["model"]["n_layers"] == len(made.layers)
    from core.models.dual import DualModel

    fold_model = DualModel.load(run_dir / "models" / f"{folds[0]}.keras")
    np.testing.assert_array_equal(
        fold_model.prefix_model.get_layer("backbone_prefix").get_layer("conv").kernel.numpy(),
        made.get_layer("conv").kernel.numpy(),
    )
