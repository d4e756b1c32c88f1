"""One model per vowel, fused at patient level: the sweep's "per vowel" kind and its scoring.

A per-vowel sweep (:func:`per_vowel_settings`) trains, on the same patient folds, one
configuration per vowel (``preprocess.selection.vowels=[V]``) and one over all of them
together. Nothing in the run format changes: every member is an ordinary run with one
model per fold. :func:`fuse_runs` then averages, per repeat × fold × part, each patient's
probabilities over the vowel models that scored that patient (:func:`fuse_tables`: a
patient missing from a member is averaged over the vowels it has), and scores the fused
probabilities at patient level with the metric functions of :mod:`core.metrics`: the
threshold is the F1-best on the fold's fused validation patients, then applied to its test
patients. Only the validation and test parts are fused (train patients are the models' own).

Fold assignment: every member is drawn with ``split.patients="cohort"``
(:mod:`core.splits`): the folds are stratified over the cohort's labelled patients (same
seed scheme, inner validation drawn the same way), not over the patients with segments in
the run, so all members share one patient → fold map even where some patients lack a
vowel; such a patient simply has no rows in that vowel's run and is fused over the vowels
it has. A member whose fold would lack a class in its training or validation part, or
hold no test segment, for its vowel is refused before it trains (that member's run fails
with the reason; the other vowels still fuse). :func:`fuse_runs` still checks every
patient's part in every fold across the members and refuses (:class:`VowelFusionError`)
rather than mix a model's training patients into the fused validation or test part, as
it refuses runs of another cohort, split or fold plan (one-vowel runs drawn over their
own patients, as before this setting, share the map only when they hold the same patients).

This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.config import VOWELS, SplitConfig
from core.errors import ConfigError, RunError

#: Setting name of a per-vowel sweep's single-vowel configurations, e.g. ``vowel_I``.
MEMBER_PREFIX = "vowel_"
#: Setting name of its configuration over all the vowels together, e.g. ``vowels_AIUE``.
ALL_PREFIX = "vowels_"


def per_vowel_settings(vowels: str | list[str] | tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The sweep settings of a per-vowel sweep: one per vowel, then one over all of them.

    Parameters
    ----------
    vowels : str or sequence of str
        Vowels, e.g. ``"A,I,U,E"`` or ``["A", "I"]``; at least two, each one of A, I, U, E.

    Returns
    -------
    settings : dict
        ``{"vowel_A": {"preprocess.selection.vowels": ["A"], "split.patients": "cohort"}, ...,
        "vowels_AIUE": {...}}``: every member draws its folds over the cohort's patients.

    Raises
    ------
    ConfigError
        Fewer than two vowels, a repeated or unknown one.
    """
    items = [v.strip().upper() for v in vowels.split(",")] if isinstance(vowels, str) else list(vowels)
    items = [v for v in items if v]
    bad = [v for v in items if v not in VOWELS]
    if bad or len(items) < 2 or len(set(items)) != len(items):
        raise ConfigError(f"per-vowel sweep vowels={items}; expected two or more distinct of {VOWELS}")
    shared = {"split.patients": "cohort"}  # one patient -> fold map for every member
    settings = {f"{MEMBER_PREFIX}{v}": {"preprocess.selection.vowels": [v], **shared} for v in items}
    settings[f"{ALL_PREFIX}{''.join(items)}"] = {"preprocess.selection.vowels": items, **shared}
    return settings


#: Parts of a fold that are fused and scored (train patients are the models' own data).
FUSED_PARTS: tuple[str, ...] = ("val", "test")


class VowelFusionError(RunError):
    """Member runs cannot be fused: another cohort, split, fold plan or patient → fold map."""


@dataclass(frozen=True)
class Fusion:
    """Patient probabilities fused over vowel models, and their metrics per fold.

    Attributes
    ----------
    vowels : tuple of str
        The member runs' vowels, in the order given.
    patients : pd.DataFrame
        One row per (repeat, fold, part, patient) of the fused parts: ``repeat, fold, part,
        patient_id, label, prob`` (mean over the vowels that scored the patient), ``n_vowels``
        and ``vowels`` (e.g. "A+I+U").
    folds : pd.DataFrame
        One row per (repeat, fold, part) at patient level: ``repeat, fold, level``
        ("patient"), ``part`` ("val", "test"), :data:`core.metrics.METRIC_COLUMNS`, counts,
        ``n`` and ``threshold`` (F1-best on that fold's fused validation patients).
    """

    vowels: tuple[str, ...]
    patients: pd.DataFrame
    folds: pd.DataFrame


