"""The branch-masking table people read: every fold of the run, in a fixed order, labelled.

:func:`core.explain.cached_masking_table` holds the numbers of the folds whose masking
is cached. :func:`masking_overview` lists every finished fold of the run in (repeat,
fold) order — computed or not, never "whichever someone opened before" — with 1-based
fold names, the class names of the run's cohort, and the sign convention in the
column titles: Δp = P(class 1) with the branch intact − with it masked.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.cohort.classes import ClassNames, class_names, probability_label
from core.folds import FoldKey, repeats_of

BRANCH_TITLES: dict[str, str] = {"mel": "mel", "stft": "STFT"}


def masking_overview(
    run: str | Path,
    *,
    baseline: str = "black",
    names: ClassNames | None = None,
    root: str | Path | None = None,
) -> pd.DataFrame:
    """One row per finished fold of a run: mean |Δp|, per-class and signed means per branch.

    Parameters
    ----------
    run : str or Path
    baseline : {"black", "mean"}
    names : (str, str), optional
        Class names (default: the run's own).
    root : Path, optional

    Returns
    -------
    table : pd.DataFrame
        Columns ``Fold, Computed``, then per branch ``<b> mean |Δp|``, ``<b> mean Δp
        (<class 0>)``, ``<b> mean Δp (<class 1>)``, ``<b> mean Δp (all; study)``, then
        ``Larger effect`` and ``Segments``; rows in (repeat, fold) order, numbers empty
        where a fold's masking is not computed yet.
    """
    from core import runs
    from core.explain.fold import cached_masking_table, fold_keys

    run_dir = runs.find_run(run, root=root)
    names = names or class_names(run_dir)
    keys = fold_keys(run_dir)
    repeats = repeats_of(keys)
    cached = cached_masking_table(run_dir, baseline=baseline, root=root)
    by_key = cached.set_index("fold_key") if not cached.empty else pd.DataFrame()
    p = probability_label(names)
    rows = []
    for key in keys:
        row: dict[str, object] = {
            "Fold": FoldKey.parse(key).label(repeats=repeats),
            "Computed": key in by_key.index,
        }
        stored = by_key.loc[key] if key in by_key.index else None
        for b, title in BRANCH_TITLES.items():

            def value(column: str, stored: pd.Series | None = stored) -> float:
                return float(stored[column]) if stored is not None and column in stored else float("nan")

            row[f"{title} mean |Δp|"] = value(f"{b}_branch_mean_abs")
            for c in (0, 1):
                row[f"{title} mean Δp ({names[c]})"] = value(f"{b}_mean_class{c}")
            row[f"{title} mean Δp (all; study)"] = value(f"{b}_branch_mean")
        dominant = stored.get("dominant_branch") if stored is not None else None
        row["Larger effect"] = (
            BRANCH_TITLES.get(str(dominant), "")
            if stored is not None and "mel_branch_mean_abs" in stored
            else ""
        )
        row["Segments"] = int(stored["n_segments"]) if stored is not None else pd.NA
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["caption"] = (
        f"Δp = {p} with the branch intact − with the branch's image masked "
        f"({'black' if baseline == 'black' else 'training mean'}); "
        f"positive: the branch pushed towards {names[1]}. Mean |Δp| is how much a branch moves the "
        "prediction either way (signed means of the two classes cancel, so the study's column alone "
        "cannot say which branch matters). "
        "Larger effect = the branch with the larger mean |Δp|."
    )
    return table
