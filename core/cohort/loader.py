"""``load_cohort``: a cohort folder → pseudonymous recordings/patients tables + validation report.

Order of work: discover files by name (no audio read), read the metadata sheet or label
manifest, give every patient a pseudonym, inspect each audio file, drop duplicates, settle
labels, build the tables. Only an unusable folder raises; every other fault becomes a
problem row and loading goes on.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from core.cohort.cross_checks import bandwidth_warnings, drop_content_duplicates, drop_slot_duplicates
from core.cohort.found import SPEAKER_MARK, Discovery, FoundFile
from core.cohort.inventory import take_inventory
from core.cohort.label_sheet import LabelSheet, LabelSheetLayout
from core.cohort.layout_base import CohortLayout, Loading, Outcomes, PatientRecord, Usable
from core.cohort.layouts import choose_layout
from core.cohort.model import PATIENT_COLUMNS, RECORDING_COLUMNS, Cohort
from core.cohort.pseudonyms import Scheme, assign_pseudonyms, redact_unparsed
from core.cohort.validation import AUDIO_SUFFIXES, Problem, inspect_audio, problems_frame
from core.config import PHASES, VOWELS
from core.errors import CohortError, ConfigError

logger = logging.getLogger(__name__)

#: ``progress(done, total)`` is called after each audio file is looked at.
Progress = Callable[[int, int], None]

_NAME_PLACEHOLDER = "[name]"


def _gather_patients(found: Discovery) -> dict[str, PatientRecord]:
    """One entry per raw speaker id seen in file or folder names, with folder labels and years."""
    patients: dict[str, PatientRecord] = {}
    for item in found.files + found.notes:
        if item.speaker is None:
            continue
        patient = patients.setdefault(item.speaker, PatientRecord(item.speaker))
        if item.label is not None:
            patient.folder_labels.add(item.label)
        if item.year is not None:
            patient.years.append(item.year)
        if item.group is not None and item.group not in patient.groups:
            patient.groups.append(item.group)
    return patients


def _inspect_files(
    found: Discovery,
    names: Mapping[str, str],
    identifiers: Mapping[str, str],
    problems: list[Problem],
    *,
    min_duration_s: float,
    progress: Progress | None,
) -> tuple[list[Usable], dict[str, str]]:
    """Inspect every parsed file in path order; return the usable ones and shown → raw paths."""
    usable: list[Usable] = []
    raw_sources: dict[str, str] = {}
    total = len(found.files)
    for done, item in enumerate(sorted(found.files, key=lambda f: f.rel), start=1):
        source = _render(item, names.get(item.speaker or ""), identifiers)
        raw_sources[source] = item.rel
        if item.issue is not None:
            problems.append(Problem(source, *item.issue))
        if item.parsed:
            check = inspect_audio(item.path, min_duration_s=min_duration_s)
            problems.extend(Problem(source, severity, reason) for severity, reason in check.issues)
            if check.usable:
                usable.append(Usable(item, source, check))
        if progress is not None:
            progress(done, total)
    return usable, raw_sources


def _render(found: FoundFile, pseudonym: str | None, identifiers: Mapping[str, str]) -> str:
    """The file's relative path with its raw id replaced: structure first, rules for the rest."""
    shown = []
    for text, kind in found.parts:
        if kind == "keep":
            shown.append(text)
        elif kind == "mark":
            shown.append(text.replace(SPEAKER_MARK, pseudonym or "[id]"))
        else:
            shown.append(redact_unparsed(text, identifiers))
    return "/".join(shown)


def _validate_arguments(min_duration_s: float, pseudonyms: str, label_map: Mapping[str, int] | None) -> None:
    if not np.isfinite(min_duration_s) or min_duration_s < 0:
        raise ConfigError(f"min_duration_s={min_duration_s}; expected a duration >= 0 s")
    if pseudonyms not in ("sequential", "hash"):
        raise ConfigError(f"pseudonyms={pseudonyms!r}; expected 'sequential' or 'hash'")
    if label_map is not None:
        bad = {k: v for k, v in label_map.items() if v not in (0, 1)}
        if bad:
            raise ConfigError(f"label_map values {bad}; expected 0 (healthy/well) or 1 (pathological/poor)")


def _vowel_rank(vowel: object) -> int:
    return VOWELS.index(vowel) if vowel in VOWELS else len(VOWELS)


def _recording_id(pseudonym: str, found: FoundFile) -> str:
    parts = [pseudonym, str(found.phase)] + ([found.vowel] if found.vowel else [])
    return "-".join(parts) + (f"-t{found.take}" if found.take > 1 else "")


