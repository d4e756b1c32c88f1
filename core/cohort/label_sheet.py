"""The label-sheet layout: a CSV/XLSX table names each audio file, its speaker and its label.

Any folder of recordings loads when a sheet says which file is whose and what class it
is: one row per file with a path (relative to the sheet's folder or the cohort root, or
absolute), a patient/speaker id and a label, optionally the vowel, phase and take. Column
names are detected when not given (``path``/``file``/``sound.files``…, ``participant_id``/
``speaker``…, ``label``/``group``/``diagnosis``…). The positive class (label 1) is the
value given, or is inferred only when the values leave no doubt (1/0, yes/no, poor/well,
PD vs HC …). Listed files that do not exist and audio under the folder that the sheet does
not list become problem rows; speaker ids are replaced by pseudonyms like everywhere else.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from core.cohort.cells import cell_text, parse_number, parse_sex
from core.cohort.found import (
    ASSUMED_VOWEL,
    SPEAKER_MARK,
    Discovery,
    FoundFile,
    PartKind,
    audio_under,
    skipped_file,
)
from core.cohort.layout_base import CohortLayout, PatientRecord
from core.cohort.sheet_columns import (
    PHASES,
    VOWEL_NAMES,
    SheetColumns,
    class_names,
    detect_columns,
    label_values,
    resolve_positive,
)
from core.cohort.validation import Severity
from core.errors import CohortError

LAYOUT = "label_sheet"


def read_label_table(path: Path) -> pd.DataFrame:
    """A CSV/XLSX sheet as text cells (first row = headers, first worksheet of a workbook).

    CSV files are read as UTF-8 (then Big5/cp950, then Latin-1), separated by commas,
    or by semicolons or tabs when a comma gives a single column.

    Raises
    ------
    CohortError
        The file is missing, cannot be parsed, or has no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise CohortError(f"label sheet {str(path)!r} is not a file; expected a .csv or .xlsx table")
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            frame = pd.read_excel(path, sheet_name=0, dtype=object)
        else:
            frame = _read_csv(path)
    except Exception as exc:  # pandas/openpyxl raise many types for damaged files
        raise CohortError(
            f"label sheet {path.name} cannot be read ({type(exc).__name__}: {exc}); "
            "expected a .csv or .xlsx table with a header row"
        ) from None
    if frame is None or frame.empty:
        raise CohortError(f"label sheet {path.name} has no rows under its header")
    frame.columns = [cell_text(c) for c in frame.columns]
    return frame.map(cell_text)


def _parse_vowel(text: str) -> str | None:
    key = text.strip().strip("/[]").strip().upper()
    return VOWEL_NAMES.get(key)


def _parse_take(text: str) -> int | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() and number >= 1 else None


def _display_parts(rel: str, speaker: str | None) -> tuple[tuple[str, PartKind], ...]:
    """Path parts for display: the speaker id marked where it appears, everything else redacted by rule."""
    parts: list[tuple[str, PartKind]] = []
    for part in rel.split("/"):
        if speaker and speaker in part:
            parts.append((part.replace(speaker, SPEAKER_MARK), "mark"))
        else:
            parts.append((part, "unknown"))
    return tuple(parts)


_Note = Callable[[int | None, Severity, str], None]


def _column_notes(columns: SheetColumns, note: _Note) -> None:
    """Warnings for the optional columns a sheet lacks (patient, vowel)."""
    if columns.patient is None:
        note(
            None,
            "warning",
            "no patient/speaker column: each file is taken as its own speaker; name the "
            "column with --patient-column if a speaker has several files",
        )
    if columns.vowel is None:
        note(
            None,
            "warning",
            f"no vowel column: every recording is taken as a sustained /a/ (vowel "
            f"{ASSUMED_VOWEL}); name the column with --vowel-column otherwise",
        )


