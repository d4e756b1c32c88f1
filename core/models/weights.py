"""Where a backbone's ImageNet weights file is: the Keras cache, an imported file, or nowhere.

- **cached**: Keras' own file in the Keras cache (``$KERAS_HOME/models`` or
  ``~/.keras/models``) under Keras' file name, with the md5 Keras publishes for it
  (:data:`KERAS_ORIGINS`, copied from ``keras.applications`` of Keras 3.15).
  :mod:`core.models.download` puts it there from Keras' origin, as ``weights="imagenet"``
  would; training fetches it first when it is missing.
- **imported**: a file carried over to a machine without internet (:func:`import_file`),
  checked against Keras' own ImageNet build before it is kept under
  ``<Keras cache>/voe_imported/``. Keras ``.h5`` and ``.weights.h5`` files both work.
- **missing**: training then starts from random initialisation, and
  :func:`resolve_weights` says why (including a failed download of this process).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.atomic import atomic_write, atomic_write_text
from core.errors import ConfigError, WeightsError
from core.models.backbones import BACKBONES, BackboneSpec, get_backbone

IMPORTED_SUBDIR = "voe_imported"

# Keras 3.15 keras/src/applications: BASE_WEIGHTS_PATH / BASE_WEIGHT_PATH / WEIGHTS_PATH_NO_TOP
# and the no-top entries of WEIGHTS_HASHES (InceptionV3's hash is inline in InceptionV3()).
KERAS_ORIGINS: dict[str, tuple[str, str]] = {
    "efficientnetb0": (
        "https://storage.googleapis.com/keras-applications/",
        "50bc09e76180e00e4465e1a485ddc09d",
    ),
    "mobilenetv3small": (
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/",
        "d3e8ec802a04aa4fc771ee12a9a9b836",
    ),
    "mobilenetv3large": (
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/",
        "07fb09a5933dd0c8eaafa16978110389",
    ),
    "resnet50": (
        "https://storage.googleapis.com/tensorflow/keras-applications/resnet/",
        "4d473c1dd8becc155b73f8504c6f6626",
    ),
    "inceptionv3": (
        "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/",
        "bcbd6486424b2319ff4ef7d526e38f63",
    ),
}

_DIGESTS: dict[tuple[str, int, int], tuple[str, str]] = {}
_FETCH_FAILURES: dict[str, str] = {}  # backbone -> why its download failed in this process


def keras_cache_dir() -> Path:
    """Folder where Keras keeps downloaded application weights."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def file_digests(path: str | Path) -> tuple[str, str]:
    """(sha256, md5) of a file, remembered per path, size and modification time."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        sha, md5 = hashlib.sha256(), hashlib.md5()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                sha.update(chunk)
                md5.update(chunk)
        _DIGESTS[key] = (sha.hexdigest(), md5.hexdigest())
    return _DIGESTS[key]


def record_fetch_failure(name: str, reason: str) -> None:
    """Remember why a download failed ("" clears it), for :func:`resolve_weights`' reason."""
    if reason:
        _FETCH_FAILURES[name] = reason
    else:
        _FETCH_FAILURES.pop(name, None)


