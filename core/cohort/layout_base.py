"""``CohortLayout``: the one interface every cohort layout (study, notebook, class folders, label sheet) has.

A layout is a strategy object made for one load. It finds the files (:meth:`CohortLayout.discover`,
names only), reads what labels its sheet or manifest gives (:meth:`read_labels`), settles each
patient's outcome and each recording's label, and words the problem rows that only it can
explain. :func:`core.cohort.loader.load_cohort` picks one and runs the same steps for all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.cohort.found import DEFAULT_CLASS_NAMES, Discovery, FoundFile
from core.cohort.metadata import Sheet
from core.cohort.validation import AudioCheck, Problem

#: Outcome words of the study's labels, for messages.
OUTCOME_WORDS: dict[int, str] = dict(enumerate(DEFAULT_CLASS_NAMES))


@dataclass
class PatientRecord:
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
class Usable:
    """A file that passed inspection: what discovery found, its shown path, what inspection saw."""

    item: FoundFile
    source: str
    check: AudioCheck


Outcomes = dict[str, int | None]


@dataclass
class Loading:
    """What one load has gathered so far, handed to the layout's hooks.

    Attributes
    ----------
    root : Path
        The cohort folder.
    found : Discovery
        What discovery found.
    metadata : str or Path or None
        The metadata sheet or manifest named by the caller (None: look in the folder).
    patients : dict of str to PatientRecord
        Raw key → patient; a sheet may add sheet-only patients.
    problems : list of Problem
        The validation report so far; hooks append to it.
    folder_patients : set of str
        Raw keys of the patients seen in file or folder names (before any sheet).
    identifiers : dict of str to str
        Every identifier → its pseudonym (filled once pseudonyms are assigned).
    """

    root: Path
    found: Discovery
    metadata: str | Path | None
    patients: dict[str, PatientRecord]
    problems: list[Problem] = field(default_factory=list)
    folder_patients: set[str] = field(default_factory=set)
    identifiers: dict[str, str] = field(default_factory=dict)


class CohortLayout:
    """Base of the layout strategies; the defaults read labels from folders (or sheet rows) per file.

    Attributes
    ----------
    name : str
        Layout name stored in the cohort and run manifests.
    label_origin : str
        What carries the labels, for conflict messages ("class folders", "patient folders" …).
    sheet : Sheet or None
        The metadata sheet or manifest read by :meth:`read_labels` (None: none).
    private_by_key : dict
        Raw patient key → identifiers (names, IDs) read from the sheet, to be redacted.
    """

    name: str = ""
    label_origin: str = "class folders"

    def __init__(self) -> None:
        self.sheet: Sheet | None = None
        self.private_by_key: dict[str, set[str]] = {}

    def discover(self, root: Path) -> Discovery:
        """Every audio file under ``root`` as a :class:`FoundFile` (names only, no audio read)."""
        raise NotImplementedError

    def read_labels(self, load: Loading) -> None:
        """Read the layout's sheet or manifest (default: none); may add sheet-only patients."""

    def findings(self, load: Loading) -> dict[str, dict[str, object]]:
        """Problem rows about the sheet once pseudonyms exist; returns raw key → clinical values."""
        return {}

    def settle_outcomes(self, load: Loading, kept: list[Usable]) -> tuple[Outcomes, set[str]]:
        """Patient outcome from folder names / sheet; disagreement → error, outcome unknown.

        Returns the outcome per raw patient key and the keys whose sources disagreed.
        """
        outcomes: Outcomes = {}
        conflicts: set[str] = set()
        for key, patient in load.patients.items():
            outcomes[key] = self._patient_outcome(patient, load.problems)
            if outcomes[key] is None and self._conflicting(patient):
                conflicts.add(key)
        return outcomes, conflicts

    def _conflicting(self, patient: PatientRecord) -> bool:
        folder = patient.folder_labels
        sheet = patient.sheet_outcome
        return len(folder) > 1 or (len(folder) == 1 and sheet is not None and sheet not in folder)

    def _patient_outcome(self, patient: PatientRecord, problems: list[Problem]) -> int | None:
        folder = patient.folder_labels
        if len(folder) > 1:
            problems.append(
                Problem(
                    self.group_source(patient),
                    "error",
                    f"conflicting outcomes for patient {patient.pseudonym}: its {self.label_origin} carry "
                    "different labels; patient outcome left unknown",
                )
            )
            return None
        from_folder = next(iter(folder), None)
        from_sheet = patient.sheet_outcome
        if from_folder is not None and from_sheet is not None and from_folder != from_sheet:
            word = OUTCOME_WORDS
            sheet = self.sheet
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
            return None
        return from_folder if from_folder is not None else from_sheet

    def recording_label(self, item: FoundFile, patient: PatientRecord, outcomes: Outcomes) -> int | None:
        """The label of one recording (default: the one its folder or sheet row gave)."""
        return item.label

    def no_label_reason(self, item: FoundFile, patient: PatientRecord, *, conflict: bool) -> str:
        """Why a recording has no label (the middle of the warning)."""
        raise NotImplementedError

    def group_source(self, patient: PatientRecord) -> str:
        """Problem source for a patient-level finding: the folder name(s)."""
        return " + ".join(patient.groups)

    def patient_cause(self, patient: PatientRecord) -> str | None:
        """The patients table's ``cause`` when the sheet gives none."""
        return None

    def sheet_paths(self, root: Path) -> list[Path]:
        """Sheets read for this cohort (they are counted as used in the file inventory)."""
        return [root / self.sheet.name] if self.sheet is not None else []
