"""``load_cohort``: a cohort folder → pseudonymous recordings/patients tables + validation report.

Order of work: discover files by name (no audio read), read the metadata sheet or label
manifest, give every patient a pseudonym, inspect each audio file, drop duplicates, settle
labels, build the tables. Only an unusable folder raises; every other fault becomes a
problem row and loading goes on.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.cohort.cross_checks import bandwidth_warnings, drop_content_duplicates, drop_slot_duplicates
from core.cohort.inventory import take_inventory
from core.cohort.label_sheet import LAYOUT as LABEL_SHEET
from core.cohort.label_sheet import LabelSheet
from core.cohort.layouts import SPEAKER_MARK, Discovery, FoundFile, discover
from core.cohort.metadata import (
    MANIFEST_ALIASES,
    Sheet,
    find_sheet,
    parse_amount,
    parse_approach,
    parse_cause,
    parse_number,
    parse_outcome,
    parse_sex,
    parse_side,
    parse_year,
    read_sheet,
    read_sheet_or_spare,
)
from core.cohort.model import PATIENT_COLUMNS, RECORDING_COLUMNS, Cohort
from core.cohort.pseudonyms import Scheme, assign_pseudonyms, redact_text, redact_unparsed
from core.cohort.validation import AUDIO_SUFFIXES, AudioCheck, Problem, inspect_audio, problems_frame
from core.config import PHASES, VOWELS
from core.errors import CohortError, ConfigError

logger = logging.getLogger(__name__)

#: ``progress(done, total)`` is called after each audio file is looked at.
Progress = Callable[[int, int], None]

_NAME_PLACEHOLDER = "[name]"


@dataclass
class _Patient:
    """Everything known about one patient while loading (raw key kept private here)."""

    key: str
    pseudonym: str = ""
    sheet_row: int | None = None
    fields: dict[str, object] = field(default_factory=dict)
    folder_labels: set[int] = field(default_factory=set)
    sheet_outcome: int | None = None
    years: list[int] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Usable:
    """A file that passed inspection: what discovery found, its shown path, what inspection saw."""

    item: FoundFile
    source: str
    check: AudioCheck


def _gather_patients(found: Discovery) -> dict[str, _Patient]:
    """One entry per raw speaker id seen in file or folder names, with folder labels and years."""
    patients: dict[str, _Patient] = {}
    for item in found.files + found.notes:
        if item.speaker is None:
            continue
        patient = patients.setdefault(item.speaker, _Patient(item.speaker))
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
) -> tuple[list[_Usable], dict[str, str]]:
    """Inspect every parsed file in path order; return the usable ones and shown → raw paths."""
    usable: list[_Usable] = []
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
                usable.append(_Usable(item, source, check))
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


def _sheet_path(root: Path, base: Path, metadata: str | Path | None) -> tuple[Path | None, str, str | None]:
    """The sheet to read, its display name, and a note when none could be chosen."""
    if metadata is not None:
        path = Path(metadata)
        if not path.is_absolute() and not path.exists() and (root / path).exists():
            path = root / path
        if not path.is_file():
            raise CohortError(f"metadata={str(metadata)!r} is not a file; expected a .xlsx or .csv sheet")
        try:
            return path, path.resolve().relative_to(root.resolve()).as_posix(), None
        except ValueError:
            return path, path.name, None
    for folder in dict.fromkeys([base, root]):
        path, note = find_sheet(folder)
        if path is not None:
            return path, path.relative_to(root).as_posix(), None
        if note is not None:
            return None, (folder.relative_to(root).as_posix() + "/") if folder != root else "./", note
    return None, "", None


def _join_key(value: str) -> str:
    """Identifiers compared without leading zeros (spreadsheets drop them from numbers)."""
    stripped = value.lstrip("0")
    return stripped if stripped else value


def _join_sheet(
    sheet: Sheet,
    patients: dict[str, _Patient],
    problems: list[Problem],
    identifiers_by_key: dict[str, set[str]],
) -> None:
    """Attach sheet rows to patient folders by ID (or 病歷號); unmatched rows become sheet-only patients."""
    by_join = {_join_key(key): key for key in patients}
    columns = set(sheet.rows.columns)
    if not {"id", "record_no"} & columns:
        problems.append(
            Problem(
                sheet.name,
                "error",
                "sheet has no ID or 病歷號 column; it cannot be joined to the "
                "patient folders and is not used",
            )
        )
        return
    for row in sheet.rows.to_dict("records"):
        where = sheet.where(int(row["sheet_row"]))
        keys = [str(row.get(c, "")) for c in ("id", "record_no") if row.get(c, "")]
        private = {str(row.get(c, "")) for c in ("name", "id", "record_no") if row.get(c, "")}
        matched = next((by_join[_join_key(k)] for k in keys if _join_key(k) in by_join), None)
        if matched is None and not keys:
            problems.append(
                Problem(where, "error", "row has no ID or 病歷號; it cannot be joined to a patient")
            )
            identifiers_by_key.setdefault("", set()).update(private)
            continue
        key = matched if matched is not None else keys[0]
        patient = patients.get(key)
        if patient is not None and patient.sheet_row is not None:
            problems.append(
                Problem(
                    where,
                    "error",
                    f"duplicate sheet row for the patient of row {patient.sheet_row}; the first row is kept",
                )
            )
            identifiers_by_key.setdefault(key, set()).update(private)
            continue
        if patient is None:
            patient = patients[key] = _Patient(key)
            by_join[_join_key(key)] = key
        patient.sheet_row = int(row["sheet_row"])
        patient.fields = row
        identifiers_by_key.setdefault(key, set()).update(private)


def _parse_count(value: object, *, field: str) -> int | None:
    number = parse_number(value, field=field)
    if number is not None and not float(number).is_integer():
        raise CohortError(f"{field} {value!r} not understood; expected a whole number")
    return None if number is None else int(number)


def _parse_sheet_fields(
    patient: _Patient, sheet: Sheet, problems: list[Problem], identifiers: Mapping[str, str]
) -> dict[str, object]:
    """Clinical columns of the patient's sheet row → patient-table values; bad cells → warnings."""
    row = patient.fields
    where = sheet.where(int(patient.sheet_row or 0))
    values: dict[str, object] = {}
    parsers: dict[str, tuple[str, Callable[[object], object]]] = {
        "sex": ("sex", parse_sex),
        "age": ("age", lambda v: parse_number(v, field="age")),
        "side": ("side", parse_side),
        "cause": ("cause", parse_cause),
        "technique": ("technique", lambda v: str(v).strip() or None),
        "approach": ("approach", parse_approach),
        "injection_no": ("injection_no", lambda v: _parse_count(v, field="injection no.")),
        "total_injections": ("total_injections", lambda v: _parse_count(v, field="total injections")),
    }
    for column, (source_field, parser) in parsers.items():
        if source_field not in row:
            continue
        try:
            values[column] = parser(row[source_field])
        except CohortError as exc:
            problems.append(Problem(where, "warning", f"{redact_text(str(exc), identifiers)}; left empty"))
    for side in ("r", "l"):
        cell = row.get(f"amount_{side}")
        if cell is None:
            continue
        try:
            amount = parse_amount(cell)
        except CohortError as exc:
            problems.append(
                Problem(
                    where,
                    "warning",
                    f"amount {side.upper()}: {redact_text(str(exc), identifiers)}; left empty",
                )
            )
            continue
        values[f"amount_{side}"] = amount.total_ml
        if not amount.consistent:
            parts = "+".join(f"{p:g}" for p in amount.parts_ml)
            problems.append(
                Problem(
                    where,
                    "warning",
                    f"amount {side.upper()}: parts {parts} = "
                    f"{sum(amount.parts_ml):g} ml disagree with the total "
                    f"{amount.total_ml:g} ml; the total is kept",
                )
            )
    if row.get("date"):
        try:
            values["sheet_year"] = parse_year(row["date"])
        except CohortError as exc:
            problems.append(Problem(where, "warning", f"{redact_text(str(exc), identifiers)}; left empty"))
    if row.get("outcome"):
        try:
            patient.sheet_outcome = parse_outcome(row["outcome"])
        except CohortError as exc:
            problems.append(
                Problem(where, "error", f"label not understood: {redact_text(str(exc), identifiers)}")
            )
    return values


