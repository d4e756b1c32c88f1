"""The run's headline statistics, each labelled with what it is.

Three different quantities describe how well a run's CNN separates the classes, and
they must not be shown under each other's names:

- **Pooled AUROC** — the AUROC of every test prediction of every fold pooled together;
  its 95 % interval resamples patients with the fold models held fixed (it does not
  include the variability of training).
- **Mean over folds ± SD** — the study's number: AUROC per fold, then mean and
  population SD (ddof=0) over folds.
- **Range over repeated splits** — with repeated cross-validation, the lowest and
  highest of the repeats' mean AUROC: split variability only, not a confidence interval.

Folds with few test patients (:data:`core.results.SMALL_FOLD` or fewer) are flagged:
with 4 patients an AUROC can only be 0 %, 25 %, 50 %, 75 % or 100 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.folds import FoldKey
from core.formatting import mean_sd, nan_to_none
from core.metrics import auroc
from core.results import SMALL_FOLD
from core.run import Run


@dataclass(frozen=True)
class Statistic:
    """One number for people: its label, its text and what it is.

    Attributes
    ----------
    label : str
    value : str
        Formatted (e.g. "0.812" or "0.701 – 0.905").
    help : str
        What the number is and what it is not.
    """

    label: str
    value: str
    help: str


def pooled_auroc(run: Run) -> float | None:
    """AUROC of the pooled patient-level test predictions of every fold (None without both classes)."""
    table = run.patient_predictions
    if table.empty:
        return None
    test = table[table["part"] == "test"]
    return nan_to_none(auroc(test["label"].to_numpy(dtype=int), test["prob"].to_numpy(dtype=float)))


def headline(run: Run) -> list[Statistic]:
    """Patient-level AUROC statistics of a run, each with its own label.

    Returns
    -------
    stats : list of Statistic
        Pooled AUROC, its bootstrap interval (when the run stored one), mean ± SD over
        folds, and the range over repeated splits (with repeats > 1).
    """
    summary = run.summary
    out = []
    pooled = summary.get("patient_auroc_pooled")
    pooled = pooled if pooled is not None else pooled_auroc(run)
    out.append(
        Statistic(
            "Pooled patient AUROC (all test folds)",
            "n/a" if pooled is None else f"{pooled:.3f}",
            "AUROC of every fold's test patients pooled into one ROC.",
        )
    )
    ci = summary.get("patient_auroc_ci_bootstrap") or [None, None]
    if ci[0] is not None:
        out.append(
            Statistic(
                "95 % CI of the pooled AUROC (bootstrap)",
                f"{ci[0]:.3f} – {ci[1]:.3f}",
                "Patients resampled 1000 times with the fold models held fixed: the uncertainty from which "
                "patients were tested, not from training. It belongs to the pooled AUROC, not to the mean "
                "over folds.",
            )
        )
    mean, sd = summary.get("patient_auroc_mean"), summary.get("patient_auroc_std")
    if mean is not None:
        n = summary.get("folds_done")
        out.append(
            Statistic(
                "Patient AUROC, mean ± SD over folds",
                mean_sd(mean, sd),
                f"The study's number: AUROC of each of {n} folds, then their mean and population SD "
                "(ddof=0).",
            )
        )
    spread = summary.get("patient_auroc_repeat_range") or [None, None]
    if spread[0] is not None:
        out.append(
            Statistic(
                "Range over repeated splits",
                f"{spread[0]:.3f} – {spread[1]:.3f}",
                "Lowest and highest mean-over-folds AUROC across the repeated cross-validations: how much "
                "the result moves with the split alone. Not a confidence interval.",
            )
        )
    return out


def small_folds(run: Run, *, level: str = "patient", limit: int = SMALL_FOLD) -> pd.DataFrame:
    """Test folds with at most ``limit`` samples at a level (AUROC of 0 % or 100 % means little there).

    Returns
    -------
    table : pd.DataFrame
        ``fold`` (people's name), ``n`` (test patients or segments), ``auroc``; empty when none.
    """
    folds = run.folds
    if folds.empty or "n" not in folds.columns:
        return pd.DataFrame(columns=["fold", "n", "auroc"])
    test = folds[(folds["level"] == level) & (folds["part"] == "test")].sort_values(["repeat", "fold"])
    repeats = int(folds["repeat"].nunique())
    few = test[test["n"] <= limit]
    return pd.DataFrame(
        {
            "fold": [
                FoldKey(int(r), int(f)).label(repeats=repeats)
                for r, f in zip(few["repeat"], few["fold"], strict=True)
            ],
            "n": few["n"].astype(int).to_numpy(),
            "auroc": few["auroc"].astype(float).to_numpy(),
        }
    )


def small_fold_warning(run: Run, *, level: str = "patient") -> str | None:
    """One sentence naming the small folds, or None."""
    few = small_folds(run, level=level)
    if few.empty:
        return None
    unit = "test patients" if level == "patient" else "test segments"
    parts = [f"{r.fold} ({int(r.n)} {unit}, AUROC {r.auroc:.0%})" for r in few.itertuples()]
    return (
        f"Small folds: {', '.join(parts)}. With {SMALL_FOLD} or fewer {unit} a fold's AUROC can only "
        "take a few values (0 %, 50 %, 100 % …): read it as a count, not a rate; the pooled AUROC is "
        "steadier."
    )


def comparator_rule(info: dict) -> str:
    """How a baseline comparison chose the acoustic model the CNN is compared with.

    ``info`` is the comparison's summary: ``comparator`` "inner" (chosen per fold by
    inner cross-validation) or a model name fixed in advance; comparisons saved
    before that choice existed picked the model with the best test AUROC.
    """
    comparator = info.get("comparator")
    if comparator == "inner":
        return "comparator chosen by inner CV on each fold's training patients"
    if comparator:
        return f"comparator fixed in advance ({comparator})"
    return (
        "comparator picked by its test AUROC (an optimistic choice made by older versions; "
        "rerun the baseline for one chosen by inner CV)"
    )
