"""Integrated Gradients (Sundararajan et al. 2017) on one branch's image.

``attr = (x - x') * mean_k grad(x' + a_k (x - x'))`` over ``steps`` points a_k of the
trapezoidal rule on [0, 1], the other branch held at its feature map. ``x'`` is a
black image (default) or the image's own mean grey level. Completeness: the
attributions of a segment sum to about ``score(x) - score(x')`` (log-odds), which
:meth:`IntegratedGradients.completeness_gap` reports.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from core.errors import ExplainError
from core.explain.base import PixelExplainer
from core.explain.staged import StagedRunner, target_score

Baseline = Literal["black", "mean"]


class IntegratedGradients(PixelExplainer):
    """Integrated Gradients from a baseline image.

    Parameters
    ----------
    steps : int
        Points on the straight path, ends included (32).
    baseline : {"black", "mean"}
        All-zero image, or every pixel at the image's mean grey level.
    """

    name: ClassVar[str] = "integrated_gradients"

    def __init__(self, *, steps: int = 32, baseline: Baseline = "black", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if steps < 2:
            raise ExplainError(f"integrated gradients steps={steps}; expected >= 2")
        if baseline not in ("black", "mean"):
            raise ExplainError(f"integrated gradients baseline={baseline!r}; expected black or mean")
        self.steps, self.baseline = int(steps), baseline

    def params(self) -> dict[str, Any]:
        return {**super().params(), "steps": self.steps, "baseline": self.baseline}

    def baseline_of(self, images: np.ndarray) -> np.ndarray:
        """Baseline images [shape=(n, S, S, 3), float32]."""
        if self.baseline == "black":
            return np.zeros(images.shape, dtype=np.float32)
        means = images.reshape(images.shape[0], -1).mean(axis=1)
        return np.broadcast_to(means[:, None, None, None], images.shape).astype(np.float32)

    def attribute_pixels(self, runner, images, others, *, branch) -> np.ndarray:
        alphas = np.linspace(0.0, 1.0, self.steps, dtype=np.float32)
        weights = np.full(self.steps, 1.0 / (self.steps - 1), dtype=np.float32)
        weights[[0, -1]] /= 2
        start = self.baseline_of(images)
        out = np.zeros(images.shape, dtype=np.float32)
        for i in range(images.shape[0]):
            delta = images[i] - start[i]
            path = start[i][None] + alphas[:, None, None, None] * delta[None]
            rest = {b: np.repeat(m[i : i + 1], self.steps, axis=0) for b, m in others.items()}
            grads = self.gradients(runner, path, rest, branch=branch)
            out[i] = delta * np.tensordot(weights, grads, axes=1)
        return out

    def completeness_gap(
        self,
        runner: StagedRunner,
        images: np.ndarray,
        others: dict[str, np.ndarray],
        raw: np.ndarray,
        *,
        branch: str,
    ) -> np.ndarray:
        """``sum(attr) - (score(x) - score(x'))`` per segment [shape=(n,)]; near 0 when ``steps`` suffice."""
        maps = dict(others)
        maps[branch] = runner.feature_maps(images)
        start = dict(others)
        start[branch] = runner.feature_maps(self.baseline_of(images))
        gap = np.asarray(target_score(runner.head(maps), self.target)) - np.asarray(
            target_score(runner.head(start), self.target)
        )
        return raw.reshape(raw.shape[0], -1).sum(axis=1) - gap
