"""The study layout: ``<id><well|poor>-<year>/pre/<id>S<1..4>.wav`` and ``post/<id>A<1..4>.wav``.

Vowel 1..4 = A, I, U, E; a Praat voice report ``.txt`` sits beside each wav. The outcome
comes from the folder name or the metadata sheet's outcome column (both → they must agree).
"""

from __future__ import annotations

import re
from pathlib import Path

from core.cohort.folder_layout import FolderLayout
from core.cohort.found import (
    PHASE_BY_LETTER,
    VOWEL_BY_NUMBER,
    Discovery,
    FoundFile,
    PartKind,
    audio_under,
    marked,
    subdirs,
)
from core.cohort.layout_base import Loading, PatientRecord
from core.cohort.metadata import read_sheet_or_spare
from core.cohort.study_sheet import join_sheet, parse_sheet_fields, sheet_path
from core.cohort.validation import Problem, Severity

#: Study patient folder: ``16422748well-2022`` (outcome and year optional).
PATIENT_FOLDER = re.compile(
    r"^(?P<id>[A-Za-z0-9]+?)\s*(?P<outcome>well|poor)?(?:\s*[-_ ]\s*(?P<year>(?:19|20)\d{2}))?$",
    re.IGNORECASE,
)
#: Study recording: ``16422748S1`` (S = pre, A = post; 1..4 = A, I, U, E).
STUDY_FILE = re.compile(r"^(?P<id>[A-Za-z0-9]+?)\s*(?P<phase>[SA])(?P<vowel>[1-4])$", re.IGNORECASE)
FOLDER_OUTCOMES: dict[str, int] = {"well": 0, "poor": 1}
_EXPECTED_FILE = "expected <id>S<1..4>.wav (pre) or <id>A<1..4>.wav (post) with the folder's <id>"


def match_patient_folder(name: str) -> re.Match[str] | None:
    """Match a study patient folder name; a bare word without digits ("misc") is not one."""
    match = PATIENT_FOLDER.match(name)
    if match and (match["outcome"] or match["year"] or any(c.isdigit() for c in match["id"])):
        return match
    return None


class StudyLayout(FolderLayout):
    """Patient folders with pre/ and post/ recordings; labels from folder names and the metadata sheet."""

    name = "study"
    label_origin = "patient folders"
    expected = "no <id><well|poor>-<year> folder with a pre/ or post/ folder inside"

    @staticmethod
    def fits(folder: Path, *, strict: bool) -> bool:
        return any(
            match_patient_folder(d.name) and any(s.name.casefold() in ("pre", "post") for s in subdirs(d))
            for d in subdirs(folder)
        )

    def scan(self, root: Path) -> Discovery:
        found = Discovery(self.name, self.base)
        for entry in subdirs(self.base):
            folder_match = match_patient_folder(entry.name)
            if not folder_match:
                reason = "unknown naming: not inside a <id><well|poor>-<year> patient folder; skipped"
                found.files += [self.skipped(root, path, reason) for path in audio_under(entry)]
                continue
            _scan_patient(found, root, entry, folder_match, self.prefix)
        return found

    def read_labels(self, load: Loading) -> None:
        path, name, note = sheet_path(load.root, load.found.base, load.metadata)
        if note is not None:
            load.problems.append(Problem(name, "warning", note))
        if path is None:
            return
        sheet, notes = read_sheet_or_spare(path, display_name=name, spare=load.metadata is None)
        load.problems.extend(Problem(name, severity, reason) for severity, reason in notes)
        if sheet is None:
            return
        join_sheet(sheet, load.patients, load.problems, self.private_by_key)
        self.sheet = sheet

    def findings(self, load: Loading) -> dict[str, dict[str, object]]:
        sheet, patients = self.sheet, load.patients
        if sheet is None:
            return {}
        clinical = {
            key: parse_sheet_fields(p, sheet, load.problems, load.identifiers)
            for key, p in patients.items()
            if p.sheet_row is not None
        }
        for key in sorted(set(patients) - load.folder_patients, key=lambda k: patients[k].pseudonym):
            load.problems.append(
                Problem(
                    sheet.where(int(patients[key].sheet_row or 0)),
                    "warning",
                    f"patient in the sheet with no recordings: {patients[key].pseudonym} has no patient "
                    "folder or audio file; kept in the patients table with 0 recordings",
                )
            )
        return clinical

    def recording_label(self, item: FoundFile, patient: PatientRecord, outcomes) -> int | None:
        return outcomes[patient.key]

    def no_label_reason(self, item: FoundFile, patient: PatientRecord, *, conflict: bool) -> str:
        if conflict:
            return f"the outcome sources of patient {patient.pseudonym} disagree"
        return (
            f"patient {patient.pseudonym} has no outcome "
            "(no well/poor in the folder name and none in the sheet)"
        )

    def group_source(self, patient: PatientRecord) -> str:
        return " + ".join(g.replace(patient.key, patient.pseudonym) for g in patient.groups)


def _scan_patient(
    found: Discovery, root: Path, entry: Path, folder_match: re.Match[str], prefix: list[tuple[str, PartKind]]
) -> None:
    """The recordings of one patient folder (or a note that it holds none)."""
    speaker = folder_match["id"]
    outcome = FOLDER_OUTCOMES.get((folder_match["outcome"] or "").casefold())
    year = int(folder_match["year"]) if folder_match["year"] else None
    folder_part: tuple[str, PartKind] = (marked(entry.name, *folder_match.span("id")), "mark")
    common = {"speaker": speaker, "label": outcome, "group": entry.name, "year": year}
    files = list(audio_under(entry))
    if not files:
        found.notes.append(
            FoundFile(
                entry,
                entry.relative_to(root).as_posix(),
                (*prefix, folder_part),
                issue=("warning", "patient folder holds no audio files"),
                **common,
            )
        )
    for path in files:
        inner = path.relative_to(entry).parts
        subfolders: list[tuple[str, PartKind]] = [
            (p, "keep" if p.casefold() in ("pre", "post") else "unknown") for p in inner[:-1]
        ]
        rel = path.relative_to(root).as_posix()
        file_match = STUDY_FILE.match(path.stem)
        if not file_match or file_match["id"] != speaker:
            why = "the id in the file name differs from its folder's" if file_match else _EXPECTED_FILE
            parts = (*prefix, folder_part, *subfolders, (path.name, "unknown"))
            found.files.append(
                FoundFile(path, rel, parts, issue=("error", f"unknown naming: {why}; skipped"), **common)
            )
            continue
        phase = PHASE_BY_LETTER[file_match["phase"].upper()]
        placed = {p.casefold() for p in inner[:-1]} & {"pre", "post"}
        issue: tuple[Severity, str] | None = None
        if placed and phase not in placed:
            issue = (
                "warning",
                f"misplaced: named {file_match['phase'].upper()} ({phase}) but stored in "
                f"{'/'.join(sorted(placed))}/; phase taken from the name; kept",
            )
        parts = (*prefix, folder_part, *subfolders, (marked(path.name, *file_match.span("id")), "mark"))
        found.files.append(
            FoundFile(
                path,
                rel,
                parts,
                phase=phase,
                vowel=VOWEL_BY_NUMBER[file_match["vowel"]],
                issue=issue,
                **common,
            )
        )
