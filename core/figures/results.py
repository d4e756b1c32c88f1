"""A run's results and its cohort as charts: ROC, confusion, calibration, learning curves, balance, occlusion.

Builders take plain tables and arrays (from :mod:`core.results`, :mod:`core.cohort.summary`,
the explain store) and return plotly figures; the pages show them and the report's
slides carry them, each with its own size and font (``height``, ``font_size``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core.cohort.classes import ClassNames, class_colours

#: Colours of the two branches (distinct, colour-blind safe).
BRANCH_COLOURS = {"mel": "#1f77b4", "stft": "#e76f51"}
_CHANCE = dict(dash="dot", color="grey")


def _size(fig: go.Figure, *, height: int, title: str | None, font_size: int | None, top: int = 10) -> None:
    """Height, title and font of a figure; a titled figure leaves room above the plot."""
    fig.update_layout(height=height, margin=dict(t=50 if title else top, b=40 if title else 10))
    if title:
        fig.update_layout(title=title)
    if font_size:
        fig.update_layout(font=dict(size=font_size))


def roc_curves(
    roc: pd.DataFrame, *, height: int = 360, title: str | None = None, font_size: int | None = None
) -> go.Figure:
    """One ROC line per fold and the chance diagonal.

    Parameters
    ----------
    roc : pd.DataFrame
        ``fold, fpr, tpr`` (:func:`core.results.roc_points`), in drawing order per fold.
    """
    fig = go.Figure()
    for fold, part in roc.groupby("fold", sort=False):
        fig.add_trace(go.Scatter(x=part["fpr"], y=part["tpr"], mode="lines", name=str(fold)))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=_CHANCE, name="chance"))
    fig.update_layout(xaxis_title="false-positive rate", yaxis_title="true-positive rate")
    _size(fig, height=height, title=title, font_size=font_size)
    return fig


def confusion_matrix(
    matrix: np.ndarray,
    names: ClassNames,
    *,
    title: str,
    height: int = 240,
    font_size: int | None = None,
    count_size: int | None = None,
) -> go.Figure:
    """A 2 x 2 confusion matrix with its counts, true class down, predicted across.

    Parameters
    ----------
    matrix : np.ndarray [shape=(2, 2), dtype=int]
        ``[[tn, fp], [fn, tp]]``.
    names : (str, str)
        Names of label 0 and 1.
    """
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=list(names),
            y=list(names),
            text=matrix,
            texttemplate="%{text}",
            textfont=dict(size=count_size) if count_size else None,
            colorscale="Blues",
            showscale=False,
            hovertemplate="true %{y} · predicted %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed")
    _size(fig, height=height, title=title, font_size=font_size, top=30)
    return fig


def calibration(points: pd.DataFrame, *, x_title: str, y_title: str, height: int = 360) -> go.Figure:
    """Observed share of label 1 against the mean predicted probability, and the diagonal.

    Parameters
    ----------
    points : pd.DataFrame
        ``predicted, observed, n`` per bin (:func:`core.results.calibration_points`).
    """
    fig = px.line(
        points,
        x="predicted",
        y="observed",
        markers=True,
        hover_data=["n"],
        labels={"predicted": x_title, "observed": y_title},
    )
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=_CHANCE, name="perfect"))
    fig.update_layout(xaxis_range=[0, 1], yaxis_range=[0, 1])
    _size(fig, height=height, title=None, font_size=None)
    return fig


def learning_curves(
    curves: pd.DataFrame, *, label: str, height: int = 380, range_y: Sequence[float] | None = None
) -> go.Figure:
    """One line per fold and part (train solid, validation and test dashed) over the epochs.

    While any line has fewer than three epochs its points are drawn as markers too (a
    one-epoch line would otherwise not show at all); up to 12 epochs, the axis ticks
    each whole epoch.

    Parameters
    ----------
    curves : pd.DataFrame
        ``epoch, value, fold, part`` of one metric (:func:`core.results.learning_curves`).
    label : str
        The metric's axis title.
    """
    fig = px.line(
        curves,
        x="epoch",
        y="value",
        color="fold",
        line_dash="part",
        labels={"value": label, "epoch": "epoch"},
        range_y=list(range_y) if range_y is not None else None,
        markers=bool(len(curves)) and int(curves.groupby(["fold", "part"])["epoch"].nunique().min()) < 3,
    )
    if len(curves) and int(curves["epoch"].max()) <= 12:  # whole epochs: no tick at 1.5
        fig.update_xaxes(dtick=1)
    _size(fig, height=height, title=None, font_size=None)
    return fig


def class_balance(
    outcomes: Sequence[str],
    counts: Sequence[int],
    names: ClassNames,
    *,
    height: int = 300,
    title: str | None = None,
    font_size: int | None = None,
) -> go.Figure:
    """Patients per outcome as bars in the classes' colours.

    Parameters
    ----------
    outcomes : sequence of str
        Class names (and "unknown"), one bar each.
    counts : sequence of int
        Patients per outcome.
    names : (str, str)
        Names of label 0 and 1 (they choose the colours).
    """
    colours = class_colours(names)
    fig = go.Figure(
        go.Bar(
            x=list(outcomes),
            y=list(counts),
            text=list(counts),
            textposition="auto",
            marker_color=[colours.get(o, colours["unknown"]) for o in outcomes],
        )
    )
    fig.update_layout(yaxis_title="patients", showlegend=False)
    _size(fig, height=height, title=title, font_size=font_size)
    return fig


def occlusion_bands(summary: pd.DataFrame, *, branch_names: dict[str, str], y_title: str) -> go.Figure:
    """Mean change of the probability when each frequency band is hidden, per branch, with its SD.

    Parameters
    ----------
    summary : pd.DataFrame
        :func:`core.explain.aggregate_occlusion` rows with a ``where`` column (the band's Hz).
    branch_names : dict
        Legend name of each branch.
    y_title : str
        e.g. "Δ P(poor)".
    """
    bands = summary[summary["axis"] == "frequency"]
    fig = go.Figure()
    for branch, part in bands.groupby("branch", sort=True):
        part = part.sort_values("region")
        fig.add_trace(
            go.Bar(
                x=[f"band {int(r) + 1}" for r in part["region"]],
                y=part["mean_delta"],
                name=branch_names.get(branch, branch),
                marker_color=BRANCH_COLOURS.get(branch),
                customdata=part["where"].tolist(),
                hovertemplate="%{customdata}: %{y:.3f}<extra>%{fullData.name}</extra>",
                error_y=dict(type="data", array=part["std_delta"], color="#5c6b7a"),
            )
        )
    fig.update_layout(
        title=f"Frequency bands (low → high): {y_title} when hidden",
        barmode="group",
        yaxis_title=y_title,
        xaxis=dict(automargin=True, tickangle=0),
        height=460,
        margin=dict(t=60, b=60, l=70, r=20),
        font=dict(size=16),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"),
    )
    return fig


__all__ = [
    "BRANCH_COLOURS",
    "calibration",
    "class_balance",
    "confusion_matrix",
    "learning_curves",
    "occlusion_bands",
    "roc_curves",
]
