"""Explanation maps drawn over their spectrogram image, with axes in ms and Hz."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.colors
import plotly.graph_objects as go

#: Plotly's Inferno, its first stop written as rgb: Streamlit's plotly theme treats the hex
#: colours #000001 … #000032 as placeholders of its own palette and repaints them, so
#: Inferno's "#000004" (zero importance) would turn pink on every page.
IMPORTANCE_SCALE: list[str] = ["rgb(0,0,4)", *plotly.colors.sequential.Inferno[1:]]


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
        note = f"{int((~real).sum())} padded columns not shown (they held {share:.0%} of the map's weight)"
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
            colorscale="RdBu_r" if signed else IMPORTANCE_SCALE,
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
        margin=dict(t=50, b=40 if note else 10, l=10, r=10),
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
            y=-0.3,
            showarrow=False,
            font=dict(size=11, color="#555"),
            xanchor="left",
        )


def gradcam_overlays(
    segment: Any,
    *,
    row_hz: dict[str, np.ndarray],
    column_ms: dict[str, np.ndarray],
    colorbar: str,
    real_columns: dict[str, np.ndarray] | None = None,
    end_ms: float | None = None,
) -> dict[str, go.Figure]:
    """Grad-CAM over each branch's image of one explained segment, for the branches it holds.

    Parameters
    ----------
    segment : object
        Holds ``mel``/``stft`` images [shape=(S, S, 3)] and ``heatmap_mel``/``heatmap_stft``
        maps [shape=(S, S)], None for a branch the model does not have (a prediction of
        :mod:`core.predict`, a patient explanation of :mod:`core.patient`).
    row_hz, column_ms : dict of np.ndarray [shape=(S,)]
        Per branch: the frequency of each image row and the time of each column.
    colorbar : str
        What the map's colour bar says.
    real_columns : dict of np.ndarray [shape=(S,), dtype=bool], optional
        Per branch: the columns that carry signal (padding is not drawn and the plot says so).
    end_ms : float, optional
        The segment's real length: the time axis ends here.
    """
    overlays = {}
    end_ms = end_ms if end_ms is not None and np.isfinite(end_ms) else None
    for branch, name in (("mel", "Mel"), ("stft", "STFT")):
        image, heat = getattr(segment, branch, None), getattr(segment, f"heatmap_{branch}", None)
        if image is not None and heat is not None:
            overlays[branch] = cam_overlay(
                image,
                heat,
                hz=row_hz[branch],
                ms=column_ms[branch],
                title=f"{name} image · Grad-CAM",
                colorbar=colorbar,
                real=None if real_columns is None else real_columns[branch],
                end_ms=end_ms,
            )
    return overlays


__all__ = ["cam_overlay", "gradcam_overlays", "padded_share", "signed_map"]
