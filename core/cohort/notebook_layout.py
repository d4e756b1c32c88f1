"""The notebook layout: a flat folder of ``<pid>_<S|A><vowel>_<clip>.wav`` plus a label manifest.

The manifest is a CSV with ``sound.files`` and ``outcome`` columns, one row per file; a
patient's outcome is the one its files agree on.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

from core.cohort.cells import parse_outcome
from core.cohort.folder_layout import FolderLayout
from core.cohort.found import (
    PHASE_BY_LETTER,
    VOWEL_BY_NUMBER,
    Discovery,
    FoundFile,
    audio_under,
    direct_audio,
    marked,
    subdirs,
)
from core.cohort.layout_base import Loading, Outcomes, PatientRecord, Usable
from core.cohort.metadata import MANIFEST_ALIASES, Sheet, match_headers, read_sheet
from core.cohort.study_sheet import sheet_path
from core.cohort.validation import AUDIO_SUFFIXES, Problem
from core.errors import CohortError

#: Notebook segment: ``20_S1_3`` (clip optional).
NOTEBOOK_FILE = re.compile(
    r"^(?P<speaker>[A-Za-z0-9]+)_(?P<phase>[SA])(?P<vowel>[1-4])(?:_(?P<clip>\d+))?$", re.IGNORECASE
)

#: File stem → (label, "labels.csv row 7"); label None when the row was rejected.
Manifest = dict[str, tuple[int | None, str]]


def _has_manifest(folder: Path) -> bool:
    for csv in folder.glob("*.csv"):
        try:
            with csv.open(encoding="utf-8-sig", errors="replace") as handle:
                header = handle.readline()
        except OSError:
            continue
        if len(match_headers(header.strip().split(","), MANIFEST_ALIASES)) == 2:
            return True
    return False


def _candidates(root: Path, base: Path, metadata: str | Path | None) -> list[tuple[Path, str]]:
    """Sheets that may be the manifest: the one given, else every CSV in the base and the root."""
    if metadata is not None:
        path, name, _ = sheet_path(root, base, metadata)
        return [(path, name)] if path is not None else []
    return [
        (p, p.relative_to(root).as_posix())
        for folder in dict.fromkeys([base, root])
        for p in sorted(folder.glob("*.csv"))
        if not p.name.startswith((".", "~$"))
    ]


def _manifest_stem(cell: object) -> str:
    stem = Path(str(cell).replace("\\", "/")).name
    return Path(stem).stem if Path(stem).suffix.lower() in AUDIO_SUFFIXES else stem


def _manifest_labels(sheet: Sheet, problems: list[Problem]) -> Manifest:
    """File stem → (label, row) from a manifest; bad and conflicting rows → error rows."""
    labels: Manifest = {}
    for row in sheet.rows.to_dict("records"):
        where = sheet.where(int(row["sheet_row"]))
        stem = _manifest_stem(row["file"])
        try:
            label = parse_outcome(row["outcome"])
        except CohortError as exc:
            problems.append(Problem(where, "error", f"label not understood: {exc}"))
            labels.setdefault(stem, (None, where))
            continue
        if label is None:
            continue
        earlier = labels.get(stem, (None, ""))
        if earlier[0] is not None and earlier[0] != label:
            problems.append(
                Problem(
                    where,
                    "error",
                    f"conflicting outcome for a file already labelled "
                    f"{earlier[0]} in {earlier[1]}; this row is ignored",
                )
            )
            continue
        if earlier[0] is None:
            labels[stem] = (label, where)
    return labels


def read_manifest(
    root: Path, base: Path, metadata: str | Path | None, problems: list[Problem]
) -> tuple[Manifest, Sheet | None]:
    """Notebook label manifest: the first candidate sheet with file and outcome columns, read."""
    for path, name in _candidates(root, base, metadata):
        try:
            sheet = read_sheet(path, aliases=MANIFEST_ALIASES, display_name=name, required_any=("file",))
        except CohortError:
            continue
        if {"file", "outcome"} <= set(sheet.rows.columns):
            return _manifest_labels(sheet, problems), sheet
    if metadata is not None:
        raise CohortError(f"metadata={str(metadata)!r} has no sound.files and outcome columns")
    return {}, None


class NotebookLayout(FolderLayout):
    """Flat segment files named by patient, phase and vowel; labels from the manifest per file."""

    name = "notebook"
    expected = "no audio files directly in the folder (expected <pid>_<S|A><vowel>_<clip>.wav)"

    def __init__(self, base: Path) -> None:
        super().__init__(base)
        self.manifest: Manifest = {}

    @staticmethod
    def fits(folder: Path, *, strict: bool) -> bool:
        audio = direct_audio(folder)
        if not audio:
            return False
        return not strict or any(NOTEBOOK_FILE.match(p.stem) for p in audio) or _has_manifest(folder)

    def scan(self, root: Path) -> Discovery:
        base, prefix = self.base, self.prefix
        found = Discovery(self.name, base)
        matches = [(path, NOTEBOOK_FILE.match(path.stem)) for path in direct_audio(base)]
        clips = [int(m["clip"]) for _, m in matches if m and m["clip"] is not None]
        # clips numbered from 0 become takes from 1, so take 1 is always the first clip
        offset = 1 if clips and min(clips) == 0 else 0
        for path, match in matches:
            if not match:
                reason = "unknown naming: expected <pid>_<S|A><1..4>_<clip>.wav; skipped"
                found.files.append(self.skipped(root, path, reason))
                continue
            found.files.append(
                FoundFile(
                    path,
                    path.relative_to(root).as_posix(),
                    (*prefix, (marked(path.name, *match.span("speaker")), "mark")),
                    match["speaker"],
                    phase=PHASE_BY_LETTER[match["phase"].upper()],
                    vowel=VOWEL_BY_NUMBER[match["vowel"]],
                    take=int(match["clip"]) + offset if match["clip"] is not None else 1,
                )
            )
        reason = "unknown naming: the notebook layout is a flat folder; files in sub-folders are skipped"
        found.files += [
            self.skipped(root, path, reason) for sub in subdirs(base) for path in audio_under(sub)
        ]
        return found

    def read_labels(self, load: Loading) -> None:
        self.manifest, self.sheet = read_manifest(load.root, load.found.base, load.metadata, load.problems)

    def findings(self, load: Loading) -> dict[str, dict[str, object]]:
        stems = {item.path.stem for item in load.found.files}
        load.problems.extend(
            Problem(where, "warning", "listed in the label manifest but no such audio file")
            for stem, (_, where) in self.manifest.items()
            if stem not in stems
        )
        return {}

    def settle_outcomes(self, load: Loading, kept: list[Usable]) -> tuple[Outcomes, set[str]]:
        """A patient's outcome is the one its files' manifest rows agree on; disagreement → error."""
        file_labels: dict[str, Counter[int]] = defaultdict(Counter)
        for entry in kept:
            label = self.manifest.get(entry.item.path.stem, (None, ""))[0]
            if label is not None:
                file_labels[entry.item.speaker or ""][label] += 1
        outcomes: Outcomes = {}
        conflicts: set[str] = set()
        for key, patient in load.patients.items():
            labels = file_labels.get(key, Counter())
            outcomes[key] = next(iter(labels), None) if len(labels) <= 1 else None
            if len(labels) > 1:
                counts = ", ".join(f"{n} file(s) say {lab}" for lab, n in sorted(labels.items()))
                where = self.sheet.name if self.sheet is not None else "label manifest"
                load.problems.append(
                    Problem(
                        where,
                        "error",
                        f"conflicting outcomes for patient {patient.pseudonym}: "
                        f"{counts}; patient outcome left unknown",
                    )
                )
                conflicts.add(key)
        return outcomes, conflicts

    def recording_label(self, item: FoundFile, patient: PatientRecord, outcomes: Outcomes) -> int | None:
        return self.manifest.get(item.path.stem, (None, ""))[0]

    def no_label_reason(self, item: FoundFile, patient: PatientRecord, *, conflict: bool) -> str:
        row = self.manifest.get(item.path.stem, (None, None))[1]
        if row:
            return f"its outcome in {row} was not understood"
        return "the file is not in the label manifest"
