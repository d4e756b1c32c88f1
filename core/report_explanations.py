"""The "Key explanations" slide of the lab-meeting report, from cached explanations only.

Branch masking per fold and occlusion aggregated over the test segments, read from the
run's explain store (``python -m core explain`` fills it); nothing heavy is computed here.
The slide shows a set only when it covers every finished fold with the fixed settings
below, so it depends on the run alone, never on which folds someone opened on Explain.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.errors import CoreError
from core.explain.occlusion import OcclusionSettings
from core.explain.regions import region_words
from core.figures import occlusion_bands
from core.patient_words import fold_name
from core.run import Run

#: Branch names on the slides (their colours: :data:`core.figures.BRANCH_COLOURS`).
BRANCH_WORDS = {"mel": "Mel image", "stft": "STFT image"}
#: Occlusion settings read from the explain store (those of ``python -m core explain``).
OCCLUSION_SETTINGS: dict[str, Any] = OcclusionSettings().params()


def cached_occlusion(run: Run) -> pd.DataFrame:
    """Occlusion tables of the run's folds cached for the current model files, concatenated.

    Only entries made with :data:`OCCLUSION_SETTINGS` for each fold's current model
    file count; nothing is computed.

    Returns
    -------
    pd.DataFrame
        Rows of :func:`core.explain.occlusion_table` with a ``fold_key`` column; empty
        when none is cached.
    """
    from core.explain.fold import model_key
    from core.explain.store import ExplainStore

    store = ExplainStore(run.path)
    entries = store.entries()
    frames = []
    for entry in entries[entries["name"] == "occlusion"].itertuples():
        params = entry.params
        key = params.get("fold", "")
        if any(params.get(k) != v for k, v in OCCLUSION_SETTINGS.items()):
            continue
        try:
            current = model_key(run.path, key)
        except CoreError:
            continue
        if params.get("model") != current:
            continue
        table = store.load_table(int(entry.fold), "occlusion", params)
        if table is not None:
            frames.append(table.assign(fold_key=key))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def explanation_slide(run: Run) -> Any:
    """The "Key explanations" slide from the cached explanations of every finished fold (nothing computed)."""
    from core.explain import aggregate_occlusion, cached_masking_table
    from core.report import Slide, Table

    slide = Slide(title="Key explanations")
    # Only a set covering every finished fold is shown, so the slide depends on the run alone,
    # never on which folds someone happened to open on the Explain page.
    done = {key.key for key in run.fold_keys}
    masking = cached_masking_table(run.path)
    occlusion = cached_occlusion(run)
    if not masking.empty and set(masking["fold_key"]) != done:
        masking = pd.DataFrame()
    if not occlusion.empty and set(occlusion["fold_key"]) != done:
        occlusion = pd.DataFrame()
    hint = f"not computed for every fold yet: run `python -m core explain --run {run.path.name}`"
    repeats = run.repeats
    if masking.empty:
        slide.bullets.append(f"Branch masking: {hint}")
    else:
        columns = {
            "fold": "fold",
            "mel_branch_mean": "Mel: mean Δ P(poor)",
            "stft_branch_mean": "STFT: mean Δ P(poor)",
            "n_segments": "test segments",
        }
        masking = masking.assign(fold=[fold_name(k, repeats=repeats) for k in masking["fold_key"]])
        columns = {k: v for k, v in columns.items() if k in masking.columns}
        slide.bullets.append(
            "Branch masking: mean Δ P(poor) when one branch's image is replaced by black "
            f"(mel {masking['mel_branch_mean'].mean():+.3f}, STFT "
            f"{masking['stft_branch_mean'].mean():+.3f} over "
            f"{len(masking)} fold(s)); positive = the branch pushed towards poor"
        )
        slide.tables.append(
            Table(
                "Branch masking per fold (the study's table)",
                masking[list(columns)].rename(columns=columns).round(3),
            )
        )
    if occlusion.empty:
        slide.bullets.append(f"Occlusion of frequency bands and time chunks: {hint}")
    else:
        folds = occlusion["fold_key"].nunique()
        summary = aggregate_occlusion(occlusion, scope="all cached folds")
        top = summary[summary["rank"] <= 3].sort_values(["branch", "axis", "rank"])
        top = top.assign(where=[region_words(r) for r in top.itertuples()])
        slide.bullets.append(
            f"Occlusion over the test segments of {folds} fold(s): regions whose hiding lowers P(poor) most"
        )
        top = top.assign(branch=top["branch"].map(BRANCH_WORDS).fillna(top["branch"]))
        shown = top[["branch", "axis", "rank", "where", "mean_delta", "std_delta", "n_segments"]].round(3)
        shown = shown.rename(
            columns={"mean_delta": "mean Δ P(poor)", "std_delta": "SD", "n_segments": "segments"}
        )
        slide.tables.append(Table("Top 3 regions per branch and axis (mean Δ P(poor) when hidden)", shown))
        where = summary.assign(where=[region_words(r) for r in summary.itertuples()])
        slide.figures.append(occlusion_bands(where, branch_names=BRANCH_WORDS, y_title="Δ P(poor)"))
    return slide


__all__ = ["BRANCH_WORDS", "OCCLUSION_SETTINGS", "cached_occlusion", "explanation_slide"]