@dataclass(frozen=True)
class WeightsStatus:
    """Where one backbone's ImageNet weights stand on this machine.

    Attributes
    ----------
    backbone, label : str
    state : {"cached", "imported", "missing", "none"}
        "none": the backbone has no ImageNet weights (the small CNN).
    file : str or None
        The file used for ``weights="imagenet"``.
    sha256, md5 : str or None
        Digests of that file.
    keras_published : bool
        The file's md5 is the one Keras publishes (it is Keras' own ImageNet file).
    note : str
        A sentence for the page (what is wrong, or where the file came from).
    """

    backbone: str
    label: str
    state: str
    file: str | None = None
    sha256: str | None = None
    md5: str | None = None
    keras_published: bool = False
    note: str = ""

    @property
    def path(self) -> Path | None:
        return Path(self.file) if self.file else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _imported_record(spec: BackboneSpec) -> tuple[Path, dict[str, Any]] | None:
    record = keras_cache_dir() / IMPORTED_SUBDIR / f"{spec.name}.json"
    try:
        data = json.loads(record.read_text())
        path = record.parent / data["stored_as"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (path, data) if path.is_file() else None


def weights_status(name: str) -> WeightsStatus:
    """State, file and digests of one backbone's ImageNet weights (no network)."""
    spec = get_backbone(name)
    if spec.name not in KERAS_ORIGINS:
        return WeightsStatus(spec.name, spec.label, "none", note="no ImageNet weights: trained from scratch")
    md5_published = KERAS_ORIGINS[spec.name][1]
    cached = keras_cache_dir() / spec.weights_file
    note = ""
    if cached.is_file():
        sha, md5 = file_digests(cached)
        if md5 == md5_published:
            return WeightsStatus(
                spec.name, spec.label, "cached", str(cached), sha, md5, True, "Keras' ImageNet file"
            )
        note = f"{spec.weights_file} in the Keras cache does not match Keras' published md5 {md5_published}; "
    imported = _imported_record(spec)
    if imported is not None:
        path, record = imported
        sha, md5 = file_digests(path)
        if sha == record.get("sha256"):
            origin = f"imported from {record.get('source_name', '?')} on {record.get('imported', '?')}"
            return WeightsStatus(
                spec.name, spec.label, "imported", str(path), sha, md5, md5 == md5_published, origin
            )
        note += f"the imported file {path.name} changed since it was imported; "
    return WeightsStatus(spec.name, spec.label, "missing", note=note + "not on this machine")


def all_status() -> list[WeightsStatus]:
    """:func:`weights_status` of every registered backbone, registry order."""
    return [weights_status(name) for name in BACKBONES]


def import_file(
    path: str | Path, name: str, *, image_size: int = 224
) -> tuple[WeightsStatus, dict[str, Any]]:
    """Keep a carried-over weights file for a backbone after checking it against Keras.

    The file must load into the project's backbone and give the same feature maps as
    Keras' own ``weights="imagenet"`` build loaded with it
    (:func:`core.models.keras_reference.verify_file`).

    Parameters
    ----------
    path : path
        A Keras ``.h5`` (e.g. Keras' own ``efficientnetb0_notop.h5``) or ``.weights.h5`` file.
    name : str
        Registry name.
    image_size : int
        Image side of the check (weights do not depend on it).

    Returns
    -------
    (WeightsStatus, dict)
        The new state ("imported", or "cached" when Keras' own file is already cached)
        and the verification result.

    Raises
    ------
    ConfigError
        Missing file, wrong suffix, or a file that does not fit the backbone.
    WeightsError
        The file loads but does not reproduce Keras' build.
    """
    from core.models.keras_reference import verify_file

    source = Path(path).expanduser()
    spec = get_backbone(name)
    if spec.name not in KERAS_ORIGINS:
        raise ConfigError(f"{spec.label} has no ImageNet weights to import (it is trained from scratch)")
    if not source.is_file():
        raise ConfigError(f"weights file {str(source)!r}: no such file")
    result = verify_file(spec.name, source, image_size=image_size)
    if not result["matches_keras_reference"]:
        raise WeightsError(
            f"{source.name} loaded into {spec.label} differs from Keras' own build by up to "
            f"{result['max_abs_diff']:.3g}; not imported"
        )
    folder = keras_cache_dir() / IMPORTED_SUBDIR
    suffix = ".weights.h5" if source.name.endswith(".weights.h5") else ".h5"
    stored = folder / f"{spec.name}{suffix}"
    atomic_write(stored, lambda handle: _copy(source, handle), binary=True)
    for other in folder.glob(f"{spec.name}.*h5"):
        if other != stored:
            other.unlink()
    sha, md5 = file_digests(stored)
    record = {
        "backbone": spec.name,
        "source_name": source.name,
        "stored_as": stored.name,
        "sha256": sha,
        "md5": md5,
        "keras_published": md5 == KERAS_ORIGINS[spec.name][1],
        "imported": dt.datetime.now().isoformat(timespec="seconds"),
        "verification": result,
    }
    atomic_write_text(folder / f"{spec.name}.json", json.dumps(record, indent=2))
    return weights_status(spec.name), result


def _copy(source: Path, handle: Any) -> None:
    with source.open("rb") as src:
        shutil.copyfileobj(src, handle, length=1 << 20)


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
    sha256 : str or None
        Digest of ``path``, recorded in the run manifest.
    """

    source: str
    path: Path | None
    reason: str
    sha256: str | None = None


def resolve_weights(spec: BackboneSpec, weights: str) -> WeightsChoice:
    """Decide the initial weights without touching the network.

    Parameters
    ----------
    spec : BackboneSpec
    weights : str
        "imagenet" (cached or imported file, see :func:`weights_status`), "random", or a
        path to a weights file (``.h5`` / ``.weights.h5``).

    Raises
    ------
    ConfigError
        When ``weights`` is a path that does not exist.
    """
    if weights == "random":
        return WeightsChoice("random", None, "random initialisation was requested")
    if weights == "imagenet":
        status = weights_status(spec.name)
        if status.state == "none":
            return WeightsChoice(
                "random", None, f"{spec.label} has no ImageNet weights; trained from scratch"
            )
        if status.path is not None:
            return WeightsChoice("imagenet", status.path, "", status.sha256)
        failure = _FETCH_FAILURES.get(spec.name)
        why = (
            f"the download failed: {failure}"
            if failure
            else (
                f"{spec.weights_file} is neither in the Keras cache ({keras_cache_dir()}) nor imported; "
                "`python -m core weights fetch` or `weights import` provide it"
            )
        )
        return WeightsChoice(
            "random",
            None,
            f"ImageNet weights for {spec.label} are not on this machine ({why}); "
            "started from random initialisation",
        )
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"model.weights={weights!r}: no such file; expected imagenet, random or a weights file"
        )
    return WeightsChoice("file", path, "", file_digests(path)[0])


__all__ = [
    "IMPORTED_SUBDIR",
    "KERAS_ORIGINS",
    "WeightsChoice",
    "WeightsStatus",
    "all_status",
    "file_digests",
    "import_file",
    "keras_cache_dir",
    "record_fetch_failure",
    "resolve_weights",
    "weights_status",
]