class _RowReader:
    """Reads sheet rows into :class:`FoundFile`; numbers the takes of rows without a take column."""

    def __init__(self, root: Path, columns: SheetColumns, positive: str, name: str) -> None:
        self.root, self.columns, self.positive, self.name = root, columns, positive, name
        self.takes: Counter[tuple[str, str, str]] = Counter()

    def read(self, path: Path, row: dict[str, str], sheet_row: int) -> FoundFile:
        columns = self.columns
        try:
            rel = path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            rel = path.name
        speaker = row[columns.patient] if columns.patient else Path(rel).with_suffix("").as_posix()
        vowel = _parse_vowel(row[columns.vowel]) if columns.vowel and row[columns.vowel] else ASSUMED_VOWEL
        phase = PHASES.get(row[columns.phase].casefold()) if columns.phase and row[columns.phase] else "pre"
        take = _parse_take(row[columns.take]) if columns.take and row[columns.take] else None
        issue = self._issue(row, sheet_row, speaker=speaker, vowel=vowel, phase=phase, take=take)
        if take is None and issue is None:
            # without a take column, a speaker's files of one phase and vowel are numbered in sheet order
            self.takes[(speaker, str(phase), str(vowel))] += 1
            take = self.takes[(speaker, str(phase), str(vowel))]
        return FoundFile(
            path,
            rel,
            _display_parts(rel, speaker or None),
            speaker if issue is None else None,
            phase=phase,
            vowel=vowel,
            take=take or 1,
            label=None if not row[columns.label] else int(row[columns.label] == self.positive),
            group=self.name,
            issue=issue,
        )

    def _issue(
        self,
        row: dict[str, str],
        sheet_row: int,
        *,
        speaker: str,
        vowel: str | None,
        phase: str | None,
        take: int | None,
    ) -> tuple[Severity, str] | None:
        """Why a row is skipped (no speaker, a vowel, phase or take not understood), or None."""
        columns, where = self.columns, f"{self.name} row {sheet_row}"
        if not speaker:
            return ("error", f"{where} has no patient/speaker id; skipped")
        if vowel is None:
            return (
                "error",
                f"{where}: vowel {row[str(columns.vowel)]!r} not understood; expected "
                "A, I, U, E or 1..4; skipped",
            )
        if phase is None:
            return (
                "error",
                f"{where}: phase {row[str(columns.phase)]!r} not understood; expected "
                "pre/post (or S/A); skipped",
            )
        if columns.take and row[columns.take] and take is None:
            return (
                "error",
                f"{where}: take {row[columns.take]!r} not understood; expected "
                "a whole number from 1; skipped",
            )
        return None


