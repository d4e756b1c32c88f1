"""Which column of a label sheet is what, and which label value is the positive class.

Column names are matched after Unicode/case/space/punctuation folding against common
names, in priority order (``participant_id`` before ``id``). The positive value (label 1)
is inferred only when the values leave no doubt: two values of which exactly one is a
known negative (0, no, false, well, healthy, control, HC …) or a known positive (1, yes,
true, poor, patient …).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import pandas as pd

from core.cohort.found import PHASE_BY_LETTER, VOWEL_BY_NUMBER
from core.cohort.metadata import normalise_header
from core.config import VOWELS
from core.errors import CohortError

#: Field → accepted headers in priority order (compared after :func:`normalise_header`).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "path": (
        "path",
        "file",
        "filename",
        "file name",
        "filepath",
        "file path",
        "sound.files",
        "sound file",
        "wav",
        "wav file",
        "audio",
        "audio file",
        "audio path",
        "recording",
        "relative path",
    ),
    "patient": (
        "participant_id",
        "participant",
        "patient_id",
        "patient",
        "speaker_id",
        "speaker",
        "subject_id",
        "subject",
        "session_id",
        "pid",
        "id",
        "name_id",
    ),
    "label": (
        "label",
        "group",
        "class",
        "diagnosis",
        "outcome",
        "status",
        "condition",
        "target",
        "category",
        "y",
    ),
    "vowel": ("vowel", "vowels", "phoneme"),
    "phase": ("phase", "pre/post", "timepoint", "time point", "visit"),
    "take": ("take", "clip", "repetition", "rep", "trial"),
    "sex": ("sex", "gender"),
    "age": ("age", "age years"),
}
#: Label values read as the negative class (label 0) when inferring the positive one.
NEGATIVE_VALUES: frozenset[str] = frozenset(
    {
        "0",
        "no",
        "n",
        "false",
        "f",
        "negative",
        "neg",
        "well",
        "good",
        "healthy",
        "normal",
        "control",
        "controls",
        "hc",
        "nc",
        "absent",
        "none",
    }
)
#: Label values read as the positive class (label 1) when inferring it.
POSITIVE_VALUES: frozenset[str] = frozenset(
    {
        "1",
        "yes",
        "y",
        "true",
        "t",
        "positive",
        "pos",
        "poor",
        "bad",
        "present",
        "pathological",
        "patient",
        "case",
    }
)
PHASES: dict[str, str] = {
    "pre": "pre",
    "preop": "pre",
    "pre-op": "pre",
    "before": "pre",
    "baseline": "pre",
    "post": "post",
    "postop": "post",
    "post-op": "post",
    "after": "post",
    "follow-up": "post",
    **{letter.casefold(): phase for letter, phase in PHASE_BY_LETTER.items()},
}
VOWEL_NAMES: dict[str, str] = {
    **VOWEL_BY_NUMBER,
    **{v: v for v in VOWELS},
    "AH": "A",
    "AA": "A",
    "EE": "I",
    "OO": "U",
}


@dataclass(frozen=True)
class SheetColumns:
    """Which sheet column holds what (header text as written in the sheet; None = absent)."""

    path: str | None = None
    patient: str | None = None
    label: str | None = None
    vowel: str | None = None
    phase: str | None = None
    take: str | None = None
    sex: str | None = None
    age: str | None = None


def detect_columns(
    headers: list[str], given: SheetColumns | None = None, *, strict: bool = True
) -> SheetColumns:
    """Fill the columns not given with the first header that matches a common name.

    Parameters
    ----------
    headers : list of str
        The sheet's column headers.
    given : SheetColumns, optional
        Columns named by the user (matched case- and punctuation-insensitively).
    strict : bool
        Raise when no path or label column is found (False: leave them None, for a form).

    Raises
    ------
    CohortError
        A given column is not a header, or (strict) no file-path or label column can be
        found (the message lists the headers and the flag to use).
    """
    given = given or SheetColumns()
    folded = {normalise_header(h): h for h in reversed(headers)}
    chosen: dict[str, str | None] = {}
    for spec in fields(SheetColumns):
        value = getattr(given, spec.name)
        if value is not None:
            if value not in headers:
                match = folded.get(normalise_header(value))
                if match is None:
                    raise CohortError(
                        f"column {value!r} ({spec.name}) is not in the label sheet; its columns are "
                        f"{', '.join(map(repr, headers))}"
                    )
                value = match
            chosen[spec.name] = value
            continue
        taken = set(chosen.values())
        chosen[spec.name] = next(
            (
                folded[a]
                for a in map(normalise_header, COLUMN_ALIASES[spec.name])
                if a in folded and folded[a] not in taken
            ),
            None,
        )
    for name, flag in (("path", "--path-column"), ("label", "--label-column")):
        if chosen[name] is None and strict:
            raise CohortError(
                f"no {name} column found in the label sheet (columns: {', '.join(map(repr, headers))}); "
                f"name it with {flag}"
            )
    return SheetColumns(**chosen)


def label_values(table: pd.DataFrame, column: str) -> list[str]:
    """Distinct non-empty values of the label column, sorted."""
    return sorted({v for v in table[column] if v}, key=str.casefold)


def infer_positive(values: list[str], *, column: str = "label") -> str:
    """The positive value (label 1) when the two values leave no doubt; else a CohortError.

    Two values where exactly one is a known negative (0, no, false, well, healthy, control,
    HC …) or exactly one a known positive (1, yes, true, poor, patient …) are unambiguous,
    and so is a single known positive value.
    """
    if len(values) == 2:
        negatives = [v for v in values if v.casefold() in NEGATIVE_VALUES]
        positives = [v for v in values if v.casefold() in POSITIVE_VALUES]
        if len(negatives) == 1 and negatives != positives:
            return next(v for v in values if v not in negatives)
        if len(positives) == 1:
            return positives[0]
    if len(values) == 1 and values[0].casefold() in POSITIVE_VALUES:
        return values[0]
    shown = ", ".join(map(repr, values)) or "none"
    example = values[-1] if values else "VALUE"
    raise CohortError(
        f"cannot tell which value of column {column!r} is the positive class (label 1): "
        f"values {shown}; give it with --positive (e.g. --positive {example})"
    )


def resolve_positive(values: list[str], positive: str | None, *, column: str) -> str:
    """The positive value as written in the sheet: the one given (case-insensitive) or inferred."""
    if positive is None:
        return infer_positive(values, column=column)
    match = [v for v in values if v == positive] or [v for v in values if v.casefold() == positive.casefold()]
    if not match:
        raise CohortError(
            f"positive value {positive!r} is not a value of column {column!r} "
            f"(values: {', '.join(map(repr, values)) or 'none'})"
        )
    return match[0]


def class_names(values: list[str], positive: str) -> tuple[str, str]:
    """Names of label 0 and 1: the other value (or "not <positive>") and the positive value."""
    others = [v for v in values if v != positive]
    return (others[0] if len(others) == 1 else f"not {positive}"), positive