def fuse_tables(
    tables: dict[str, pd.DataFrame], *, threshold_steps: int = 201
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fuse per-vowel patient prediction tables; score the fusion per repeat × fold.

    Parameters
    ----------
    tables : dict of str to pd.DataFrame
        Vowel → its run's ``predictions_patients.csv`` (``repeat, fold, part, patient_id,
        label, prob``). Only the (repeat, fold) pairs every table holds are fused.
    threshold_steps : int
        Thresholds swept on each fold's fused validation patients (:func:`core.metrics.best_threshold`).

    Returns
    -------
    patients, folds : pd.DataFrame
        As :attr:`Fusion.patients` and :attr:`Fusion.folds`.

    Raises
    ------
    VowelFusionError
        A patient sits in two different parts of one fold in two members, or carries two labels.
    """
    from core.metrics import fold_metrics

    keys = ["repeat", "fold"]
    stacked = pd.concat(
        [
            t.assign(vowel=v)[[*keys, "part", "patient_id", "label", "prob", "vowel"]]
            for v, t in tables.items()
        ],
        ignore_index=True,
    )
    done = set.intersection(*(set(map(tuple, t[keys].drop_duplicates().to_numpy())) for t in tables.values()))
    stacked = stacked[[tuple(k) in done for k in stacked[keys].to_numpy()]]
    _check_patient_map(stacked)
    fused = stacked[stacked["part"].isin(FUSED_PARTS)].sort_values("vowel", key=_vowel_order(tables))
    patients = (
        fused.groupby([*keys, "part", "patient_id"], sort=True)
        .agg(
            label=("label", "first"),
            prob=("prob", "mean"),
            n_vowels=("vowel", "size"),
            vowels=("vowel", "+".join),
        )
        .reset_index()
    )
    rows = []
    for (repeat, fold), group in fused.groupby(keys, sort=True):
        metrics = fold_metrics(group, threshold_steps=threshold_steps, aggregation="mean")
        metrics = metrics[(metrics["level"] == "patient") & metrics["part"].isin(FUSED_PARTS)]
        rows.append(metrics.assign(repeat=repeat, fold=fold))
    columns = ["repeat", "fold", "level", "part"]
    folds = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)
    return patients, folds[columns + [c for c in folds.columns if c not in columns]].reset_index(drop=True)


def _vowel_order(tables: dict[str, pd.DataFrame]) -> Any:
    order = {v: i for i, v in enumerate(tables)}
    return lambda column: column.map(order)


def _check_patient_map(stacked: pd.DataFrame) -> None:
    """Refuse when members disagree on a patient's part in a fold, or on its label."""
    per_patient = stacked.groupby(["repeat", "fold", "patient_id"])
    parts, labels = per_patient["part"].nunique(), per_patient["label"].nunique()
    moved = parts[parts > 1]
    if len(moved):
        repeat, fold, _ = moved.index[0]
        raise VowelFusionError(
            f"cannot fuse: {moved.index.get_level_values('patient_id').nunique()} patient(s) sit in "
            f"different parts of the same fold in different vowel runs (first in repeat {repeat}, "
            f"fold {fold}); the runs do not share the patient folds (drawn over each run's own patients, "
            "a patient without one of the vowels changes that vowel run's folds; split.patients='cohort' "
            "shares them)"
        )
    if (labels > 1).any():
        raise VowelFusionError("cannot fuse: a patient carries different labels in different vowel runs")


