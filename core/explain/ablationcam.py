"""AblationCAM (Desai & Ramaswamy 2020): a channel's weight is the score lost without it.

Each channel k of one branch's feature map is set to zero in turn and the head is
re-run (the other branch unchanged): ``w_k = score - score_without_k``. Only the head
runs per ablation, so all channels of a segment go through it in a few batched calls.
Weights are the raw score difference (pytorch-grad-cam divides by the score, which
changes only the scale of a segment's map, and flips it when the log-odds is negative).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from core.explain.base import CamExplainer
from core.explain.staged import chunks, target_score

#: Ablated feature maps per head call.
HEAD_BATCH: int = 256


class AblationCam(CamExplainer):
    """AblationCAM per branch."""

    name: ClassVar[str] = "ablationcam"
    needs_feature_gradients: ClassVar[bool] = False

    def cam_weights(self, activations, grads, *, runner, context, branch) -> np.ndarray:
        """Score drop when each channel is zeroed [shape=(n, c)]."""
        n, h, w, c = activations.shape
        score = self._score(context.prob)
        weights = np.zeros((n, c), dtype=np.float32)
        eye = np.eye(c, dtype=bool)
        for i in range(n):
            for part in chunks(c, HEAD_BATCH):
                k = part.stop - part.start
                ablated = np.repeat(activations[i : i + 1], k, axis=0)
                ablated[:, :, :, part] *= ~eye[part, part][:, None, None, :]
                maps = {
                    b: ablated if b == branch else np.repeat(context.maps[b][i : i + 1], k, axis=0)
                    for b in context.maps
                }
                weights[i, part] = score[i] - self._score(runner.head(maps))
        return weights

    def _score(self, prob: np.ndarray) -> np.ndarray:
        return np.asarray(target_score(prob, self.target), dtype=np.float32)