def load_cohort(
    root: str | Path,
    *,
    layout: str = "auto",
    metadata: str | Path | None = None,
    label_map: Mapping[str, int] | None = None,
    filename_pattern: str | None = None,
    min_duration_s: float = 0.3,
    pseudonyms: Scheme = "sequential",
    salt: str = "",
    progress: Progress | None = None,
    label_sheet: LabelSheet | None = None,
) -> Cohort:
    """Load a cohort folder into pseudonymous tables and a validation report.

    Parameters
    ----------
    root : str or Path
        The cohort folder.
    layout : {"auto", "study", "notebook", "class_folders"}
        Folder layout; "auto" picks it from what is there (also one or two wrapper folders
        down, e.g. ``Datasets/``).
    metadata : str or Path, optional
        Study: the metadata sheet (default: ``metadata.xlsx``/``.csv`` or the only sheet in
        the folder). Notebook: the label manifest with ``sound.files`` and ``outcome``.
    label_map : mapping of str to int, optional
        Class folders: folder name → 0/1. Default: healthy/normal/control → 0, any other
        folder → 1 (pathological). Folders missing from a given map are kept unlabelled.
    filename_pattern : str, optional
        Class folders: regex (full match on the file stem) with named group ``speaker`` and
        optional ``vowel`` and ``take`` (digits, or SVD pitch n/l/h → 1/2/3). Default reads
        Saarbruecken names ``<session>-<a|i|u>_<n|l|h>``.
    min_duration_s : float
        Analysis window; shorter recordings are kept with a warning.
    pseudonyms : {"sequential", "hash"}
        "sequential": P01, P02, ... in natural order of the raw ids; "hash": "P-" + 8 hex
        of sha256(salt + raw id).
    salt : str
        Secret for "hash" pseudonyms.
    progress : callable, optional
        ``progress(done, total)`` after each audio file.
    label_sheet : LabelSheet, optional
        Read the folder through a label sheet (file, speaker, label per row) instead of
        its folder layout; ``layout`` and ``metadata`` are then not used.

    Returns
    -------
    Cohort
        ``recordings`` (:data:`RECORDING_COLUMNS`), ``patients`` (:data:`PATIENT_COLUMNS`),
        ``problems`` (:data:`PROBLEM_COLUMNS`); no raw name, ID or record number in any of them.

    Raises
    ------
    CohortError
        The folder is missing, holds no audio, or does not fit the requested layout.
    ConfigError
        An argument is out of range (``min_duration_s``, ``pseudonyms``, ``label_map``, pattern).
    """
    root = Path(root)
    _validate_arguments(min_duration_s, pseudonyms, label_map)
    _check_folder(root)
    strategy: CohortLayout = (
        LabelSheetLayout(label_sheet)
        if label_sheet is not None
        else choose_layout(root, layout, label_map=label_map, filename_pattern=filename_pattern)
    )
    found = strategy.discover(root)
    load = Loading(root, found, metadata, _gather_patients(found))
    load.folder_patients = set(load.patients)
    strategy.read_labels(load)
    patients, problems = load.patients, load.problems
    identifiers = _name_patients(patients, strategy.private_by_key, pseudonyms=pseudonyms, salt=salt)
    load.identifiers = identifiers
    names = {key: patient.pseudonym for key, patient in patients.items()}
    problems += [
        Problem(_render(note, names.get(note.speaker or ""), identifiers), *note.issue)
        for note in found.notes
        if note.issue is not None
    ]
    clinical = strategy.findings(load)
    clinical.update(found.clinical)

    kept, raw_sources = _inspect_files(
        found, names, identifiers, problems, min_duration_s=min_duration_s, progress=progress
    )
    kept = drop_slot_duplicates(kept, names, problems)
    kept = drop_content_duplicates(
        kept,
        path=lambda u: u.item.path,
        patient=lambda u: u.item.speaker or "",
        source=lambda u: u.source,
        problems=problems,
    )
    problems += bandwidth_warnings(kept, sample_rate=lambda u: u.check.sample_rate, source=lambda u: u.source)
    outcomes, conflicts = strategy.settle_outcomes(load, kept)
    recordings, paths = _recordings(strategy, kept, patients, outcomes, conflicts, problems)
    patient_table = _patients_frame(strategy, patients, clinical, outcomes, recordings)
    used = {u.item.path for u in kept}
    files = take_inventory(
        root,
        found.base,
        audio={f.path: f.path in used for f in found.files},
        sheets=strategy.sheet_paths(root),
        named={raw_sources.get(p.source, p.source) for p in problems},
        identifiers=identifiers,
        problems=problems,
        raw_sources=raw_sources,
    )
    report = problems_frame(problems)
    cohort = Cohort(
        root=root,
        layout=found.layout,
        recordings=recordings,
        patients=patient_table,
        problems=report,
        class_names=found.class_names,
        _paths=paths,
        _identifiers=identifiers,
        _raw_sources=raw_sources,
        files=files,
    )
    severities = Counter(report["severity"])
    logger.info(
        "loaded %s cohort: %d patients, %d recordings, %d errors, %d warnings",
        found.layout,
        cohort.n_patients,
        len(recordings),
        severities.get("error", 0),
        severities.get("warning", 0),
    )
    return cohort


