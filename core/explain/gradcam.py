"""Grad-CAM (Selvaraju et al. 2017): channels weighted by their mean gradient.

For each branch, the weight of channel k is the spatial mean of d score / d A_k over
the last feature map A (before global pooling); the raw map is ``sum_k w_k A_k``
(signed, feature-map resolution), the heatmap its ReLU upsampled to the image.
:func:`delta_cam` compares the two branches on one scale.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from core.errors import ExplainError
from core.explain.base import BranchExplanation, CamExplainer, upsample
from core.explain.cam_grid import common_grid, to_common_grid
from core.explain.regions import ImageAxes


class GradCam(CamExplainer):
    """Grad-CAM on the shared backbone's last feature map, per branch."""

    name: ClassVar[str] = "gradcam"

    def cam_weights(self, activations, grads, **_) -> np.ndarray:
        """Spatial mean of the gradient [shape=(n, c)]."""
        return grads.mean(axis=(1, 2))


def delta_cam(
    mel: BranchExplanation, stft: BranchExplanation, *, axes: ImageAxes | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """ΔCAM = mel CAM − STFT CAM on one common scale, in [-1, 1], at the same Hz and ms.

    Both branches' raw CAMs come from the same shared backbone and the same score, so
    they share units. Each is ReLU'd and upsampled to the image; both are then divided
    by the same number, the larger of the two maps' maxima for that segment. So
    ΔCAM = +1 where mel carries the strongest evidence of the pair and STFT none, −1
    for the reverse, 0 where they agree; use a diverging colour map centred at 0.

    With ``axes`` (the images' physical axes), both CAMs are first resampled onto one
    grid of frequency and time (:func:`core.explain.cam_grid.common_grid`: linear Hz,
    0 ms to the segment's end, padded columns never read), so each ΔCAM pixel compares
    the same place. Without it the images are subtracted pixel by pixel (only right
    when both branches share their axes).

    Parameters
    ----------
    mel, stft : BranchExplanation
        The same CAM method's explanations of the two branches of the same segments.
    axes : ImageAxes, optional

    Returns
    -------
    delta : np.ndarray [shape=(n, S, S), dtype=float32]
        In [-1, 1]; on the common grid (row 0 = sr/2, column 0 = 0 ms) with ``axes``,
        image layout without.
    scale : np.ndarray [shape=(n,), dtype=float32]
        The common divisor (raw CAM units); 0 where both maps are empty.
    """
    if mel.method != stft.method or mel.branch != "mel" or stft.branch != "stft":
        raise ExplainError(
            "ΔCAM needs one method's mel and stft maps; "
            f"got {mel.method}/{mel.branch} and {stft.method}/{stft.branch}"
        )
    size = mel.heatmap.shape[1]
    a = upsample(np.maximum(mel.raw, 0.0), size)
    b = upsample(np.maximum(stft.raw, 0.0), size)
    if axes is not None:
        grid = common_grid(axes)
        a, b = to_common_grid(a, axes, "mel", grid), to_common_grid(b, axes, "stft", grid)
    scale = np.maximum(a.reshape(a.shape[0], -1).max(axis=1), b.reshape(b.shape[0], -1).max(axis=1))
    safe = np.where(scale > 0, scale, 1.0).astype(np.float32)
    delta = np.clip((a - b) / safe[:, None, None], -1.0, 1.0).astype(np.float32)
    return delta, scale.astype(np.float32)
