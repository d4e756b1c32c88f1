"""Plot builders shared by several pages (drawing only; the numbers come from core)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.cohort.classes import DEFAULT_CLASS_NAMES, ClassNames, probability_label


def cam_overlay(
    image: np.ndarray,
    heat: np.ndarray,
    *,
    hz: np.ndarray,
    ms: np.ndarray,
    title: str,
    opacity: float = 0.45,
    signed: bool = False,
    colorbar: str = "importance",
    real: np.ndarray | None = None,
    end_ms: float | None = None,
) -> go.Figure:
    """A spectrogram image in grey with an explanation map over it, axes in ms and Hz.

    Parameters
    ----------
    image : np.ndarray [shape=(S, S) or (S, S, 3)]
        The model's input image (row 0 = highest frequency).
    heat : np.ndarray [shape=(S, S)]
        Map in [0, 1], or in [-1, 1] when ``signed`` (ΔCAM, diverging colours).
    hz, ms : np.ndarray [shape=(S,)]
        Frequency of each row and time of each column.
    real : np.ndarray [shape=(S,), dtype=bool], optional
        Columns that carry signal; the others (padding that repeats the last frame) are
        not drawn, and a note on the plot says how much of the map lay there.
    end_ms : float, optional
        The segment's real length: the time axis ends here.
    """
    grey = image[..., 0] if image.ndim == 3 else image
    note = None
    if real is not None and not real.all():
        share = padded_share(heat, real)
        note = f"{int((~real).sum())} padded columns not shown ({share:.0%} of this map)"
        grey, heat, ms = grey[:, real], heat[:, real], ms[real]
    fig = go.Figure(
        go.Heatmap(z=grey.astype(float), x=ms, y=hz, colorscale="gray", showscale=False, hoverinfo="skip")
    )
    fig.add_trace(
        go.Heatmap(
            z=heat.astype(float),
            x=ms,
            y=hz,
            opacity=opacity,
            zmin=-1 if signed else 0,
            zmax=1,
            colorscale="RdBu_r" if signed else "Inferno",
            colorbar=dict(title=colorbar),
            hovertemplate="%{x:.1f} ms · %{y:.0f} Hz · %{z:.2f}<extra></extra>",
        )
    )
    _map_layout(fig, title, end_ms, note)
    return fig


def signed_map(delta: np.ndarray, *, hz: np.ndarray, ms: np.ndarray, title: str, colorbar: str) -> go.Figure:
    """A signed map in [-1, 1] on its own physical grid (ΔCAM on the common Hz × ms grid).

    Parameters
    ----------
    delta : np.ndarray [shape=(F, T)]
    hz : np.ndarray [shape=(F,)]
        Row 0 = highest frequency.
    ms : np.ndarray [shape=(T,)]
    """
    fig = go.Figure(
        go.Heatmap(
            z=delta.astype(float),
            x=ms,
            y=hz,
            zmin=-1,
            zmax=1,
            colorscale="RdBu_r",
            colorbar=dict(title=colorbar),
            hovertemplate="%{x:.1f} ms · %{y:.0f} Hz · %{z:+.2f}<extra></extra>",
        )
    )
    _map_layout(fig, title, float(ms[-1]), None)
    return fig


def padded_share(heat: np.ndarray, real: np.ndarray) -> float:
    """Share of a map's absolute weight that lies in padded (not real) columns."""
    weight = np.abs(np.asarray(heat, dtype=float))
    total = float(weight.sum())
    return float(weight[:, ~np.asarray(real, dtype=bool)].sum()) / total if total > 0 else 0.0


def _map_layout(fig: go.Figure, title: str, end_ms: float | None, note: str | None) -> None:
    fig.update_layout(
        title=dict(text=title, font=dict(size=14)),
        height=390,
        margin=dict(t=50, b=10, l=10, r=10),
        xaxis_title="time (ms)",
        yaxis_title="frequency (Hz)",
    )
    if end_ms is not None:
        fig.update_xaxes(range=[0.0, end_ms])
    if note:
        fig.add_annotation(
            text=note,
            xref="paper",
            yref="paper",
            x=0,
            y=-0.18,
            showarrow=False,
            font=dict(size=11, color="#555"),
            xanchor="left",
        )


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