@dataclass(frozen=True)
class LabelSheet:
    """A label sheet and how to read it (the columns not given are detected on reading).

    Attributes
    ----------
    path : Path
        The CSV/XLSX sheet.
    columns : SheetColumns
        Columns given by the user (None = detect).
    positive : str, optional
        Label value of the positive class (label 1); None = infer when unambiguous.
    """

    path: Path
    columns: SheetColumns = field(default_factory=SheetColumns)
    positive: str | None = None

    def resolved(
        self, table: pd.DataFrame | None = None
    ) -> tuple[pd.DataFrame, SheetColumns, str, list[str]]:
        """The sheet's table, every column settled, the positive value as written, all label values."""
        table = read_label_table(self.path) if table is None else table
        columns = detect_columns(list(table.columns), self.columns)
        values = label_values(table, str(columns.label))
        return table, columns, resolve_positive(values, self.positive, column=str(columns.label)), values

    def preview(self, root: Path) -> pd.DataFrame:
        """Counts per label value, without reading audio.

        Returns
        -------
        pd.DataFrame
            Columns ``value, label, class_name, rows, patients, files_found``: one row per
            label value (plus "(empty)" when some rows have none).
        """
        table, columns, positive, values = self.resolved()
        names = class_names(values, positive)
        label_col = str(columns.label)
        patients = table[columns.patient] if columns.patient else table[str(columns.path)]
        found = table[str(columns.path)].map(lambda cell: self.find_file(Path(root), cell) is not None)
        rows = []
        for value in [*values, ""] if (table[label_col] == "").any() else values:
            mask = table[label_col] == value
            label = pd.NA if not value else int(value == positive)
            rows.append(
                {
                    "value": value or "(empty)",
                    "label": label,
                    "class_name": "unlabelled" if not value else names[int(value == positive)],
                    "rows": int(mask.sum()),
                    "patients": int(patients[mask & (patients != "")].nunique()),
                    "files_found": int(found[mask].sum()),
                }
            )
        return pd.DataFrame(rows, columns=["value", "label", "class_name", "rows", "patients", "files_found"])

    def find_file(self, root: Path, cell: str) -> Path | None:
        """The file a path cell names: relative to the sheet's folder, then to the root, or absolute."""
        text = cell.replace("\\", "/").strip()
        if not text:
            return None
        for base in dict.fromkeys([self.path.parent, root]):
            candidate = base / text
            if candidate.is_file():
                return candidate
        return None

    def discover(self, root: Path) -> Discovery:
        """Every sheet row and every audio file under ``root`` as :class:`FoundFile` (no audio read).

        Raises
        ------
        CohortError
            The sheet cannot be read, a column cannot be found, or the positive class is unclear.
        """
        root = Path(root)
        table, columns, positive, values = self.resolved()
        try:
            name = self.path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            name = self.path.name
        found = Discovery(LAYOUT, root, class_names=class_names(values, positive))

        def note(row: int | None, severity: Severity, reason: str) -> None:
            where = f"{name} row {row}" if row is not None else name
            found.notes.append(FoundFile(self.path, name, ((where, "keep"),), None, issue=(severity, reason)))

        _column_notes(columns, note)
        listed: dict[Path, int] = {}
        rows = _RowReader(root, columns, positive, name)
        clinical: dict[str, dict[str, object]] = defaultdict(dict)
        for offset, row in enumerate(table.to_dict("records")):
            sheet_row = offset + 2  # as a spreadsheet numbers it, under the header
            path = self._listed_file(root, row[columns.path], sheet_row, listed, note)
            if path is None:
                continue
            item = rows.read(path, row, sheet_row)
            found.files.append(item)
            if item.issue is None:
                self._clinical(row, columns, clinical[str(item.speaker)], note, sheet_row)
        found.clinical = dict(clinical)
        for path in audio_under(root):
            if path.resolve() not in listed:
                reason = f"not listed in the label sheet {name}; skipped"
                found.files.append(skipped_file(root, path, reason))
        return found

    def _listed_file(
        self, root: Path, cell: str, sheet_row: int, listed: dict[Path, int], note: _Note
    ) -> Path | None:
        """The file a row names, once: missing paths, missing files and repeated files → error notes."""
        path = self.find_file(root, cell)
        if not cell:
            note(sheet_row, "error", "row has no file path; skipped")
            return None
        if path is None:
            note(
                sheet_row,
                "error",
                "listed in the label sheet but no such file (looked beside the sheet and "
                "under the cohort folder); skipped",
            )
            return None
        key = path.resolve()
        if key in listed:
            note(
                sheet_row,
                "error",
                f"the same file is already listed in row {listed[key]}; this row is ignored",
            )
            return None
        listed[key] = sheet_row
        return path

    @staticmethod
    def _clinical(
        row: dict[str, str], columns: SheetColumns, values: dict[str, object], note: _Note, sheet_row: int
    ) -> None:
        """Sex and age of the speaker from the first row that gives them; bad cells → warnings."""
        for key, column, parser in (
            ("sex", columns.sex, parse_sex),
            ("age", columns.age, lambda v: parse_number(v, field="age")),
        ):
            if not column or not row[column] or values.get(key) is not None:
                continue
            try:
                values[key] = parser(row[column])
            except CohortError as exc:
                note(sheet_row, "warning", f"{exc}; left empty")

    def with_columns(self, **columns: str | None) -> LabelSheet:
        """A copy with some columns set."""
        return replace(self, columns=replace(self.columns, **columns))


def _read_csv(path: Path) -> pd.DataFrame:
    for encoding in ("utf-8-sig", "cp950", "latin-1"):
        try:
            text = path.read_text(encoding=encoding)
        except UnicodeDecodeError:
            continue
        frame = pd.DataFrame()
        for sep in (",", ";", "\t"):
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep)
            if frame.shape[1] > 1:
                break
        return frame
    raise CohortError(f"label sheet {path.name} is not text in UTF-8, Big5 or Latin-1")


def find_label_sheets(root: Path, *, depth: int = 2, limit: int = 50) -> list[Path]:
    """CSV/XLSX files in ``root`` and up to ``depth`` folders down (hidden ones skipped), shallowest first."""
    root = Path(root)
    found = [
        path
        for path in root.rglob("*")
        if path.is_file()
        and path.suffix.lower() in (".csv", ".xlsx", ".xlsm", ".xls")
        and len(path.relative_to(root).parts) <= depth + 1
        and not any(part.startswith((".", "~$")) for part in path.relative_to(root).parts)
    ]
    return sorted(found, key=lambda p: (len(p.relative_to(root).parts), p.as_posix().casefold()))[:limit]


class LabelSheetLayout(CohortLayout):
    """Any folder read through a label sheet: the label of each recording is its row's label."""

    name = LAYOUT
    label_origin = "sheet rows"

    def __init__(self, label_sheet: LabelSheet) -> None:
        super().__init__()
        self.label_sheet = label_sheet

    def discover(self, root: Path) -> Discovery:
        return self.label_sheet.discover(root)

    def no_label_reason(self, item: FoundFile, patient: PatientRecord, *, conflict: bool) -> str:
        return f"its label cell in {item.group} is empty"

    def sheet_paths(self, root: Path) -> list[Path]:
        return [self.label_sheet.path]
