"""What label 0 and label 1 are called: the study's well/poor, or the dataset's own names.

Every page and report takes its class words from here, given a loaded cohort
(:attr:`Cohort.class_names`) or a run (``manifest["data"]["class_names"]``); runs made
before class names were stored read as the study's ("well", "poor").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from core.cohort.found import DEFAULT_CLASS_NAMES

ClassNames = tuple[str, str]


def class_names(of: Any) -> ClassNames:
    """The (label 0, label 1) names of a cohort, a run, a run manifest or its ``data``; default well/poor.

    Parameters
    ----------
    of : Cohort, Run, dict, Path or None
        Anything with ``class_names`` (a Cohort), a ``manifest`` (a Run), a manifest dict, or
        a run folder (its ``manifest.json`` is read).
    """
    if isinstance(of, Path):
        try:
            of = json.loads((of / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            of = None
    names = getattr(of, "class_names", None)
    if names is None and of is not None:
        manifest = getattr(of, "manifest", of)
        if isinstance(manifest, Mapping):
            data = manifest.get("data", manifest)
            names = data.get("class_names") if isinstance(data, Mapping) else None
    if not names or len(names) != 2:
        return DEFAULT_CLASS_NAMES
    return str(names[0]), str(names[1])


def label_names(names: ClassNames) -> dict[int, str]:
    """``{0: names[0], 1: names[1]}``, e.g. for ``Series.map``."""
    return {0: names[0], 1: names[1]}


def label_text(value: object, names: ClassNames, *, unknown: str = "unknown") -> str:
    """The name of one label (0/1); ``unknown`` for NA/None."""
    if value is None or pd.isna(value):
        return unknown
    return label_names(names).get(int(value), str(value))


def is_study(names: ClassNames) -> bool:
    """True for the study's own outcome classes (well / poor)."""
    return tuple(names) == DEFAULT_CLASS_NAMES


def positive_phrase(names: ClassNames) -> str:
    """What the model's probability is of: "a poor outcome" for the study, else the positive class name."""
    return "a poor outcome" if is_study(names) else names[1]


def probability_label(names: ClassNames) -> str:
    """Short axis label of the model's probability: "P(poor)", "P(PD)"."""
    return f"P({names[1]})"


def class_colours(names: ClassNames) -> dict[str, str]:
    """Plot colours keyed by class name (label 0 teal, label 1 orange, unknown grey)."""
    return {names[0]: "#2a9d8f", names[1]: "#e76f51", "unknown": "#adb5bd"}
