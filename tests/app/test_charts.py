"""Plot builders of the pages: the probability strip carries segment ids for picking."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.explain.cases import confusion_cells
from pages.shared.charts import picked_segment, probability_strip


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
