"""Gradient saliency (Simonyan et al. 2014) and SmoothGrad (Smilkov et al. 2017).

Vanilla: ``d score / d image`` of one branch, the other branch held at its feature
map. SmoothGrad: the same gradient averaged over ``samples`` copies of the image with
Gaussian noise of standard deviation ``noise`` × 255 (the pixel range), all copies of a
segment in one batched call. Raw maps are signed (summed over the 3 grey channels);
heatmaps are their absolute value.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from core.errors import ExplainError
from core.explain.base import PixelExplainer


class Saliency(PixelExplainer):
    """Vanilla gradient of the score with respect to one branch's image."""

    name: ClassVar[str] = "saliency"

    def attribute_pixels(self, runner, images, others, *, branch) -> np.ndarray:
        return self.gradients(runner, images, others, branch=branch)


class SmoothGrad(PixelExplainer):
    """Gradient averaged over noisy copies of the image.

    Parameters
    ----------
    samples : int
        Noisy copies per segment (25).
    noise : float
        Noise standard deviation as a fraction of the 0..255 range (0.15).
    seed : int
        Seed of the noise, so a cached map can be reproduced.
    """

    name: ClassVar[str] = "smoothgrad"

    def __init__(self, *, samples: int = 25, noise: float = 0.15, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if samples < 1:
            raise ExplainError(f"smoothgrad samples={samples}; expected >= 1")
        if not 0 <= noise <= 1:
            raise ExplainError(f"smoothgrad noise={noise}; expected a fraction of the pixel range, 0..1")
        self.samples, self.noise, self.seed = int(samples), float(noise), int(seed)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "samples": self.samples, "noise": self.noise, "seed": self.seed}

    def attribute_pixels(self, runner, images, others, *, branch) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        out = np.zeros(images.shape, dtype=np.float32)
        for i in range(images.shape[0]):
            noisy = images[i][None] + rng.normal(0.0, self.noise * 255.0, (self.samples, *images.shape[1:]))
            rest = {b: np.repeat(m[i : i + 1], self.samples, axis=0) for b, m in others.items()}
            out[i] = self.gradients(runner, noisy.astype(np.float32), rest, branch=branch).mean(axis=0)
        return out
