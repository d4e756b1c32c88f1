"""Which map to believe: deletion/insertion curves and the model-randomisation check.

Deletion / insertion (Petsiuk et al. 2018, RISE), per segment and branch, the other
branch intact: pixels are ordered by the map's importance (ties broken at random);
deletion replaces the first f of them by ``fill`` for f = 0, 1/steps, ..., 1 and tracks
the target probability (probability of "poor" for target 1, of "well" for target 0);
insertion starts from an all-``fill`` image and restores them in the same order. The
area under each curve (trapezoid over f in [0, 1]) is compared with the same curve
under ``random_orders`` random pixel orders: a faithful map has a deletion AUC below
random (``deletion_gain = random - map > 0``) and an insertion AUC above
(``insertion_gain = map - random > 0``).

Model randomisation (Adebayo et al. 2018): the model's trainable (tail and head)
weights are permuted entry by entry within each weight tensor (keeping each tensor's
distribution and, for BatchNorm statistics, their sign), the maps recomputed, and the
Spearman rank correlation between trained and randomised heatmaps reported. A map
that barely changes (high correlation) does not depend on what the model learned.
The model must offer ``get_trainable_state()`` / ``set_trainable_state(state)``
(as :class:`core.models.DualModel` does). The permuted weights go into a copy of the
model (:func:`model_copy`), never into the model passed in: the dashboard shares one
model object between sessions, and a Grad-CAM computed meanwhile in another session
must see the trained weights.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from core.errors import ExplainError
from core.explain.base import Explainer
from core.explain.occlusion import Fill, OcclusionSettings, fill_values
from core.explain.staged import StagedModel, StagedRunner, check_pair, check_target, runner_for

#: Columns of :func:`deletion_insertion`.
FAITHFULNESS_COLUMNS: tuple[str, ...] = (
    "segment_id",
    "branch",
    "deletion_auc",
    "deletion_auc_random",
    "deletion_gain",
    "insertion_auc",
    "insertion_auc_random",
    "insertion_gain",
)

#: Columns of :func:`randomisation_check`.
RANDOMISATION_COLUMNS: tuple[str, ...] = ("segment_id", "branch", "method", "spearman", "differs")


def pixel_order(heatmap: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rank of each pixel, 0 = most important; ties broken at random.

    Parameters
    ----------
    heatmap : np.ndarray [shape=(S, S)]

    Returns
    -------
    rank : np.ndarray [shape=(S * S,), dtype=int]
    """
    flat = heatmap.reshape(-1)
    order = np.lexsort((rng.random(flat.size), -flat))
    rank = np.empty(flat.size, dtype=np.int64)
    rank[order] = np.arange(flat.size)
    return rank


