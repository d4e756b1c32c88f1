"""Plot builders shared by several pages (drawing only; the numbers come from core)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go


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
    """
    grey = image[..., 0] if image.ndim == 3 else image
    fig = go.Figure(go.Heatmap(z=grey.astype(float), x=ms, y=hz, colorscale="gray", showscale=False, hoverinfo="skip"))
    fig.add_trace(go.Heatmap(
        z=heat.astype(float), x=ms, y=hz, opacity=opacity, zmin=-1 if signed else 0, zmax=1,
        colorscale="RdBu_r" if signed else "Inferno", colorbar=dict(title=colorbar),
        hovertemplate="%{x:.1f} ms · %{y:.0f} Hz · %{z:.2f}<extra></extra>",
    ))
    fig.update_layout(title=title, height=370, margin=dict(t=40, b=10), xaxis_title="time (ms)", yaxis_title="frequency (Hz)")
    return fig