def _check_folder(root: Path) -> None:
    """The cohort folder exists and holds at least one audio file."""
    if not root.is_dir():
        raise CohortError(f"cohort folder {str(root)!r} does not exist or is not a folder")
    if not any(p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES for p in root.rglob("*")):
        raise CohortError(f"cohort folder {str(root)!r} holds no audio files ({', '.join(AUDIO_SUFFIXES)})")


def _name_patients(
    patients: dict[str, PatientRecord],
    private_by_key: Mapping[str, set[str]],
    *,
    pseudonyms: Scheme,
    salt: str,
) -> dict[str, str]:
    """Give every patient its pseudonym; returns every identifier (raw key, sheet name, ID) → pseudonym."""
    names = assign_pseudonyms(patients, scheme=pseudonyms, salt=salt)
    identifiers: dict[str, str] = dict(names)
    for key, private in private_by_key.items():
        for value in private:
            identifiers[value] = names.get(key, _NAME_PLACEHOLDER)
    for key, patient in patients.items():
        patient.pseudonym = names[key]
    return identifiers


def _recordings(
    strategy: CohortLayout,
    kept: list[Usable],
    patients: dict[str, PatientRecord],
    outcomes: Outcomes,
    conflicts: set[str],
    problems: list[Problem],
) -> tuple[pd.DataFrame, dict[str, Path]]:
    """The recordings table and each recording's file; a recording without a label → a warning."""
    rows = []
    paths: dict[str, Path] = {}
    for usable in kept:
        item, patient = usable.item, patients[usable.item.speaker or ""]
        label = strategy.recording_label(item, patient, outcomes)
        if label is None:
            why = strategy.no_label_reason(item, patient, conflict=patient.key in conflicts)
            problems.append(
                Problem(usable.source, "warning", f"recording without a label: {why}; kept with label <NA>")
            )
        recording_id = _recording_id(patient.pseudonym, item)
        paths[recording_id] = item.path
        rows.append(
            {
                "recording_id": recording_id,
                "patient_id": patient.pseudonym,
                "phase": item.phase,
                "vowel": item.vowel,
                "take": item.take,
                "source": usable.source,
                "duration_s": usable.check.duration_s,
                "sample_rate": usable.check.sample_rate,
                "channels": usable.check.channels,
                "label": label,
            }
        )
    return _recordings_frame(rows), paths


def _recordings_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(RECORDING_COLUMNS))
    order = frame.assign(
        _phase=frame["phase"].map(lambda p: PHASES.index(p) if p in PHASES else len(PHASES)),
        _vowel=frame["vowel"].map(_vowel_rank),
    ).sort_values(["patient_id", "_phase", "_vowel", "take"], kind="stable")
    frame = order.drop(columns=["_phase", "_vowel"]).reset_index(drop=True)
    return frame.astype(
        {
            "recording_id": "string",
            "patient_id": "string",
            "phase": "string",
            "vowel": "string",
            "take": "int64",
            "source": "string",
            "duration_s": "float64",
            "sample_rate": "int64",
            "channels": "int64",
            "label": "Int64",
        }
    )


def _patients_frame(
    strategy: CohortLayout,
    patients: dict[str, PatientRecord],
    clinical: dict[str, dict[str, object]],
    outcomes: dict[str, int | None],
    recordings: pd.DataFrame,
) -> pd.DataFrame:
    counts = recordings["patient_id"].value_counts()
    rows = []
    for key, patient in patients.items():
        values = clinical.get(key, {})
        year = patient.years[0] if patient.years else values.get("sheet_year")
        rows.append(
            {
                "patient_id": patient.pseudonym,
                "sex": values.get("sex"),
                "age": values.get("age"),
                "side": values.get("side"),
                "cause": values.get("cause") or strategy.patient_cause(patient),
                "technique": values.get("technique"),
                "approach": values.get("approach"),
                "amount_r": values.get("amount_r"),
                "amount_l": values.get("amount_l"),
                "injection_no": values.get("injection_no"),
                "total_injections": values.get("total_injections"),
                "year": year,
                "outcome": outcomes.get(key),
                "n_recordings": int(counts.get(patient.pseudonym, 0)),
            }
        )
    frame = pd.DataFrame(rows, columns=list(PATIENT_COLUMNS))
    frame = frame.sort_values("patient_id", kind="stable").reset_index(drop=True)
    return frame.astype(
        {
            "patient_id": "string",
            "sex": "string",
            "age": "float64",
            "side": "string",
            "cause": "string",
            "technique": "string",
            "approach": "string",
            "amount_r": "float64",
            "amount_l": "float64",
            "injection_no": "Int64",
            "total_injections": "Int64",
            "year": "Int64",
            "outcome": "Int64",
            "n_recordings": "int64",
        }
    )