def curve_images(
    image: np.ndarray, rank: np.ndarray, *, steps: int, fill: float
) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion images of one image for one pixel order.

    Parameters
    ----------
    image : np.ndarray [shape=(S, S, 3)]
    rank : np.ndarray [shape=(S * S,)]
    steps : int
    fill : float

    Returns
    -------
    deletion, insertion : np.ndarray [shape=(steps + 1, S, S, 3)]
        uint8 for a uint8 image (``fill`` rounded), else float32. Row t has the
        ``round(t / steps * S * S)`` most important pixels removed (deletion) or restored (insertion).
    """
    size = image.shape[0]
    counts = np.rint(np.linspace(0, size * size, steps + 1)).astype(np.int64)
    removed = (rank[None, :] < counts[:, None]).reshape(steps + 1, size, size, 1)
    image = np.asarray(image)
    # uint8 images stay uint8 (a quarter of the memory traffic), the fill rounded to a grey level.
    level = np.uint8(np.clip(np.rint(fill), 0, 255)) if image.dtype == np.uint8 else np.float32(fill)
    image = image[None] if image.dtype == np.uint8 else image.astype(np.float32)[None]
    return np.where(removed, level, image), np.where(removed, image, level)


def deletion_insertion(
    model: StagedModel | StagedRunner,
    mel: np.ndarray | None,
    stft: np.ndarray | None,
    heatmaps: dict[str, np.ndarray],
    *,
    steps: int = 20,
    fill: Fill = OcclusionSettings.fill,
    random_orders: int = 2,
    target: int = 1,
    seed: int = 0,
    segment_ids: np.ndarray | None = None,
    batch_size: int | None = None,
    return_curves: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    """Deletion and insertion AUCs of maps against random pixel orders.

    Parameters
    ----------
    model : StagedModel
    mel, stft : np.ndarray [shape=(n, S, S, 3)] or None
    heatmaps : dict of str to np.ndarray [shape=(n, S, S)]
        Importance per pixel, per branch to test (e.g. ``{b: e.heatmap}`` of an explanation).
    steps : int
        Points per curve minus one (20).
    fill : {"mean", "black"} or float
        Grey level of removed pixels (see :mod:`core.explain.occlusion`).
    random_orders : int
        Random pixel orders averaged for the reference curve (2).
    target : {0, 1}
        The class whose probability is tracked.
    seed : int
    segment_ids : np.ndarray [shape=(n,)], optional
    batch_size : int, optional
    return_curves : bool
        Also return the curves.

    Returns
    -------
    table : pd.DataFrame
        Columns :data:`FAITHFULNESS_COLUMNS`, one row per segment × branch.
    curves : dict, only with ``return_curves``
        Per branch: ``fraction`` [shape=(steps + 1,)], ``deletion``, ``insertion``,
        ``deletion_random``, ``insertion_random`` [shape=(n, steps + 1)].
    """
    target = check_target(target)
    if steps < 1 or random_orders < 1:
        raise ExplainError(f"steps={steps}, random_orders={random_orders}; expected both >= 1")
    runner = runner_for(model, batch_size=batch_size)
    n = check_pair(mel, stft, runner.branches)
    ids = np.arange(n) if segment_ids is None else np.asarray(segment_ids)
    arrays = {"mel": mel, "stft": stft}
    intact = runner.pair_maps(mel, stft)
    rng = np.random.default_rng(seed)
    fraction = np.linspace(0.0, 1.0, steps + 1)
    rows, curves = [], {}
    for branch, heatmap in heatmaps.items():
        if branch not in runner.branches:
            raise ExplainError(f"heatmap for branch {branch!r}; this model has {runner.branches}")
        heatmap = np.asarray(heatmap)
        size = int(np.shape(arrays[branch])[1])
        if heatmap.shape != (n, size, size):
            raise ExplainError(f"{branch} heatmaps of shape {heatmap.shape}; expected ({n}, {size}, {size})")
        levels = fill_values(arrays[branch], fill)
        got = {
            k: np.zeros((n, steps + 1))
            for k in ("deletion", "insertion", "deletion_random", "insertion_random")
        }
        for i in range(n):
            ranks = [pixel_order(heatmap[i], rng)] + [
                rng.permutation(size * size) for _ in range(random_orders)
            ]
            images = [curve_images(arrays[branch][i], r, steps=steps, fill=levels[i]) for r in ranks]
            batch = np.concatenate([np.concatenate(pair) for pair in images])
            owner = np.full(batch.shape[0], i)
            prob = runner.branch_variants(batch, intact, owner, branch=branch)
            score = (prob if target == 1 else 1.0 - prob).reshape(len(ranks), 2, steps + 1)
            got["deletion"][i], got["insertion"][i] = score[0, 0], score[0, 1]
            got["deletion_random"][i] = score[1:, 0].mean(axis=0)
            got["insertion_random"][i] = score[1:, 1].mean(axis=0)
        auc = {k: np.trapezoid(v, fraction, axis=1) for k, v in got.items()}
        rows.append(
            pd.DataFrame(
                {
                    "segment_id": ids,
                    "branch": branch,
                    "deletion_auc": auc["deletion"],
                    "deletion_auc_random": auc["deletion_random"],
                    "deletion_gain": auc["deletion_random"] - auc["deletion"],
                    "insertion_auc": auc["insertion"],
                    "insertion_auc_random": auc["insertion_random"],
                    "insertion_gain": auc["insertion"] - auc["insertion_random"],
                }
            )
        )
        curves[branch] = {"fraction": fraction, **got}
    table = pd.concat(rows, ignore_index=True)[list(FAITHFULNESS_COLUMNS)]
    return (table, curves) if return_curves else table


def permuted_state(state: list[np.ndarray], *, seed: int = 0) -> list[np.ndarray]:
    """Each weight tensor with its entries randomly permuted (shape and values kept).

    Parameters
    ----------
    state : list of np.ndarray
    seed : int

    Returns
    -------
    permuted : list of np.ndarray
    """
    rng = np.random.default_rng(seed)
    return [
        rng.permutation(np.asarray(w).reshape(-1)).reshape(np.shape(w)).astype(np.asarray(w).dtype)
        for w in state
    ]


def model_copy(model: StagedModel) -> Any:
    """An independent copy of a staged model (same weights, own variables).

    A :class:`core.models.dual.DualModel` is cloned with Keras (layer sharing kept,
    weights copied); any other model (e.g. a test double holding ``tf.Variable``) is
    deep-copied.
    """
    from core.models.dual import DualModel

    if isinstance(model, DualModel):
        import keras

        clone = keras.models.clone_model(model.keras_model)
        clone.set_weights(model.keras_model.get_weights())
        return DualModel(keras_model=clone, info=model.info)
    return copy.deepcopy(model)


def randomisation_check(
    model: StagedModel,
    mel: np.ndarray | None,
    stft: np.ndarray | None,
    explainer: Explainer,
    *,
    seed: int = 0,
    max_spearman: float = 0.5,
    segment_ids: np.ndarray | None = None,
    trained: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Rank correlation between a method's heatmaps from the trained and a randomised model.

    Parameters
    ----------
    model : StagedModel
        With ``get_trainable_state`` / ``set_trainable_state``.
    mel, stft : np.ndarray [shape=(n, S, S, 3)] or None
    explainer : Explainer
        The method to check, e.g. ``GradCam()``.
    seed : int
        Seed of the permutation.
    max_spearman : float
        ``differs`` is True where the correlation is below this (0.5).
    segment_ids : np.ndarray [shape=(n,)], optional
    trained : dict of str to BranchExplanation, optional
        The method's explanation of the trained model when already computed.

    Returns
    -------
    table : pd.DataFrame
        Columns :data:`RANDOMISATION_COLUMNS`, one row per segment × branch; NaN
        correlation (a constant map) counts as not differing.
    """
    getter = getattr(model, "get_trainable_state", None)
    setter = getattr(model, "set_trainable_state", None)
    if not callable(getter) or not callable(setter):
        raise ExplainError(
            f"model {type(model).__name__} has no get_trainable_state/set_trainable_state; "
            "the randomisation check needs them to permute and restore the tail and head weights"
        )
    trained = trained if trained is not None else explainer.explain(model, mel, stft)
    n = next(iter(trained.values())).heatmap.shape[0]
    ids = np.arange(n) if segment_ids is None else np.asarray(segment_ids)
    scrambled = model_copy(model)
    scrambled.set_trainable_state(permuted_state(getter(), seed=seed))
    randomised = explainer.explain(scrambled, mel, stft)
    rows = []
    for branch, expl in trained.items():
        for i in range(n):
            rho = _spearman(expl.heatmap[i], randomised[branch].heatmap[i])
            rows.append(
                {
                    "segment_id": ids[i],
                    "branch": branch,
                    "method": explainer.name,
                    "spearman": rho,
                    "differs": bool(np.isfinite(rho) and rho < max_spearman),
                }
            )
    return pd.DataFrame(rows, columns=list(RANDOMISATION_COLUMNS))


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1), b.reshape(-1)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def faithfulness_summary(
    deletion: pd.DataFrame, randomisation: pd.DataFrame | None = None, *, method: str = ""
) -> pd.DataFrame:
    """One row per branch: mean AUCs and gains, and the mean randomisation correlation.

    Parameters
    ----------
    deletion : pd.DataFrame
        Output of :func:`deletion_insertion`.
    randomisation : pd.DataFrame, optional
        Output of :func:`randomisation_check` for the same method.
    method : str

    Returns
    -------
    summary : pd.DataFrame
        Columns ``method, branch, n_segments, deletion_auc, deletion_auc_random,
        deletion_gain, insertion_auc, insertion_auc_random, insertion_gain,
        spearman_randomised, faithful`` (``faithful``: both gains positive and, when
        checked, a mean correlation below 0.5).
    """
    numbers = [c for c in FAITHFULNESS_COLUMNS if c not in ("segment_id", "branch")]
    summary = deletion.groupby("branch", sort=True)[numbers].mean()
    summary.insert(0, "n_segments", deletion.groupby("branch", sort=True).size())
    summary["spearman_randomised"] = np.nan
    if randomisation is not None and not randomisation.empty:
        summary["spearman_randomised"] = (
            randomisation.groupby("branch")["spearman"].mean().reindex(summary.index)
        )
    gains_ok = (summary["deletion_gain"] > 0) & (summary["insertion_gain"] > 0)
    sanity_ok = summary["spearman_randomised"].isna() | (summary["spearman_randomised"] < 0.5)
    summary["faithful"] = gains_ok & sanity_ok
    summary = summary.reset_index()
    summary.insert(0, "method", method)
    return summary


def explain_and_check(
    model: StagedModel,
    mel: np.ndarray | None,
    stft: np.ndarray | None,
    explainer: Explainer,
    **kwargs: Any,
) -> pd.DataFrame:
    """Deletion/insertion of one method's maps plus its randomisation check, summarised per branch."""
    explanation = explainer.explain(model, mel, stft)
    deletion = deletion_insertion(
        model, mel, stft, {b: e.heatmap for b, e in explanation.items()}, target=explainer.target, **kwargs
    )
    randomisation = None
    if callable(getattr(model, "get_trainable_state", None)):
        randomisation = randomisation_check(model, mel, stft, explainer, trained=explanation)
    return faithfulness_summary(deletion, randomisation, method=explainer.name)
