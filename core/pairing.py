"""Which cohort a run belongs to: the one decision every page makes before showing a run beside a cohort.

A run's manifest carries its cohort's fingerprint (``data.fingerprint``: a hash of every
usable recording's bytes and label, :meth:`core.cohort.model.Cohort.fingerprint`). A page
may only put a run's probabilities beside a cohort's facts when the fingerprints agree;
matching pseudonyms is not enough (P01 of one cohort is not P01 of another).

The module also says whether a cohort, or the cohort a run was trained on, is synthetic
(the built-in demo cohort writes ``demo_truth.json`` into its folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.cohort.classes import class_names
from core.demo import TRUTH_FILE

if TYPE_CHECKING:
    from core.cohort.model import Cohort
    from core.run import Run

#: The words of the badge shown wherever a synthetic cohort or a run trained on one appears.
SYNTHETIC_BADGE = "synthetic data"


def is_synthetic_cohort(root: str | Path | None) -> bool:
    """True when the cohort folder is the generated demo cohort (it holds the demo's answer key)."""
    return root is not None and (Path(root) / TRUTH_FILE).is_file()


def run_is_synthetic(run: Any) -> bool:
    """True when the run was trained on a synthetic cohort.

    Parameters
    ----------
    run : Run or dict
        A :class:`core.run.Run` or its manifest.
    """
    manifest = getattr(run, "manifest", run)
    data = manifest.get("data", {}) if isinstance(manifest, dict) else {}
    if "synthetic" in data:
        return bool(data["synthetic"])
    return is_synthetic_cohort(data.get("cohort_dir"))


@dataclass(frozen=True)
class Pairing:
    """Whether a run may be shown beside a cohort.

    Attributes
    ----------
    ok : bool
        True when the cohort is the one the run was trained on (same fingerprint), or the
        run predates fingerprints and the caller accepted that.
    message : str
        Empty when ``ok``; else why not and which cohort the run needs, for the top of the page.
    needed : str
        The cohort the run needs, in words (:func:`needed_cohort`).
    """

    ok: bool
    message: str
    needed: str


def pair_run(run: Run, cohort: Cohort) -> Pairing:
    """Decide whether ``run`` may be shown beside ``cohort`` (compares fingerprints, never pseudonyms).

    Parameters
    ----------
    run : Run
    cohort : Cohort

    Returns
    -------
    Pairing
    """
    needed = needed_cohort(run)
    expected = run.info.fingerprint
    if not expected:
        message = (
            f"Run {run.path.name} does not record which cohort it was trained on (no fingerprint), "
            "so its patients cannot be matched to the chosen cohort safely. Retrain it on this cohort."
        )
        return Pairing(ok=False, message=message, needed=needed)
    actual = cohort.fingerprint()
    if actual == expected:
        return Pairing(ok=True, message="", needed=needed)
    same_folder = str(Path(cohort.root).resolve()) == run.info.data.get("cohort_dir")
    why = (
        "its recordings or labels changed since the run was trained"
        if same_folder
        else "it is a different cohort"
    )
    message = (
        f"Run {run.path.name} was trained on {needed}. The cohort chosen in the sidebar "
        f"({Path(cohort.root).name}, fingerprint {actual}) is not that cohort: {why}. Its patients' facts "
        "cannot be shown beside this run's probabilities. Choose the run's cohort in the sidebar, "
        "or a run trained on this cohort."
    )
    return Pairing(ok=False, message=message, needed=needed)


def needed_cohort(run: Run) -> str:
    """Plain words naming the cohort a run was trained on (folder, size, classes, fingerprint)."""
    data = run.info.data
    folder = data.get("cohort_dir") or "an unrecorded folder"
    names = class_names(run)
    kind = "the synthetic demo cohort" if run_is_synthetic(run) else "the cohort"
    return (
        f"{kind} in {folder} ({data.get('n_patients', '?')} patients, {names[0]} / {names[1]}; "
        f"fingerprint {data.get('fingerprint', '?')})"
    )


__all__ = [
    "SYNTHETIC_BADGE",
    "Pairing",
    "is_synthetic_cohort",
    "needed_cohort",
    "pair_run",
    "run_is_synthetic",
]
