"""Figures (core.figures): the probability strip carries segment ids for picking."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.explain.cases import confusion_cells
from core.figures import picked_segment, probability_strip


def predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "segment_id": [3, 8, 21, 40, 41, 57],
            "patient_id": ["P01", "P01", "P02", "P03", "P03", "P04"],
            "label": [1, 1, 0, 0, 1, 0],
            "prob": [0.91, 0.35, 0.12, 0.77, 0.66, 0.05],
        }
    )


def test_strip_has_one_trace_per_cell_with_segment_ids() -> None:
    preds = predictions()
    cells = confusion_cells(preds, threshold=0.5)
    fig = probability_strip(preds, cells, threshold=0.5)
    by_cell = {trace.name: trace for trace in fig.data}
    assert set(by_cell) == {"TP", "FN", "TN", "FP"}
    assert [int(v) for v in by_cell["TP"].customdata[:, 0]] == [3, 41]
    assert [int(v) for v in by_cell["FP"].customdata[:, 0]] == [40]
    np.testing.assert_allclose(by_cell["TN"].x, [0.12, 0.05])
    # poor outcomes sit around 1, well around 0, never on the other's side
    assert all(0.5 < y < 1.5 for y in by_cell["TP"].y) and all(-0.5 < y < 0.5 for y in by_cell["TN"].y)
    assert fig.layout.shapes[0].x0 == 0.5
    ringed = probability_strip(preds, cells, threshold=0.5, current=40)
    ring = ringed.data[0]
    assert ring.name == "shown" and list(ring.x) == [0.77] and ring.customdata is None
    assert [t.name for t in ringed.data[1:]] == [t.name for t in fig.data]  # the ring sits under the points
    assert len(probability_strip(preds, cells, threshold=0.5, current=999).data) == len(fig.data)


def test_picked_segment_reads_the_first_point() -> None:
    event = {
        "selection": {
            "points": [{"curve_number": 0, "customdata": ["41", "P03"]}, {"customdata": ["3", "P01"]}]
        }
    }
    assert picked_segment(event) == 41
    assert picked_segment({"selection": {"points": []}}) is None
    assert picked_segment(None) is None
    assert picked_segment({"selection": {"points": [{"x": 0.3}]}}) is None


def test_run_charts_draw_the_numbers_they_are_given() -> None:
    from core.figures import class_balance, confusion_matrix, model_spread, roc_curves

    roc = pd.DataFrame(
        {
            "fold": ["fold 1"] * 3 + ["fold 2"] * 3,
            "fpr": [0.0, 0.5, 1.0, 0.0, 0.25, 1.0],
            "tpr": [0.0, 0.75, 1.0, 0.0, 0.5, 1.0],
        }
    )
    fig = roc_curves(roc, title="ROC per fold", height=440, font_size=16)
    assert [t.name for t in fig.data] == ["fold 1", "fold 2", "chance"]
    assert list(fig.data[1].y) == [0.0, 0.5, 1.0] and fig.layout.height == 440
    assert fig.layout.title.text == "ROC per fold" and fig.layout.font.size == 16
    matrix = np.array([[7, 2], [1, 9]])
    heat = confusion_matrix(matrix, ("HC", "PD"), title="pooled")
    assert np.array_equal(np.asarray(heat.data[0].z), matrix) and list(heat.data[0].x) == ["HC", "PD"]
    bars = class_balance(["well", "poor", "unknown"], [17, 26, 1], ("well", "poor"))
    assert list(bars.data[0].y) == [17, 26, 1] and len(set(bars.data[0].marker.color)) == 3
    spread = model_spread(
        pd.Series([0.2, 0.7]), pd.Series([0.5, 0.4]), mean=0.45, hover=["fold 1", "fold 2"], x_title="p"
    )
    assert list(spread.data[0].x) == [0.2, 0.7] and list(spread.data[1].x) == [0.5, 0.4]
    assert spread.layout.shapes[0].x0 == 0.45


def test_gradcam_overlays_draw_only_the_branches_a_segment_holds() -> None:
    from types import SimpleNamespace

    from core.figures import gradcam_overlays

    rng = np.random.default_rng(0)
    image, heat = rng.uniform(0, 255, (8, 8, 3)), rng.uniform(0, 1, (8, 8))
    segment = SimpleNamespace(mel=image, heatmap_mel=heat, stft=None, heatmap_stft=None)
    axes = {"mel": np.linspace(8000, 0, 8)}, {"mel": np.linspace(0, 50, 8)}
    overlays = gradcam_overlays(segment, row_hz=axes[0], column_ms=axes[1], colorbar="Grad-CAM")
    assert list(overlays) == ["mel"]
    grey, cam = overlays["mel"].data
    assert np.allclose(np.asarray(grey.z), image[..., 0]) and np.allclose(np.asarray(cam.z), heat)
    assert overlays["mel"].layout.title.text == "Mel image · Grad-CAM"


def test_zero_importance_stays_black_under_streamlits_plotly_theme() -> None:
    """Streamlit repaints the hex colours #000001-#000032 (its palette placeholders); a map's
    colour scale must not contain them, or zero importance turns pink on every page."""
    import re

    from core.figures import cam_overlay
    from core.figures.maps import IMPORTANCE_SCALE

    rng = np.random.default_rng(1)
    image, heat = rng.uniform(0, 255, (8, 8)), rng.uniform(0, 1, (8, 8))
    real = np.array([True] * 6 + [False] * 2)
    fig = cam_overlay(
        image, heat, hz=np.linspace(8000, 0, 8), ms=np.linspace(0, 63, 8), title="t", real=real, end_ms=50.0
    )
    placeholder = re.compile(r"^#0000(0[1-9]|[12][0-9]|3[0-2])$", re.IGNORECASE)
    for trace in fig.data:
        stops = [colour for _, colour in trace.colorscale]
        assert not any(placeholder.match(colour) for colour in stops), stops
    cam = fig.data[1]
    assert cam.colorscale[0][1] == "rgb(0,0,4)" and len(IMPORTANCE_SCALE) == 10
    assert np.asarray(cam.z).shape == (8, 6)  # the padded columns are not drawn
    note = fig.layout.annotations[0].text
    assert note.startswith("2 padded columns not shown") and "of the map's weight" in note


def test_gradcam_overlays_end_at_the_segments_length_without_its_padding() -> None:
    from types import SimpleNamespace

    from core.figures import gradcam_overlays

    rng = np.random.default_rng(2)
    image, heat = rng.uniform(0, 255, (8, 8, 3)), rng.uniform(0, 1, (8, 8))
    segment = SimpleNamespace(mel=image, heatmap_mel=heat, stft=image, heatmap_stft=heat)
    hz = {b: np.linspace(8000, 0, 8) for b in ("mel", "stft")}
    ms = {b: np.linspace(0, 63, 8) for b in ("mel", "stft")}
    real = {"mel": np.arange(8) < 6, "stft": np.arange(8) < 7}
    overlays = gradcam_overlays(
        segment, row_hz=hz, column_ms=ms, colorbar="Grad-CAM", real_columns=real, end_ms=50.0
    )
    assert np.asarray(overlays["mel"].data[1].z).shape == (8, 6)
    assert np.asarray(overlays["stft"].data[1].z).shape == (8, 7)
    assert tuple(overlays["mel"].layout.xaxis.range) == (0.0, 50.0)
    unknown = gradcam_overlays(segment, row_hz=hz, column_ms=ms, colorbar="c", end_ms=float("nan"))
    assert unknown["mel"].layout.xaxis.range is None and np.asarray(unknown["mel"].data[1].z).shape == (8, 8)


def test_a_one_epoch_learning_curve_is_drawn_as_points_and_a_long_one_as_lines() -> None:
    from core.figures import learning_curves

    one = pd.DataFrame({"epoch": [1, 1], "value": [0.61, 0.55], "fold": "r0f0", "part": ["train", "val"]})
    fig = learning_curves(one, label="AUROC")
    assert [list(t.y) for t in fig.data] == [[0.61], [0.55]]
    assert all("markers" in t.mode for t in fig.data)  # a single point shows
    many = pd.DataFrame(
        {"epoch": [1, 2, 3, 4], "value": [0.5, 0.6, 0.7, 0.72], "fold": "r0f0", "part": "train"}
    )
    assert [t.mode for t in learning_curves(many, label="AUROC").data] == ["lines"]
    assert learning_curves(many, label="AUROC").layout.xaxis.dtick == 1  # ticks on whole epochs
    long = pd.DataFrame(
        {"epoch": range(1, 31), "value": np.linspace(0.5, 0.9, 30), "fold": "r0f0", "part": "val"}
    )
    assert learning_curves(long, label="AUROC").layout.xaxis.dtick is None  # plotly's own ticks
