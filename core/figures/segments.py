"""Per-segment and per-model probabilities: the Explain page's strip, the fold models' spread."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.cohort.classes import DEFAULT_CLASS_NAMES, ClassNames, probability_label

CELL_COLOURS = {"TP": "#c0392b", "FN": "#e67e22", "TN": "#2471a3", "FP": "#7fb3d5"}


def probability_strip(
    predictions: pd.DataFrame,
    cells: pd.Series,
    *,
    threshold: float,
    current: int | None = None,
    class_names: ClassNames = DEFAULT_CLASS_NAMES,
) -> go.Figure:
    """Every test segment of a fold as a point: P(label 1) across, true class up, colour = confusion cell.

    Each point carries its ``segment_id`` as ``customdata``, so a click can pick it
    (see :func:`picked_segment`). Points of one outcome are spread vertically by a fixed
    offset per segment id, only so that they do not hide each other.

    Parameters
    ----------
    predictions : pd.DataFrame
        ``segment_id, patient_id, label, prob`` of the fold's test segments.
    cells : pd.Series
        "TP", "TN", "FP" or "FN" per row of ``predictions``.
    threshold : float
        The fold's threshold, drawn as a vertical line.
    current : int, optional
        Segment id to ring (the one being explained). The ring is the first trace, drawn
        under the points, so a click still lands on the point.
    class_names : (str, str)
        Names of label 0 and 1 (the run's; well/poor for the study).
    """
    table = predictions.assign(cell=cells.to_numpy())
    spread = ((table["segment_id"].to_numpy() * 0.6180339887) % 1.0 - 0.5) * 0.5
    table = table.assign(y=table["label"].to_numpy(dtype=float) + spread)
    fig = go.Figure()
    ring = table[table["segment_id"] == current] if current is not None else table.iloc[:0]
    if not ring.empty:
        fig.add_trace(
            go.Scatter(
                x=ring["prob"],
                y=ring["y"],
                mode="markers",
                name="shown",
                hoverinfo="skip",
                showlegend=False,
                marker=dict(symbol="circle-open", size=20, color="black", line=dict(width=2)),
            )
        )
    for cell, colour in CELL_COLOURS.items():
        part = table[table["cell"] == cell]
        if part.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=part["prob"],
                y=part["y"],
                mode="markers",
                name=cell,
                marker=dict(color=colour, size=9, line=dict(width=0.5, color="white")),
                customdata=np.stack([part["segment_id"].to_numpy(), _names(part)], axis=1),
                hovertemplate="%{customdata[1]}<br>"
                + probability_label(class_names)
                + " %{x:.3f}<extra>"
                + cell
                + "</extra>",
            )
        )
    fig.add_vline(
        x=threshold, line_dash="dash", line_color="grey", annotation_text=f"threshold {threshold:.2f}"
    )
    # Zoom to where the points are (an untrained model's probabilities crowd near 0.5).
    values = np.append(table["prob"].to_numpy(dtype=float), threshold)
    pad = max(0.02, 0.08 * float(np.ptp(values)))
    fig.update_layout(
        height=240,
        margin=dict(t=30, b=10),
        xaxis=dict(
            title=probability_label(class_names),
            range=[max(0.0, values.min() - pad) - 0.005, min(1.0, values.max() + pad) + 0.005],
        ),
        yaxis=dict(tickvals=[0, 1], ticktext=list(class_names), title="true outcome", range=[-0.5, 1.5]),
        legend=dict(orientation="h", y=1.15),
        clickmode="event+select",
    )
    return fig


def picked_segment(event: Any) -> int | None:
    """The segment id of the first point picked on :func:`probability_strip`, or None."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points or []:
        data = point.get("customdata") if isinstance(point, dict) else None
        if data is not None and len(data):
            return int(data[0])
    return None


def _names(part: pd.DataFrame) -> np.ndarray:
    """Segment names for hover text: the ``segment`` column (core.segment_names), else the patient."""
    return (part["segment"] if "segment" in part else part["patient_id"]).astype(str).to_numpy()


def model_spread(
    probs: pd.Series,
    thresholds: pd.Series,
    *,
    mean: float,
    hover: list[str],
    x_title: str,
    colours: list[str] | str = "#12355b",
) -> go.Figure:
    """Each fold model's probability for one patient or recording, its threshold, and their mean.

    Parameters
    ----------
    probs, thresholds : pd.Series [shape=(M,)]
        Per model: the probability and the model's validation-chosen threshold.
    mean : float
        The mean probability (a dotted line).
    hover : list of str [length M]
        What each model's point names on hover (fold, role).
    x_title : str
        The probability axis' title, e.g. "probability of a poor outcome".
    colours : str or list of str
        Point colour(s), one per model or one for all.
    """
    model = dict(size=18, color=colours)
    threshold = dict(size=16, symbol="line-ns-open", color="#e76f51", line=dict(width=3))
    fig = go.Figure(
        [
            go.Scatter(x=probs, y=["model"] * len(probs), name="fold model", marker=model, text=hover),
            go.Scatter(
                x=thresholds, y=["threshold"] * len(thresholds), name="fold threshold", marker=threshold
            ),
        ]
    )
    fig.update_traces(mode="markers", hovertemplate="%{text}: %{x:.2f}<extra></extra>", selector=0)
    fig.update_traces(mode="markers", hovertemplate="threshold %{x:.2f}<extra></extra>", selector=1)
    fig.add_vline(x=mean, line=dict(color="#12355b", dash="dot"), annotation_text=f"mean {mean:.2f}")
    fig.update_layout(
        height=200,
        margin=dict(t=30, b=30, l=10, r=10),
        showlegend=False,
        font=dict(size=15),
        xaxis=dict(range=[0, 1], title=x_title),
    )
    return fig


__all__ = ["CELL_COLOURS", "model_spread", "picked_segment", "probability_strip"]