def _read_manifest(
    root: Path,
    base: Path,
    metadata: str | Path | None,
    problems: list[Problem],
) -> tuple[dict[str, tuple[int | None, str]], Sheet | None]:
    """Notebook label manifest: file stem → (label, "labels.csv row 7"); label None when the row was rejected."""
    candidates: list[tuple[Path, str]] = []
    if metadata is not None:
        path, name, _ = _sheet_path(root, base, metadata)
        candidates = [(path, name)] if path is not None else []
    else:
        for folder in dict.fromkeys([base, root]):
            candidates += [
                (p, p.relative_to(root).as_posix())
                for p in sorted(folder.glob("*.csv"))
                if not p.name.startswith((".", "~$"))
            ]
    for path, name in candidates:
        try:
            sheet = read_sheet(path, aliases=MANIFEST_ALIASES, display_name=name, required_any=("file",))
        except CohortError:
            continue
        if not {"file", "outcome"} <= set(sheet.rows.columns):
            continue
        labels: dict[str, tuple[int | None, str]] = {}
        for row in sheet.rows.to_dict("records"):
            where = sheet.where(int(row["sheet_row"]))
            stem = Path(str(row["file"]).replace("\\", "/")).name
            if Path(stem).suffix.lower() in AUDIO_SUFFIXES:
                stem = Path(stem).stem
            try:
                label = parse_outcome(row["outcome"])
            except CohortError as exc:
                problems.append(Problem(where, "error", f"label not understood: {exc}"))
                labels.setdefault(stem, (None, where))
                continue
            if label is None:
                continue
            if stem in labels and labels[stem][0] is not None and labels[stem][0] != label:
                problems.append(
                    Problem(
                        where,
                        "error",
                        f"conflicting outcome for a file already labelled "
                        f"{labels[stem][0]} in {labels[stem][1]}; this row is ignored",
                    )
                )
                continue
            if stem not in labels or labels[stem][0] is None:
                labels[stem] = (label, where)
        return labels, sheet
    if metadata is not None:
        raise CohortError(f"metadata={str(metadata)!r} has no sound.files and outcome columns")
    return {}, None


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
    if not root.is_dir():
        raise CohortError(f"cohort folder {str(root)!r} does not exist or is not a folder")
    if not any(p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES for p in root.rglob("*")):
        raise CohortError(f"cohort folder {str(root)!r} holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
    found = (
        label_sheet.discover(root)
        if label_sheet is not None
        else discover(root, layout=layout, label_map=label_map, filename_pattern=filename_pattern)
    )
    problems: list[Problem] = []
    patients = _gather_patients(found)
    folder_patients = set(patients)

    sheet: Sheet | None = None
    private_by_key: dict[str, set[str]] = {}
    manifest: dict[str, tuple[int | None, str]] = {}
    if found.layout == "study":
        sheet = _load_study_sheet(root, found, metadata, patients, problems, private_by_key)
    elif found.layout == "notebook":
        manifest, sheet = _read_manifest(root, found.base, metadata, problems)

    names = assign_pseudonyms(patients, scheme=pseudonyms, salt=salt)
    identifiers: dict[str, str] = dict(names)
    for key, private in private_by_key.items():
        for value in private:
            identifiers[value] = names.get(key, _NAME_PLACEHOLDER)
    for key, patient in patients.items():
        patient.pseudonym = names[key]

    stems = {item.path.stem for item in found.files}
    problems += [
        Problem(where, "warning", "listed in the label manifest but no such audio file")
        for stem, (_, where) in manifest.items()
        if stem not in stems
    ]
    problems += [
        Problem(_render(note, names.get(note.speaker or ""), identifiers), *note.issue)
        for note in found.notes
        if note.issue is not None
    ]
    clinical: dict[str, dict[str, object]] = {}
    if sheet is not None and found.layout == "study":
        clinical = {
            key: _parse_sheet_fields(p, sheet, problems, identifiers)
            for key, p in patients.items()
            if p.sheet_row is not None
        }
        for key in sorted(set(patients) - folder_patients, key=lambda k: names[k]):
            problems.append(
                Problem(
                    sheet.where(int(patients[key].sheet_row or 0)),
                    "warning",
                    f"patient in the sheet with no recordings: {names[key]} has no patient folder "
                    "or audio file; kept in the patients table with 0 recordings",
                )
            )
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
    outcomes, conflicts = _settle_outcomes(found, patients, kept, manifest, sheet, problems)
    rows = []
    paths: dict[str, Path] = {}
    for usable in kept:
        item, patient = usable.item, patients[usable.item.speaker or ""]
        if found.layout == "notebook":
            label = manifest.get(item.path.stem, (None, ""))[0]
        elif found.layout in ("class_folders", LABEL_SHEET):
            label = item.label
        else:
            label = outcomes[patient.key]
        if label is None:
            why = _no_label_reason(
                found.layout,
                patient.pseudonym,
                item,
                conflict=patient.key in conflicts,
                manifest_row=manifest.get(item.path.stem, (None, None))[1],
            )
            problems.append(Problem(usable.source, "warning", why))
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
    recordings = _recordings_frame(rows)
    patient_table = _patients_frame(found, patients, clinical, outcomes, recordings)
    used = {u.item.path for u in kept}
    files = take_inventory(
        root,
        found.base,
        audio={f.path: f.path in used for f in found.files},
        sheets=([root / sheet.name] if sheet is not None else [])
        + ([label_sheet.path] if label_sheet is not None else []),
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


def _load_study_sheet(
    root: Path,
    found: Discovery,
    metadata: str | Path | None,
    patients: dict[str, _Patient],
    problems: list[Problem],
    private_by_key: dict[str, set[str]],
) -> Sheet | None:
    path, name, note = _sheet_path(root, found.base, metadata)
    if note is not None:
        problems.append(Problem(name, "warning", note))
    if path is None:
        return None
    sheet, notes = read_sheet_or_spare(path, display_name=name, spare=metadata is None)
    problems += [Problem(name, severity, reason) for severity, reason in notes]
    if sheet is None:
        return None
    _join_sheet(sheet, patients, problems, private_by_key)
    return sheet


def _settle_outcomes(
    found: Discovery,
    patients: dict[str, _Patient],
    unique: list[_Usable],
    manifest: dict[str, tuple[int | None, str]],
    sheet: Sheet | None,
    problems: list[Problem],
) -> tuple[dict[str, int | None], set[str]]:
    """Patient outcome from folder names / sheet / file labels; disagreement → error, outcome unknown.

    Returns the outcome per raw patient key and the keys whose sources disagreed.
    """
    outcomes: dict[str, int | None] = {}
    conflicts: set[str] = set()
    file_labels: dict[str, Counter[int]] = defaultdict(Counter)
    if found.layout == "notebook":
        for entry in unique:
            label = manifest.get(entry.item.path.stem, (None, ""))[0]
            if label is not None:
                file_labels[entry.item.speaker or ""][label] += 1
    for key, patient in patients.items():
        if found.layout == "notebook":
            labels = file_labels.get(key, Counter())
            if len(labels) > 1:
                counts = ", ".join(f"{n} file(s) say {lab}" for lab, n in sorted(labels.items()))
                where = sheet.name if sheet is not None else "label manifest"
                problems.append(
                    Problem(
                        where,
                        "error",
                        f"conflicting outcomes for patient {patient.pseudonym}: "
                        f"{counts}; patient outcome left unknown",
                    )
                )
                outcomes[key] = None
                conflicts.add(key)
            else:
                outcomes[key] = next(iter(labels), None)
            continue
        folder = patient.folder_labels
        if len(folder) > 1:
            what = {"study": "patient folders", LABEL_SHEET: "sheet rows"}.get(found.layout, "class folders")
            problems.append(
                Problem(
                    _group_source(found, patient),
                    "error",
                    f"conflicting outcomes for patient {patient.pseudonym}: its {what} carry "
                    "different labels; patient outcome left unknown",
                )
            )
            outcomes[key] = None
            conflicts.add(key)
            continue
        from_folder = next(iter(folder), None)
        from_sheet = patient.sheet_outcome
        if from_folder is not None and from_sheet is not None and from_folder != from_sheet:
            word = {0: "well", 1: "poor"}
            where = sheet.where(int(patient.sheet_row or 0)) if sheet is not None else patient.pseudonym
            problems.append(
                Problem(
                    where,
                    "error",
                    f"outcome conflict for patient {patient.pseudonym}: the folder "
                    f"name says {word[from_folder]} ({from_folder}), the sheet says "
                    f"{word[from_sheet]} ({from_sheet}); outcome left unknown",
                )
            )
            outcomes[key] = None
            conflicts.add(key)
            continue
        outcomes[key] = from_folder if from_folder is not None else from_sheet
    return outcomes, conflicts


def _group_source(found: Discovery, patient: _Patient) -> str:
    """Problem source for a patient-level finding: the pseudonymised folder name(s)."""
    if found.layout in ("class_folders", LABEL_SHEET):
        return " + ".join(patient.groups)
    return " + ".join(g.replace(patient.key, patient.pseudonym) for g in patient.groups)


def _no_label_reason(
    layout: str, pseudonym: str, item: FoundFile, *, conflict: bool, manifest_row: str | None
) -> str:
    if conflict and layout == "study":
        why = f"the outcome sources of patient {pseudonym} disagree"
    elif layout == "notebook" and manifest_row:
        why = f"its outcome in {manifest_row} was not understood"
    elif layout == "notebook":
        why = "the file is not in the label manifest"
    elif layout == "class_folders":
        why = f"class folder {item.group!r} is not in label_map"
    elif layout == LABEL_SHEET:
        why = f"its label cell in {item.group} is empty"
    else:
        why = f"patient {pseudonym} has no outcome (no well/poor in the folder name and none in the sheet)"
    return f"recording without a label: {why}; kept with label <NA>"


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
    found: Discovery,
    patients: dict[str, _Patient],
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
                "cause": values.get("cause")
                or (" + ".join(patient.groups) if found.layout == "class_folders" else None),
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
