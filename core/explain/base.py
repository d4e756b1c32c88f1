"""The shared template of every map-producing explainer.

:meth:`Explainer.explain` validates the pair, asks the subclass for a raw map per
branch (:meth:`Explainer.attribute`), and turns each raw map into a heatmap on the
image grid with :meth:`Explainer.heatmap`. A method module overrides one small step:

- :class:`CamExplainer` (Grad-CAM family) owns the pass that yields feature maps and
  d score / d feature map; a method gives ``cam_weights`` (one weight per channel) or,
  gradient-free, ``cam_image``. Raw maps are at feature-map resolution, signed
  (before the ReLU); heatmaps are the ReLU, bilinearly upsampled to the image and
  divided by their maximum.
- :class:`PixelExplainer` (saliency, SmoothGrad, Integrated Gradients) owns
  d score / d image with the other branch held fixed; a method gives ``attribute_pixels``.
  Raw maps are at image resolution, summed over the 3 (identical grey) channels,
  signed; heatmaps are their absolute value divided by the maximum.
- Perturbation methods (occlusion) give ``attribute`` directly.

Every heatmap is ``float32`` in [0, 1], shape (n, S, S), laid out like the image
(row S-1 = lowest frequency); an all-zero raw map stays all zero (no evidence).
Scores are the target class's log-odds (:func:`core.explain.staged.target_score`);
target 1 = "poor", the study's positive class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import cv2
import numpy as np

from core.errors import ExplainError
from core.explain.staged import (
    BRANCHES,
    StagedModel,
    StagedRunner,
    check_pair,
    check_target,
    runner_for,
)

__all__ = [
    "BRANCHES",
    "BranchExplanation",
    "CamExplainer",
    "Explainer",
    "PairContext",
    "PixelExplainer",
    "StagedModel",
    "normalise",
    "upsample",
]


@dataclass(frozen=True)
class BranchExplanation:
    """One method's explanation of one branch for n segments.

    Attributes
    ----------
    method : str
        Registry name, e.g. "gradcam".
    branch : {"mel", "stft"}
    heatmap : np.ndarray [shape=(n, S, S), dtype=float32]
        In [0, 1], image layout (row S-1 = lowest frequency).
    raw : np.ndarray [shape=(n, h, w), dtype=float32]
        Unnormalised, signed map (feature-map resolution for CAM methods, image
        resolution for pixel and perturbation methods).
    prob : np.ndarray [shape=(n,), dtype=float32]
        Model probability of outcome 1 ("poor") for the unperturbed pairs.
    target : {0, 1}
        Class whose evidence the map shows.
    params : dict
        The method's settings.
    """

    method: str
    branch: str
    heatmap: np.ndarray
    raw: np.ndarray
    prob: np.ndarray
    target: int
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class PairContext:
    """What every method of one call shares: the inputs and the unperturbed forward pass.

    Attributes
    ----------
    images : dict of str to np.ndarray [shape=(n, S, S, 3)]
        Per model branch.
    maps : dict of str to np.ndarray [shape=(n, h, w, c)]
        Feature maps of the unperturbed images.
    grads : dict of str to np.ndarray [shape=(n, h, w, c)] or None
        d score / d feature map (only when the method needs gradients).
    prob : np.ndarray [shape=(n,)]
    target : {0, 1}
    """

    images: dict[str, np.ndarray]
    maps: dict[str, np.ndarray]
    grads: dict[str, np.ndarray] | None
    prob: np.ndarray
    target: int

    @property
    def n(self) -> int:
        return int(self.prob.shape[0])

    @property
    def size(self) -> int:
        return int(next(iter(self.images.values())).shape[1])


class Explainer(ABC):
    """Base of every map-producing method (template method :meth:`explain`).

    Parameters
    ----------
    target : {0, 1}
        Class whose evidence is shown (1 = poor, the study's positive class).
    batch_size : int, optional
        Most images per backbone call (default: the runner's, 64).
    """

    #: Registry name.
    name: ClassVar[str] = ""
    #: Whether :meth:`PairContext.grads` must be computed.
    needs_feature_gradients: ClassVar[bool] = False
    #: Raw maps whose peak is at most this are float noise and get an all-zero heatmap.
    noise_floor: ClassVar[float] = 0.0

    def __init__(self, *, target: int = 1, batch_size: int | None = None) -> None:
        self.target = check_target(target)
        self.batch_size = batch_size

    def params(self) -> dict[str, Any]:
        """Settings that change the result (stored beside cached maps)."""
        return {"target": self.target}

    def explain(
        self,
        model: StagedModel | StagedRunner,
        mel: np.ndarray | None,
        stft: np.ndarray | None,
        *,
        branches: tuple[str, ...] | None = None,
    ) -> dict[str, BranchExplanation]:
        """Explain n segment pairs, one :class:`BranchExplanation` per branch.

        Parameters
        ----------
        model : StagedModel
        mel, stft : np.ndarray [shape=(n, S, S, 3), 0..255] or None
            None only for a branch the model does not have.
        branches : tuple of str, optional
            Subset of the model's branches to explain (default: all).

        Returns
        -------
        explanations : dict of str to BranchExplanation
        """
        runner = runner_for(model, batch_size=self.batch_size)
        context = self.context(runner, mel, stft)
        wanted = runner.branches if branches is None else tuple(branches)
        unknown = [b for b in wanted if b not in runner.branches]
        if unknown:
            raise ExplainError(f"branches={unknown}; this model has {runner.branches}")
        out = {}
        for branch in wanted:
            raw = np.asarray(self.attribute(runner, context, branch), dtype=np.float32)
            out[branch] = BranchExplanation(
                method=self.name,
                branch=branch,
                heatmap=self.heatmap(raw, size=context.size),
                raw=raw,
                prob=context.prob,
                target=self.target,
                params=self.params(),
            )
        return out

    def context(self, runner: StagedRunner, mel: np.ndarray | None, stft: np.ndarray | None) -> PairContext:
        """Run the unperturbed pass once for all branches (with feature gradients if needed)."""
        check_pair(mel, stft, runner.branches)
        images = {b: np.asarray({"mel": mel, "stft": stft}[b]) for b in runner.branches}
        if self.needs_feature_gradients:
            maps, grads, prob = runner.cam_inputs(mel, stft, target=self.target)
        else:
            maps = runner.pair_maps(mel, stft)
            grads, prob = None, runner.head(maps)
        return PairContext(images=images, maps=maps, grads=grads, prob=prob, target=self.target)

    @abstractmethod
    def attribute(self, runner: StagedRunner, context: PairContext, branch: str) -> np.ndarray:
        """Raw, signed map of one branch [shape=(n, h, w)]."""

    def heatmap(self, raw: np.ndarray, *, size: int) -> np.ndarray:
        """Positive part, upsampled to the image, divided by its maximum per segment."""
        return normalise(upsample(np.maximum(raw, 0.0), size), floor=self.noise_floor)


class CamExplainer(Explainer):
    """Grad-CAM family: a weighted sum of the last feature map's channels."""

    needs_feature_gradients: ClassVar[bool] = True

    def attribute(self, runner: StagedRunner, context: PairContext, branch: str) -> np.ndarray:
        activations = context.maps[branch]
        grads = context.grads[branch] if context.grads is not None else None
        return self.cam_image(activations, grads, runner=runner, context=context, branch=branch)

    def cam_image(self, activations: np.ndarray, grads: np.ndarray | None, **where: Any) -> np.ndarray:
        """Raw CAM [shape=(n, h, w)]: channels of ``activations`` weighted by :meth:`cam_weights`.

        ``where`` holds ``runner`` (:class:`StagedRunner`), ``context`` (:class:`PairContext`)
        and ``branch``, for methods that run the model again (Ablation-CAM).
        """
        weights = self.cam_weights(activations, grads, **where)
        return np.einsum("nhwc,nc->nhw", activations, weights).astype(np.float32)

    def cam_weights(self, activations: np.ndarray, grads: np.ndarray | None, **where: Any) -> np.ndarray:
        """One weight per channel [shape=(n, c)]; override this or :meth:`cam_image` (``where`` as there)."""
        raise NotImplementedError(f"{type(self).__name__} must override cam_weights or cam_image")


class PixelExplainer(Explainer):
    """Gradient methods on the input image; the other branch is held at its feature map."""

    def attribute(self, runner: StagedRunner, context: PairContext, branch: str) -> np.ndarray:
        others = {b: m for b, m in context.maps.items() if b != branch}
        images = context.images[branch].astype(np.float32)
        pixels = self.attribute_pixels(runner, images, others, branch=branch)
        return pixels.sum(axis=-1)

    @abstractmethod
    def attribute_pixels(
        self, runner: StagedRunner, images: np.ndarray, others: dict[str, np.ndarray], *, branch: str
    ) -> np.ndarray:
        """Attribution per pixel and channel [shape=(n, S, S, 3)]."""

    def heatmap(self, raw: np.ndarray, *, size: int) -> np.ndarray:
        """Absolute attribution divided by its maximum per segment."""
        return normalise(upsample(np.abs(raw), size), floor=self.noise_floor)

    def gradients(
        self, runner: StagedRunner, images: np.ndarray, others: dict[str, np.ndarray], *, branch: str
    ) -> np.ndarray:
        """d score / d image for ``images`` [shape=(m, S, S, 3)] whose rows align with ``others``."""
        grads, _ = runner.input_gradients(images, others, branch=branch, target=self.target)
        return grads


def upsample(maps: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of maps to the image grid (``cv2.resize``, half-pixel centres).

    Parameters
    ----------
    maps : np.ndarray [shape=(n, h, w)]
    size : int

    Returns
    -------
    out : np.ndarray [shape=(n, size, size), dtype=float32]
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.shape[1:] == (size, size):
        return maps.copy()
    out = np.empty((maps.shape[0], size, size), dtype=np.float32)
    for i in range(maps.shape[0]):
        out[i] = cv2.resize(maps[i], (size, size), interpolation=cv2.INTER_LINEAR)
    return out


def normalise(maps: np.ndarray, *, floor: float = 0.0) -> np.ndarray:
    """Divide each non-negative map by its maximum; maps peaking at or below ``floor`` become zero.

    Parameters
    ----------
    maps : np.ndarray [shape=(n, h, w)]
    floor : float
        Peak treated as no evidence (float noise of a method's units).

    Returns
    -------
    out : np.ndarray [shape=(n, h, w), dtype=float32], values in [0, 1]
    """
    maps = np.asarray(maps, dtype=np.float32)
    peak = maps.reshape(maps.shape[0], -1).max(axis=1) if maps.size else np.zeros(0, np.float32)
    empty = peak <= floor
    scale = np.where(empty, 1.0, peak).astype(np.float32)
    out = np.clip(maps / scale[:, None, None], 0.0, 1.0)
    out[empty] = 0.0
    return out
