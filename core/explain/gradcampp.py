"""Grad-CAM++ (Chattopadhay et al. 2018): pixel-wise weighted positive gradients.

Channel weight ``w_k = sum_ij a_ij^k relu(g_ij^k)`` with
``a = g^2 / (2 g^2 + sum_ij(A) g^3)``, the exponential-score closed form used by
pytorch-grad-cam (higher derivatives of ``exp(score)`` written in first-order terms).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from core.explain.base import CamExplainer

#: Keeps the alpha denominator away from zero.
EPS: float = 1e-7


class GradCamPlusPlus(CamExplainer):
    """Grad-CAM++ per branch."""

    name: ClassVar[str] = "gradcampp"

    def cam_weights(self, activations, grads, **_) -> np.ndarray:
        """Alpha-weighted positive gradients summed over space [shape=(n, c)]."""
        g2 = grads**2
        g3 = g2 * grads
        total = activations.sum(axis=(1, 2), keepdims=True)
        alpha = g2 / (2 * g2 + total * g3 + EPS)
        alpha = np.where(grads != 0, alpha, 0.0)
        return (alpha * np.maximum(grads, 0.0)).sum(axis=(1, 2))