def fuse_runs(runs: dict[str, str | Path], *, threshold_steps: int = 201) -> Fusion:
    """Fuse the patient predictions of one-vowel runs trained on the same patient folds.

    Parameters
    ----------
    runs : dict of str to path
        Vowel → run folder; at least two.
    threshold_steps : int

    Raises
    ------
    VowelFusionError
        Fewer than two runs; a run without patient predictions or whose config does not
        select exactly its vowel; runs of another cohort, split settings, fold plan, or
        with another patient → fold map.
    """
    from core.runs import read_manifest

    if len(runs) < 2:
        raise VowelFusionError(f"vowel fusion needs two or more runs; got {len(runs)}")
    manifests = {v: read_manifest(path) for v, path in runs.items()}
    for vowel, manifest in manifests.items():
        selected = manifest["config"]["preprocess"]["selection"]["vowels"]
        if list(selected) != [vowel]:
            raise VowelFusionError(
                f"run {manifest['run_id']} selects vowels {list(selected)}; expected only {vowel!r}"
            )
    for what, get in _SAME.items():
        values = {json.dumps(get(m), sort_keys=True) for m in manifests.values()}
        if len(values) > 1:
            names = ", ".join(m["run_id"] for m in manifests.values())
            raise VowelFusionError(f"cannot fuse runs {names}: their {what} differ")
    tables = {}
    for vowel, path in runs.items():
        file = Path(path) / "predictions_patients.csv"
        if not file.is_file():
            raise VowelFusionError(f"run {Path(path).name} has no predictions_patients.csv (no fold done)")
        tables[vowel] = pd.read_csv(file)
    patients, folds = fuse_tables(tables, threshold_steps=threshold_steps)
    return Fusion(vowels=tuple(runs), patients=patients, folds=folds)


_SAME = {
    "cohorts": lambda m: m.get("data", {}).get("cohort_source") or m.get("data", {}).get("cohort_dir"),
    "split settings": lambda m: {**asdict(SplitConfig()), **m["config"]["split"]},  # older runs: defaults
    "fold plans": lambda m: sorted(m.get("folds", [])),
}


def fused_label(base: str, vowels: tuple[str, ...] | list[str]) -> str:
    """The sweep table's label of a fusion, e.g. ``fused per vowel (A+I+U+E) · quick-small_cnn-dual``."""
    return f"fused per vowel ({'+'.join(vowels)}) · {base}"


def sweep_vowel_groups(sweep_dir: str | Path) -> list[tuple[str, dict[str, Path]]]:
    """The one-vowel configurations of a sweep that differ only in their vowel, grouped.

    Returns
    -------
    groups : list of (str, dict of str to Path)
        Base label (the members' label without ``-vowel_V``) and vowel → run folder, for
        every group of two or more members that have a run folder, in sweep order.
    """
    from core.runs import read_manifest
    from core.sweep import sweep_runs

    groups: dict[str, tuple[str, dict[str, Path]]] = {}
    for entry, run_dir in sweep_runs(sweep_dir):
        if run_dir is None:
            continue
        try:
            config = read_manifest(run_dir)["config"]
        except RunError:  # a run folder without a readable manifest: no member
            continue
        selection = config["preprocess"]["selection"]
        if len(selection["vowels"]) != 1:
            continue
        (vowel,) = selection["vowels"]
        rest = {**config, "preprocess": {**config["preprocess"], "selection": {**selection, "vowels": []}}}
        key = json.dumps(rest, sort_keys=True)
        base = entry["label"].removesuffix(f"-{MEMBER_PREFIX}{vowel}")
        groups.setdefault(key, (base, {}))[1][vowel] = run_dir
    return [(base, members) for base, members in groups.values() if len(members) >= 2]


def repeat_averaged_test(patients: pd.DataFrame) -> pd.DataFrame:
    """Fused test probability per patient averaged over repeats: ``patient_id, label, prob``."""
    test = patients[patients["part"] == "test"]
    return test.groupby("patient_id").agg(label=("label", "first"), prob=("prob", "mean")).reset_index()


__all__ = [
    "ALL_PREFIX",
    "FUSED_PARTS",
    "Fusion",
    "MEMBER_PREFIX",
    "VowelFusionError",
    "fuse_runs",
    "fuse_tables",
    "fused_label",
    "per_vowel_settings",
    "repeat_averaged_test",
    "sweep_vowel_groups",
]
