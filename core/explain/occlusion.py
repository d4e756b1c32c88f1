"""Occlusion: K frequency bands and K time chunks of each branch, one at a time, → Δprob.

For each segment and branch, every band (all columns of a group of rows) and every
time chunk (all rows of a group of columns) is filled with ``fill`` while the other
branch stays intact, and ``Δprob = p(intact) - p(occluded)``: positive where the
region pushed the probability of "poor" up (the study's sign). Regions and their Hz /
ms boundaries are defined in :mod:`core.explain.regions` (band 0 = lowest frequency).

Fill (``fill``): "mean" (default) — the occluded image's own mean grey level, so the
region loses its structure but not its overall brightness; "black" — 0, which in a
dB image also means "very quiet", i.e. it adds information; or a number 0..255.

All 2 × (bands + chunks) occluded images of a segment are built inside one compiled
call from the intact pair and the region masks, go through the shared backbone with
the intact pair (42 images), and each variant's probability is recombined in the head
from the intact other branch's feature map; a fold is processed in such calls,
segment group by segment group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from core.errors import ExplainError
from core.explain.base import Explainer, PairContext
from core.explain.regions import REGION_COLUMNS, ImageAxes, band_rows, chunk_columns, region_table
from core.explain.staged import StagedModel, StagedRunner, check_pair, runner_for
from core.explain.staged import chunks as _chunks

Fill = str | float


@dataclass(frozen=True)
class OcclusionSettings:
    """How occlusion cuts and fills an image: the one home of its defaults.

    Attributes
    ----------
    bands, chunks : int
        K frequency bands (10) and K time chunks (10) per image.
    fill : {"mean", "black"} or float
        What replaces a region (see the module docstring).
    """

    bands: int = 10
    chunks: int = 10
    fill: Fill = "mean"

    def params(self) -> dict[str, Any]:
        """The settings as keyword arguments (cache keys, :func:`occlusion_table`)."""
        return {"bands": self.bands, "chunks": self.chunks, "fill": self.fill}

    @property
    def regions(self) -> int:
        """Occluded variants of one image (bands, then chunks)."""
        return self.bands + self.chunks


#: Columns of :func:`occlusion_table`.
OCCLUSION_COLUMNS: tuple[str, ...] = ("segment_id", *REGION_COLUMNS, "prob", "occluded_prob", "delta")


def fill_values(images: np.ndarray, fill: Fill) -> np.ndarray:
    """Grey level that replaces an occluded region, per image [shape=(n,), float32]."""
    images = np.asarray(images)
    if isinstance(fill, str):
        if fill == "mean":
            return images.reshape(images.shape[0], -1).mean(axis=1).astype(np.float32)
        if fill == "black":
            return np.zeros(images.shape[0], dtype=np.float32)
        raise ExplainError(f"occlusion fill={fill!r}; expected 'mean', 'black' or a grey level 0..255")
    if not 0 <= float(fill) <= 255:
        raise ExplainError(f"occlusion fill={fill}; expected a grey level 0..255")
    return np.full(images.shape[0], float(fill), dtype=np.float32)


def occlusion_masks(
    size: int, *, bands: int = OcclusionSettings.bands, chunks: int = OcclusionSettings.chunks
) -> np.ndarray:
    """Where each band / chunk variant is filled: bands first (lowest first), then chunks.

    Returns
    -------
    masks : np.ndarray [shape=(bands + chunks, S, S, 1), dtype=float32]
        1 inside the occluded region.
    """
    masks = np.zeros((bands + chunks, size, size, 1), dtype=np.float32)
    for i, (start, stop) in enumerate(band_rows(size, bands)):
        masks[i, start:stop] = 1.0
    for i, (start, stop) in enumerate(chunk_columns(size, chunks)):
        masks[bands + i, :, start:stop] = 1.0
    return masks


def _build_occlusion_graph(runner: StagedRunner) -> Any:
    """One compiled call: variants built in the graph, one backbone pass, head recombination."""
    import tensorflow as tf

    branches = runner.branches

    def occlusion_graph(images: Any, masks: Any, fills: Any) -> Any:
        # images: one [g, S, S, 3] tensor per branch; masks [K, S, S, 1]; fills: one [g] per branch.
        g = tf.shape(images[0])[0]
        k = tf.shape(masks)[0]
        intact = [tf.cast(x, tf.float32) for x in images]
        variants = []
        for x, fill in zip(intact, fills, strict=True):
            keep = x[:, None] * (1.0 - masks[None])
            filled = tf.reshape(fill, [-1, 1, 1, 1, 1]) * masks[None]
            variants.append(tf.reshape(keep + filled, tf.concat([[g * k], tf.shape(x)[1:]], 0)))
        maps = runner.maps_graph(tf.concat(intact + variants, axis=0))
        n_b = len(branches)
        intact_maps = [maps[i * g : (i + 1) * g] for i in range(n_b)]
        variant_maps = [maps[n_b * g + i * g * k : n_b * g + (i + 1) * g * k] for i in range(n_b)]
        head_in = []
        for other in range(n_b):
            repeated = tf.repeat(intact_maps[other], k, axis=0)
            head_in.append(
                tf.concat([variant_maps[other] if owner == other else repeated for owner in range(n_b)], 0)
            )
        prob = runner.head_graph(*intact_maps)
        occluded = tf.reshape(runner.head_graph(*head_in), [n_b, g, k])
        return prob, occluded

    return tf.function(occlusion_graph, reduce_retracing=True)


def occlusion_probabilities(
    model: StagedModel | StagedRunner,
    mel: np.ndarray | None,
    stft: np.ndarray | None,
    settings: OcclusionSettings | None = None,
    *,
    batch_size: int | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Probability of every pair and of every occluded variant.

    Parameters
    ----------
    model : StagedModel
    mel, stft : np.ndarray [shape=(n, S, S, 3)] or None
    settings : OcclusionSettings, optional
        Bands, chunks and fill (10, 10, "mean" by default).
    batch_size : int, optional
        Most images per backbone call (default 64); segments are grouped so that a
        group's intact and occluded images fit in one call (at least one segment).

    Returns
    -------
    prob : np.ndarray [shape=(n,), dtype=float32]
    occluded : dict of str to np.ndarray [shape=(n, bands + chunks), dtype=float32]
        Per branch; bands first (band 0 = lowest), then chunks (chunk 0 = earliest).
    """
    import tensorflow as tf

    runner = runner_for(model, batch_size=batch_size)
    n = check_pair(mel, stft, runner.branches)
    arrays = {b: np.asarray({"mel": mel, "stft": stft}[b]) for b in runner.branches}
    size = next(iter(arrays.values())).shape[1]
    settings = settings or OcclusionSettings()
    masks = tf.constant(occlusion_masks(size, bands=settings.bands, chunks=settings.chunks))
    fills = {b: fill_values(images, settings.fill) for b, images in arrays.items()}
    graph = runner.compiled("occlusion", _build_occlusion_graph)
    group = max(1, runner.batch_size // (len(runner.branches) * (1 + settings.regions)))
    prob = np.zeros(n, dtype=np.float32)
    occluded = {b: np.zeros((n, settings.regions), dtype=np.float32) for b in runner.branches}
    for part in _chunks(n, group):
        images = [tf.constant(_as_graph_input(arrays[b][part])) for b in runner.branches]
        levels = [tf.constant(fills[b][part]) for b in runner.branches]
        p, occ = graph(images, masks, levels)
        prob[part] = np.asarray(p)
        for i, b in enumerate(runner.branches):
            occluded[b][part] = np.asarray(occ[i])
    return prob, occluded


def _as_graph_input(images: np.ndarray) -> np.ndarray:
    return images if images.dtype == np.uint8 else images.astype(np.float32, copy=False)


def occlusion_table(
    model: StagedModel | StagedRunner,
    mel: np.ndarray | None,
    stft: np.ndarray | None,
    *,
    bands: int = OcclusionSettings.bands,
    chunks: int = OcclusionSettings.chunks,
    fill: Fill = OcclusionSettings.fill,
    axes: ImageAxes | None = None,
    segment_ids: np.ndarray | None = None,
    batch_size: int | None = None,
) -> pd.DataFrame:
    """Δprob of every band and chunk of every branch of every segment, in long form.

    Parameters
    ----------
    model : StagedModel
    mel, stft : np.ndarray [shape=(n, S, S, 3)] or None
    bands, chunks : int
        K frequency bands (10) and K time chunks (10).
    fill : {"mean", "black"} or float
    axes : ImageAxes, optional
        Gives the Hz and ms boundaries (NaN without).
    segment_ids : np.ndarray [shape=(n,)], optional
        Labels of the rows (default 0..n-1).
    batch_size : int, optional

    Returns
    -------
    table : pd.DataFrame
        Columns :data:`OCCLUSION_COLUMNS`; one row per segment × branch × region.
    """
    runner = runner_for(model, batch_size=batch_size)
    n = check_pair(mel, stft, runner.branches)
    ids = np.arange(n) if segment_ids is None else np.asarray(segment_ids)
    if ids.shape != (n,):
        raise ExplainError(f"segment_ids of shape {ids.shape}; expected ({n},)")
    settings = OcclusionSettings(bands, chunks, fill)
    prob, occluded = occlusion_probabilities(runner, mel, stft, settings)
    regions = region_table(
        int(np.shape(mel if mel is not None else stft)[1]), bands=bands, chunks=chunks, axes=axes
    )
    frames = []
    for branch in runner.branches:
        own = regions[regions["branch"] == branch].reset_index(drop=True)
        k = own.shape[0]
        block = own.loc[np.tile(np.arange(k), n)].reset_index(drop=True)
        block.insert(0, "segment_id", np.repeat(ids, k))
        block["prob"] = np.repeat(prob, k)
        block["occluded_prob"] = occluded[branch].reshape(-1)
        block["delta"] = block["prob"] - block["occluded_prob"]
        frames.append(block)
    return pd.concat(frames, ignore_index=True)[list(OCCLUSION_COLUMNS)]


def aggregate_occlusion(table: pd.DataFrame, *, scope: str = "") -> pd.DataFrame:
    """Mean, standard deviation and count of Δprob per branch, axis and region.

    Parameters
    ----------
    table : pd.DataFrame
        Rows of :func:`occlusion_table` for the segments in scope (one segment, a
        patient's segments, a confusion cell, a fold).
    scope : str
        Label stored in a ``scope`` column (e.g. "fold 1", "P07", "FN").

    Returns
    -------
    summary : pd.DataFrame
        Columns ``scope, branch, axis, region, low_hz, high_hz, start_ms, end_ms,
        signal_fraction, mean_delta, std_delta, n_segments, padding, rank``: the region
        with the largest ``mean_delta`` of each branch and axis has ``rank`` 1; time
        chunks that are mostly padding (``padding``, signal_fraction < 0.5) rank last.
    """
    if table.empty:
        raise ExplainError("no occlusion rows to aggregate (empty scope)")
    keys = ["branch", "axis", "region"]
    bounds = table.groupby(keys, sort=True)[
        ["low_hz", "high_hz", "start_ms", "end_ms", "signal_fraction"]
    ].first()
    stats = table.groupby(keys, sort=True)["delta"].agg(
        mean_delta="mean", std_delta="std", n_segments="count"
    )
    summary = bounds.join(stats).reset_index()
    summary["std_delta"] = summary["std_delta"].fillna(0.0)
    # Chunks that are mostly padding (repeated last frame) are ranked after every real one:
    # a "top region" is never a place where there is no signal.
    summary["padding"] = summary["signal_fraction"].fillna(1.0) < 0.5
    order = summary.assign(_key=np.where(summary["padding"], -np.inf, summary["mean_delta"]))
    summary["rank"] = (
        order.groupby(["branch", "axis"])["_key"].rank(ascending=False, method="first").astype(int)
    )
    summary.insert(0, "scope", scope)
    return summary


def occlusion_maps(
    prob: np.ndarray, occluded: np.ndarray, *, size: int, bands: int, chunks: int
) -> np.ndarray:
    """Separable map of one branch: each pixel gets its band's Δprob plus its chunk's Δprob.

    Parameters
    ----------
    prob : np.ndarray [shape=(n,)]
    occluded : np.ndarray [shape=(n, bands + chunks)]
    size : int

    Returns
    -------
    raw : np.ndarray [shape=(n, size, size), dtype=float32]
    """
    delta = prob[:, None] - occluded
    row = np.zeros((prob.shape[0], size), dtype=np.float32)
    col = np.zeros((prob.shape[0], size), dtype=np.float32)
    for i, (start, stop) in enumerate(band_rows(size, bands)):
        row[:, start:stop] = delta[:, i : i + 1]
    for i, (start, stop) in enumerate(chunk_columns(size, chunks)):
        col[:, start:stop] = delta[:, bands + i : bands + i + 1]
    return row[:, :, None] + col[:, None, :]


class Occlusion(Explainer):
    """Band/chunk occlusion as a map (for side-by-side views and faithfulness checks).

    The raw map is :func:`occlusion_maps` (Δprob in probability units, signed); the
    heatmap its positive part divided by the maximum. Use :func:`occlusion_table` for
    the per-region numbers. ``target`` 0 flips the sign (evidence for "well").
    """

    name: ClassVar[str] = "occlusion"
    #: Δprob this small is the float32 rounding of two head calls, not evidence.
    noise_floor: ClassVar[float] = 1e-6

    def __init__(
        self,
        *,
        bands: int = OcclusionSettings.bands,
        chunks: int = OcclusionSettings.chunks,
        fill: Fill = OcclusionSettings.fill,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = OcclusionSettings(int(bands), int(chunks), fill)

    def params(self) -> dict[str, Any]:
        return {**super().params(), **self.settings.params()}

    def context(self, runner: StagedRunner, mel: np.ndarray | None, stft: np.ndarray | None) -> PairContext:
        check_pair(mel, stft, runner.branches)
        prob, occluded = occlusion_probabilities(runner, mel, stft, self.settings)
        images = {b: np.asarray({"mel": mel, "stft": stft}[b]) for b in runner.branches}
        # The occluded probabilities stand in for feature maps: they are all attribute() needs.
        return PairContext(images=images, maps=occluded, grads=None, prob=prob, target=self.target)

    def attribute(self, runner: StagedRunner, context: PairContext, branch: str) -> np.ndarray:
        raw = occlusion_maps(
            context.prob,
            context.maps[branch],
            size=context.size,
            bands=self.settings.bands,
            chunks=self.settings.chunks,
        )
        return raw if self.target == 1 else -raw
