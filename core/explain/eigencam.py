"""EigenCAM (Muhammad & Yeasin 2020): the first principal component of the feature map.

Gradient-free and class-agnostic: the raw map is the projection of each position's
(centred) channel vector onto the first right singular vector of the feature map.
The singular vector's sign is arbitrary, so it is chosen to make the projection
correlate positively with the channel-summed activation (where the backbone fires).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from core.explain.base import CamExplainer


class EigenCam(CamExplainer):
    """EigenCAM per branch (no gradients, shows the dominant activation pattern)."""

    name: ClassVar[str] = "eigencam"
    needs_feature_gradients: ClassVar[bool] = False

    def cam_image(self, activations, grads, **_) -> np.ndarray:
        """Projection on the first principal component [shape=(n, h, w)]."""
        n, h, w, c = activations.shape
        out = np.zeros((n, h, w), dtype=np.float32)
        for i in range(n):
            flat = activations[i].reshape(h * w, c).astype(np.float64)
            centred = flat - flat.mean(axis=0)
            if not np.any(centred):
                continue
            _, _, vt = np.linalg.svd(centred, full_matrices=False)
            projection = centred @ vt[0]
            energy = flat.sum(axis=1)
            if np.dot(projection, energy - energy.mean()) < 0:
                projection = -projection
            out[i] = projection.reshape(h, w)
        return out
