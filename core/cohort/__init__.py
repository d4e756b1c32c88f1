"""Cohort ingestion: discover a folder's layout, read its sheet, validate files, pseudonymise.

``load_cohort(root)`` (or ``CohortSource(root, labels=...).load()`` for a label sheet) returns a
:class:`Cohort` with two tidy pseudonymous tables (``recordings``, ``patients``) and a validation
report (``problems``). Raw names, IDs and
record numbers are read only to join files to sheet rows; they never reach a returned table.
"""

from core.cohort.cells import Amount, parse_amount, parse_cause, parse_outcome, parse_sex, parse_side
from core.cohort.label_sheet import LabelSheet
from core.cohort.layouts import (
    DEFAULT_CLASS_NAMES,
    HEALTHY_CLASS_NAMES,
    LAYOUTS,
    PITCH_TAKES,
    SVD_PATTERN,
    class_label,
)
from core.cohort.loader import load_cohort
from core.cohort.metadata import HEADER_ALIASES, normalise_header, read_sheet
from core.cohort.model import PATIENT_COLUMNS, PROBLEM_COLUMNS, RECORDING_COLUMNS, Cohort
from core.cohort.pseudonyms import assign_pseudonyms
from core.cohort.sheet_columns import SheetColumns
from core.cohort.source import CohortSource, as_source
from core.cohort.validation import CLIP_FRACTION, SILENCE_PEAK, AudioCheck, Problem, inspect_audio

__all__ = [
    "CLIP_FRACTION",
    "DEFAULT_CLASS_NAMES",
    "HEADER_ALIASES",
    "HEALTHY_CLASS_NAMES",
    "LAYOUTS",
    "PATIENT_COLUMNS",
    "PITCH_TAKES",
    "PROBLEM_COLUMNS",
    "RECORDING_COLUMNS",
    "SILENCE_PEAK",
    "SVD_PATTERN",
    "Amount",
    "AudioCheck",
    "Cohort",
    "CohortSource",
    "LabelSheet",
    "Problem",
    "SheetColumns",
    "as_source",
    "assign_pseudonyms",
    "class_label",
    "inspect_audio",
    "load_cohort",
    "normalise_header",
    "parse_amount",
    "parse_cause",
    "parse_outcome",
    "parse_sex",
    "parse_side",
    "read_sheet",
]
