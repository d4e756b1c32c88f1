"""ΔCAM on a common Hz × ms grid: a known-answer model whose branches have different axes."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import preset
from core.explain.base import BranchExplanation
from core.explain.cam_grid import common_grid, to_common_grid
from core.explain.gradcam import delta_cam
from core.explain.regions import ImageAxes


def _f_mel(hz: np.ndarray) -> np.ndarray:  # the mel branch looks near 1 kHz
    return np.exp(-(((hz - 1000.0) / 500.0) ** 2))


def _g_stft(hz: np.ndarray) -> np.ndarray:  # the STFT branch looks near 4 kHz, half as strongly
    return 0.5 * np.exp(-(((hz - 4000.0) / 800.0) ** 2))


def _explanation(branch: str, raw: np.ndarray) -> BranchExplanation:
    return BranchExplanation(
        method="gradcam",
        branch=branch,
        heatmap=raw / raw.max(),
        raw=raw,
        prob=np.array([0.7], dtype=np.float32),
        target=1,
    )


@pytest.fixture(scope="module")
def axes() -> ImageAxes:
    return ImageAxes.from_config(preset("seed").preprocess)


def test_the_study_images_put_different_places_at_the_same_pixel(axes: ImageAxes) -> None:
    # The numbers: the middle row and the column ranges differ between branches.
    assert axes.row_hz["mel"][112] == pytest.approx(1677.8, abs=0.1)
    assert axes.row_hz["stft"][112] == pytest.approx(3981.9, abs=0.1)
    assert (axes.column_ms["mel"][0], axes.column_ms["mel"][-1]) == (0.0, 63.0)
    assert (axes.column_ms["stft"][0], axes.column_ms["stft"][-1]) == (4.0, 67.0)
    assert axes.segment_ms == 50.0


def test_delta_cam_of_a_known_answer_model_with_different_axes(axes: ImageAxes) -> None:
    size = axes.size
    ms_mel = axes.column_ms["mel"]
    # Mel CAM: f(Hz) × a ramp in time; STFT CAM: g(Hz), constant in time. Padded columns hold a
    # large value that the real model would never explain: it must not reach ΔCAM.
    mel = _f_mel(axes.row_hz["mel"])[:, None] * (0.5 + ms_mel / 100.0)[None, :]
    stft = _g_stft(axes.row_hz["stft"])[:, None] * np.ones(size)[None, :]
    mel[:, ~axes.real_columns["mel"]] = 5.0
    stft[:, ~axes.real_columns["stft"]] = 5.0
    delta, scale = delta_cam(_explanation("mel", mel[None]), _explanation("stft", stft[None]), axes=axes)

    grid = common_grid(axes)
    assert grid.hz[0] == 8000.0 and grid.hz[-1] == 0.0 and grid.ms[0] == 0.0 and grid.ms[-1] == 50.0
    a = _f_mel(grid.hz)[:, None] * (0.5 + grid.ms / 100.0)[None, :]
    b = _g_stft(grid.hz)[:, None] * np.ones(grid.ms.size)[None, :]
    expected = (a - b) / max(a.max(), b.max())
    assert scale[0] == pytest.approx(
        max(a.max(), b.max()), rel=0.02
    )  # 1.0 at 1 kHz, 50 ms; not the padding's 5
    assert np.abs(delta[0] - expected).max() < 0.03
    # Sign convention: positive where mel looked (1 kHz), negative where STFT looked (4 kHz).
    at = {hz: int(np.argmin(np.abs(grid.hz - hz))) for hz in (1000, 4000)}
    assert delta[0, at[1000]].min() > 0.45 and delta[0, at[4000]].max() < -0.4

    # Pixel-by-pixel subtraction (no axes) compares different places and misses by far.
    naive, _ = delta_cam(_explanation("mel", mel[None]), _explanation("stft", stft[None]))
    assert np.abs(naive[0] - expected).max() > 0.5


def test_resampling_reads_only_signal_columns(axes: ImageAxes) -> None:
    maps = np.zeros((1, axes.size, axes.size))
    maps[:, :, ~axes.real_columns["stft"]] = 1.0
    out = to_common_grid(maps, axes, "stft", common_grid(axes))
    assert out.shape == (1, axes.size, axes.size) and float(np.abs(out).max()) == 0.0
