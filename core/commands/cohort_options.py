"""The ``--cohort`` options every command shares: folder, label sheet, columns, positive value.

``add_cohort_arguments(parser)`` adds them; ``cohort_source(args)`` turns them into a
:class:`~core.cohort.source.CohortSource`; ``cohort_argv(source)`` writes a source back as
arguments (the dashboard starts ``python -m core train`` with them).
"""

from __future__ import annotations

import argparse

from core.cohort.source import CohortSource
from core.errors import ConfigError

#: (flag, CohortSource field, help) of the label-sheet options.
_SHEET_FLAGS: tuple[tuple[str, str, str], ...] = (
    (
        "--path-column",
        "path_column",
        "sheet column with each audio file's path, relative to the sheet's folder or "
        "DIR (default: detected, e.g. path, file, filename, wav, sound.files)",
    ),
    (
        "--patient-column",
        "patient_column",
        "sheet column with the patient/speaker id (default: detected, e.g. "
        "participant_id, patient, speaker, subject, id; none = one speaker "
        "per file)",
    ),
    (
        "--label-column",
        "label_column",
        "sheet column with the class (default: detected, e.g. label, group, class, diagnosis, outcome)",
    ),
    (
        "--vowel-column",
        "vowel_column",
        "sheet column with the vowel A/I/U/E or 1..4 (default: detected, e.g. vowel; "
        "none = every file is a sustained /a/)",
    ),
    (
        "--phase-column",
        "phase_column",
        "sheet column with the phase pre/post (default: detected, e.g. phase; none = pre)",
    ),
    (
        "--take-column",
        "take_column",
        "sheet column with the take number (default: detected, e.g. take, clip; "
        "none = numbered in sheet order)",
    ),
)


def add_cohort_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """Add ``--cohort DIR``, ``--labels FILE``, the column options and ``--positive VALUE``."""
    group = parser.add_argument_group("cohort", "the recordings and how their labels are read")
    group.add_argument("--cohort", required=required, metavar="DIR", help="cohort folder")
    group.add_argument(
        "--labels",
        metavar="FILE",
        help="label sheet (.csv or .xlsx) with one row per audio file: path, patient/speaker and "
        "label columns (optional vowel, phase, take); common column names are detected when "
        "the column options are left out",
    )
    for flag, _, text in _SHEET_FLAGS:
        group.add_argument(flag, metavar="C", help=text)
    group.add_argument(
        "--positive",
        metavar="VALUE",
        help="the positive class (label 1): a value of the label column, or a class folder's name "
        "(the other folders are 0); default: inferred when unambiguous (1/0, yes/no, poor/well, "
        "PD vs HC …), else an error lists the values",
    )


def cohort_source(args: argparse.Namespace) -> CohortSource:
    """The :class:`CohortSource` the parsed options describe.

    Raises
    ------
    ConfigError
        Column options without ``--labels``, or no ``--cohort``.
    """
    if not getattr(args, "cohort", None):
        raise ConfigError("--cohort DIR is needed")
    columns = {name: getattr(args, name, None) for _, name, _ in _SHEET_FLAGS}
    if getattr(args, "labels", None) is None and any(columns.values()):
        used = [flag for flag, name, _ in _SHEET_FLAGS if columns[name]]
        raise ConfigError(f"{', '.join(used)} need --labels FILE (the label sheet the columns belong to)")
    return CohortSource(
        args.cohort,
        labels=getattr(args, "labels", None),
        positive=getattr(args, "positive", None),
        layout=getattr(args, "layout", None) or "auto",
        metadata=getattr(args, "metadata", None),
        **columns,
    )


def cohort_argv(source: CohortSource) -> list[str]:
    """Command-line arguments that describe ``source`` (``--cohort`` first)."""
    argv = ["--cohort", str(source.root)]
    if source.labels is not None:
        argv += ["--labels", str(source.labels)]
    for flag, name, _ in _SHEET_FLAGS:
        if getattr(source, name) is not None:
            argv += [flag, str(getattr(source, name))]
    if source.positive is not None:
        argv += ["--positive", source.positive]
    return argv
