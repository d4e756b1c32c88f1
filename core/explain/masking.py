"""Branch masking: replace one branch's whole image by a baseline → Δprob (the study's table).

``delta_<branch> = p(intact) - p(<branch> replaced by the baseline)``: positive when the
branch pushed the probability of "poor" up (the study: larger positive Δprob = more
important branch; negative = masking it raises the prediction). Per fold the study
reports the means ``mel_branch_mean`` and ``stft_branch_mean``.

Baseline (``baseline``): "black" (an all-zero image, the default) or one image per
branch, typically the training mean image of that branch (:func:`mean_image` over the
fold's training segments). Each image's feature map is computed once; the baseline's
once per branch; only the head runs per combination.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import ExplainError
from core.explain.staged import BRANCHES, StagedModel, StagedRunner, check_pair, chunks, runner_for

#: Columns of :func:`branch_masking`.
MASKING_COLUMNS: tuple[str, ...] = (
    "segment_id",
    "prob",
    "prob_mel_masked",
    "prob_stft_masked",
    "delta_mel",
    "delta_stft",
)

Baseline = str | dict[str, np.ndarray]


def mean_image(images: np.ndarray, *, batch: int = 256) -> np.ndarray:
    """Pixel-wise mean of a set of images (e.g. one branch's training segments).

    Parameters
    ----------
    images : np.ndarray [shape=(n, S, S, 3)]

    Returns
    -------
    mean : np.ndarray [shape=(S, S, 3), dtype=float32]
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ExplainError(f"mean image of an array of shape {images.shape}; expected (n >= 1, S, S, 3)")
    total = np.zeros(images.shape[1:], dtype=np.float64)
    for part in chunks(images.shape[0], batch):
        total += images[part].sum(axis=0, dtype=np.float64)
    return (total / images.shape[0]).astype(np.float32)


def baseline_images(baseline: Baseline, branches: tuple[str, ...], size: int) -> dict[str, np.ndarray]:
    """One baseline image per branch [shape=(S, S, 3), float32]."""
    if isinstance(baseline, str):
        if baseline != "black":
            raise ExplainError(
                f"masking baseline={baseline!r}; expected 'black' or a dict of images per branch"
            )
        return {b: np.zeros((size, size, 3), dtype=np.float32) for b in branches}
    out = {}
    for b in branches:
        if b not in baseline:
            raise ExplainError(f"masking baseline has no image for the {b} branch; got {sorted(baseline)}")
        image = np.asarray(baseline[b], dtype=np.float32)
        if image.shape != (size, size, 3):
            raise ExplainError(f"{b} baseline image of shape {image.shape}; expected ({size}, {size}, 3)")
        out[b] = image
    return out


def branch_masking(
    model: StagedModel | StagedRunner,
    mel: np.ndarray | None,
    stft: np.ndarray | None,
    *,
    baseline: Baseline = "black",
    segment_ids: np.ndarray | None = None,
    batch_size: int | None = None,
) -> pd.DataFrame:
    """Δprob when each branch is replaced by its baseline, per segment.

    Parameters
    ----------
    model : StagedModel
    mel, stft : np.ndarray [shape=(n, S, S, 3)] or None
    baseline : "black" or dict of str to np.ndarray [shape=(S, S, 3)]
    segment_ids : np.ndarray [shape=(n,)], optional
    batch_size : int, optional

    Returns
    -------
    table : pd.DataFrame
        Columns :data:`MASKING_COLUMNS`; a branch the model lacks has NaN columns.
    """
    runner = runner_for(model, batch_size=batch_size)
    n = check_pair(mel, stft, runner.branches)
    ids = np.arange(n) if segment_ids is None else np.asarray(segment_ids)
    if ids.shape != (n,):
        raise ExplainError(f"segment_ids of shape {ids.shape}; expected ({n},)")
    size = int(np.shape(mel if mel is not None else stft)[1])
    base = baseline_images(baseline, runner.branches, size)
    base_maps = runner.feature_maps(np.stack([base[b] for b in runner.branches]))
    table = pd.DataFrame({"segment_id": ids})
    probs, masked = [], {b: [] for b in runner.branches}
    step = max(1, runner.batch_size // len(runner.branches))
    for part in chunks(n, step):
        sub = {"mel": None if mel is None else mel[part], "stft": None if stft is None else stft[part]}
        maps = runner.pair_maps(sub["mel"], sub["stft"])
        probs.append(runner.head(maps))
        m = part.stop - part.start
        for i, b in enumerate(runner.branches):
            swapped = dict(maps)
            swapped[b] = np.repeat(base_maps[i : i + 1], m, axis=0)
            masked[b].append(runner.head(swapped))
    table["prob"] = np.concatenate(probs)
    for b in BRANCHES:
        if b in runner.branches:
            table[f"prob_{b}_masked"] = np.concatenate(masked[b])
            table[f"delta_{b}"] = table["prob"] - table[f"prob_{b}_masked"]
        else:
            table[f"prob_{b}_masked"] = np.nan
            table[f"delta_{b}"] = np.nan
    return table[list(MASKING_COLUMNS)]


def masking_summary(table: pd.DataFrame, *, fold: int | None = None) -> pd.DataFrame:
    """The study's per-fold table, plus the numbers that do not cancel across classes.

    The study's ``<branch>_branch_mean`` is the signed mean Δprob. Masking a branch
    lowers P(1) for class-1 segments and raises it for class-0 ones, so signed means
    cancel across classes and say little about which branch matters. Beside them:
    ``<branch>_branch_mean_abs`` (mean |Δprob|: how much the branch moves the
    prediction, either way) and ``<branch>_mean_class0`` / ``_class1`` (signed mean over
    the segments whose true label is 0 / 1, when the table has a ``label`` column).
    ``dominant_branch`` is the branch with the larger mean |Δprob|.

    Parameters
    ----------
    table : pd.DataFrame
        Output of :func:`branch_masking` for one fold's segments (optionally with ``label``).
    fold : int, optional

    Returns
    -------
    summary : pd.DataFrame
        One row: ``fold, <b>_branch_mean, <b>_branch_std, <b>_branch_mean_abs,
        <b>_mean_class0, <b>_mean_class1, n_segments, n_class0, n_class1, dominant_branch``
        for b in mel, stft.
    """
    if table.empty:
        raise ExplainError("no masking rows to summarise (empty fold)")
    row: dict[str, object] = {"fold": fold}
    labels = table["label"].astype(int) if "label" in table else None
    for b in BRANCHES:
        delta = table[f"delta_{b}"]
        row[f"{b}_branch_mean"] = float(delta.mean())
        row[f"{b}_branch_std"] = float(delta.std(ddof=1)) if table.shape[0] > 1 else 0.0
        row[f"{b}_branch_mean_abs"] = float(delta.abs().mean())
        for c in (0, 1):
            part = delta[labels == c] if labels is not None else delta.iloc[:0]
            row[f"{b}_mean_class{c}"] = float(part.mean()) if part.size else float("nan")
    row["n_segments"] = int(table.shape[0])
    for c in (0, 1):
        row[f"n_class{c}"] = int((labels == c).sum()) if labels is not None else 0
    spread = {b: row[f"{b}_branch_mean_abs"] for b in BRANCHES if not np.isnan(row[f"{b}_branch_mean_abs"])}
    row["dominant_branch"] = max(spread, key=spread.get) if spread else None
    return pd.DataFrame([row])
