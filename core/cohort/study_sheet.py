"""The study's metadata sheet: find it, join its rows to the patient folders, parse the clinical columns.

Rows are joined by ID or 病歷號 (leading zeros ignored); a row without a folder becomes a
sheet-only patient. Bad cells become warnings and are left empty; names and IDs read here
are kept only to be redacted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from core.cohort.cells import (
    parse_amount,
    parse_approach,
    parse_cause,
    parse_number,
    parse_outcome,
    parse_sex,
    parse_side,
    parse_year,
)
from core.cohort.layout_base import PatientRecord
from core.cohort.metadata import Sheet, find_sheet
from core.cohort.pseudonyms import redact_text
from core.cohort.validation import Problem
from core.errors import CohortError


def sheet_path(root: Path, base: Path, metadata: str | Path | None) -> tuple[Path | None, str, str | None]:
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


def join_sheet(
    sheet: Sheet,
    patients: dict[str, PatientRecord],
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
            patient = patients[key] = PatientRecord(key)
            by_join[_join_key(key)] = key
        patient.sheet_row = int(row["sheet_row"])
        patient.fields = row
        identifiers_by_key.setdefault(key, set()).update(private)


def _parse_count(value: object, *, field: str) -> int | None:
    number = parse_number(value, field=field)
    if number is not None and not float(number).is_integer():
        raise CohortError(f"{field} {value!r} not understood; expected a whole number")
    return None if number is None else int(number)


#: Sheet column → parser of its cell, for the patients table.
_CELL_PARSERS: dict[str, Callable[[object], object]] = {
    "sex": parse_sex,
    "age": lambda v: parse_number(v, field="age"),
    "side": parse_side,
    "cause": parse_cause,
    "technique": lambda v: str(v).strip() or None,
    "approach": parse_approach,
    "injection_no": lambda v: _parse_count(v, field="injection no."),
    "total_injections": lambda v: _parse_count(v, field="total injections"),
}


def _amounts(row: Mapping[str, object], where: str, problems: list[Problem], identifiers: Mapping[str, str]):
    """``amount_r``/``amount_l`` totals in ml; unreadable or inconsistent cells → warnings."""
    values: dict[str, object] = {}
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
    return values


def parse_sheet_fields(
    patient: PatientRecord, sheet: Sheet, problems: list[Problem], identifiers: Mapping[str, str]
) -> dict[str, object]:
    """Clinical columns of the patient's sheet row → patient-table values; bad cells → warnings."""
    row = patient.fields
    where = sheet.where(int(patient.sheet_row or 0))
    values: dict[str, object] = {}

    def warn(exc: CohortError) -> None:
        problems.append(Problem(where, "warning", f"{redact_text(str(exc), identifiers)}; left empty"))

    for column, parser in _CELL_PARSERS.items():
        if column not in row:
            continue
        try:
            values[column] = parser(row[column])
        except CohortError as exc:
            warn(exc)
    values.update(_amounts(row, where, problems, identifiers))
    if row.get("date"):
        try:
            values["sheet_year"] = parse_year(row["date"])
        except CohortError as exc:
            warn(exc)
    if row.get("outcome"):
        try:
            patient.sheet_outcome = parse_outcome(row["outcome"])
        except CohortError as exc:
            problems.append(
                Problem(where, "error", f"label not understood: {redact_text(str(exc), identifiers)}")
            )
    return values
