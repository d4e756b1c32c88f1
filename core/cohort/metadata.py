"""Metadata sheets: finding and reading them, and matching their headers to fields.

The study's sheet has Chinese and English headers typed by hand, so headers are matched
after Unicode/case/space/punctuation folding against generous alias lists. The values of
its cells are parsed by :mod:`core.cohort.cells`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.cohort.cells import cell_text
from core.errors import CohortError

#: Canonical field → accepted headers (compared after :func:`normalise_header`).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "type": ("type", "類型", "类型", "分類", "分类", "group"),
    "date": ("date", "日期", "手術日期", "手术日期", "surgery date", "injection date", "visit date"),
    "campus": ("院區", "院区", "campus", "site", "hospital", "branch"),
    "name": ("姓名", "name", "patient name", "病人姓名", "患者姓名", "full name"),
    "id": (
        "id",
        "patient id",
        "pid",
        "身分證",
        "身分證字號",
        "身份證",
        "身份证",
        "national id",
        "subject id",
    ),
    "record_no": (
        "病歷號",
        "病歷號碼",
        "病历号",
        "病歷編號",
        "record no",
        "record number",
        "medical record",
        "medical record number",
        "chart no",
        "chart number",
        "mrn",
        "病歷",
    ),
    "sex": ("sex", "gender", "性別", "性别"),
    "age": ("age", "年齡", "年龄", "age years"),
    "total_injections": ("總次數", "总次数", "total injections", "total", "total times", "n injections"),
    "injection_no": ("次數", "次数", "injection no", "injection number", "injection", "times", "nth"),
    "side": ("側性", "侧性", "側別", "患側", "side", "laterality", "lesion side"),
    "cause": ("cause", "etiology", "aetiology", "diagnosis", "病因", "原因", "診斷", "诊断"),
    "technique": (
        "injection tech",
        "injection technique",
        "technique",
        "tech",
        "注射技術",
        "注射技术",
        "技術",
    ),
    "approach": ("sub/tran", "sub tran", "subtran", "approach", "route", "注射路徑", "路徑"),
    "amount_r": (
        "amount r",
        "amount right",
        "r amount",
        "right amount",
        "注射量r",
        "右側注射量",
        "右注射量",
        "劑量r",
    ),
    "inj_point_r": ("inj point r", "injection point r", "point r", "注射點r", "右注射點", "右側注射點"),
    "amount_l": (
        "amount l",
        "amount left",
        "l amount",
        "left amount",
        "注射量l",
        "左側注射量",
        "左注射量",
        "劑量l",
    ),
    "inj_point_l": ("inj point l", "injection point l", "point l", "注射點l", "左注射點", "左側注射點"),
    "outcome": ("outcome", "預後", "预后", "label", "result", "prognosis", "結果", "術後狀況", "well/poor"),
}

#: Headers of the notebook's label manifest (``sound.files``, ``outcome``).
MANIFEST_ALIASES: dict[str, tuple[str, ...]] = {
    "file": (
        "sound.files",
        "sound files",
        "sound file",
        "file",
        "files",
        "filename",
        "file name",
        "wav",
        "path",
    ),
    "outcome": HEADER_ALIASES["outcome"],
}

#: Fields that identify a person: read to join, never copied to a returned table.
IDENTIFYING_FIELDS: tuple[str, ...] = ("name", "id", "record_no")

SHEET_SUFFIXES: tuple[str, ...] = (".xlsx", ".xlsm", ".xls", ".csv")

_FOLD = re.compile(r"[\s_\-./()\[\]:#,;'\"]+")


def normalise_header(header: object) -> str:
    """Fold a header for alias matching: NFKC, case-fold, drop spaces and punctuation."""
    return _FOLD.sub("", unicodedata.normalize("NFKC", str(header)).casefold())


def _alias_index(aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {normalise_header(alias): key for key, names in aliases.items() for alias in (key, *names)}


def match_headers(headers: list[object], aliases: dict[str, tuple[str, ...]]) -> dict[int, str]:
    """Column position → canonical field, for the headers that match an alias (first wins)."""
    index = _alias_index(aliases)
    found: dict[int, str] = {}
    for pos, header in enumerate(headers):
        key = index.get(normalise_header(header))
        if key is not None and key not in found.values():
            found[pos] = key
    return found


@dataclass(frozen=True)
class Sheet:
    """A metadata sheet or label manifest with canonical column names.

    Attributes
    ----------
    name : str
        Display name used in problem rows ("metadata.xlsx").
    rows : pd.DataFrame
        One row per data row, columns = recognised canonical fields (text cells), plus
        ``sheet_row``: the 1-based row number as a spreadsheet shows it.
    """

    name: str
    rows: pd.DataFrame

    def where(self, sheet_row: int) -> str:
        """Problem-row source for one row: "metadata.xlsx row 7"."""
        return f"{self.name} row {sheet_row}"


def _read_raw_frames(path: Path) -> list[pd.DataFrame]:
    """Every table in the file, all cells as objects, no header interpretation."""
    if path.suffix.lower() == ".csv":
        for encoding in ("utf-8-sig", "cp950", "latin-1"):
            try:
                return [pd.read_csv(path, header=None, dtype=str, keep_default_na=False, encoding=encoding)]
            except UnicodeDecodeError:
                continue
    sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=object)
    return list(sheets.values())


def read_sheet(
    path: Path,
    *,
    aliases: dict[str, tuple[str, ...]] = HEADER_ALIASES,
    display_name: str | None = None,
    required_any: tuple[str, ...] = (),
) -> Sheet:
    """Read a .xlsx/.csv sheet and rename its columns to canonical fields.

    The header row is the first of the first ten rows in which at least two headers match
    an alias (clinic sheets sometimes carry a title line above the header).

    Parameters
    ----------
    path : Path
        The sheet file.
    aliases : dict
        Canonical field → accepted headers.
    display_name : str, optional
        Name used in problem rows (default: the file name).
    required_any : tuple of str
        At least one of these fields must be present, else :class:`CohortError`.

    Raises
    ------
    CohortError
        The file cannot be parsed or has no recognisable header row.
    """
    name = display_name or path.name
    try:
        frames = _read_raw_frames(path)
    except Exception as exc:  # openpyxl/pandas raise many types for damaged files
        raise CohortError(
            f"sheet {name} cannot be read ({type(exc).__name__}); expected a .xlsx or .csv table"
        ) from None
    for frame in frames:
        for header_pos in range(min(10, len(frame))):
            columns = match_headers(list(frame.iloc[header_pos]), aliases)
            if len(columns) < 2:
                continue
            if required_any and not set(required_any) & set(columns.values()):
                continue
            body = frame.iloc[header_pos + 1 :, list(columns)].map(cell_text)
            body.columns = [columns[pos] for pos in columns]
            body["sheet_row"] = [header_pos + 2 + i for i in range(len(body))]
            body = body[(body.drop(columns="sheet_row") != "").any(axis=1)]
            return Sheet(name=name, rows=body.reset_index(drop=True))
    wanted = " or ".join(required_any) if required_any else "known column headers"
    raise CohortError(
        f"sheet {name} has no header row with {wanted}; expected headers such as "
        f"{', '.join(list(aliases)[:6])}"
    )


def read_sheet_or_spare(
    path: Path,
    *,
    display_name: str,
    spare: bool = True,
) -> tuple[Sheet | None, list[tuple[str, str]]]:
    """Read the metadata sheet; when it cannot be read, the copy of the same name beside it.

    An export often leaves ``metadata.xlsx`` and ``metadata.csv`` side by side; a damaged
    workbook then falls back to the CSV (and the other way round) with a warning.

    Parameters
    ----------
    path : Path
        The sheet chosen.
    display_name : str
        How it is named in problem rows (a path relative to the cohort folder).
    spare : bool
        Look for a spare copy (False when the user named the sheet).

    Returns
    -------
    sheet : Sheet or None
        The sheet read (its ``name`` says which file), or None when neither could be read.
    notes : list of (severity, reason)
        Rows for ``display_name``: a warning when the spare was used, an error when nothing was.
    """
    try:
        return read_sheet(path, display_name=display_name), []
    except CohortError as exc:
        failure = str(exc)
    spares = [path.with_suffix(s) for s in SHEET_SUFFIXES if s != path.suffix.lower()] if spare else []
    for candidate in spares:
        if not candidate.is_file():
            continue
        name = str(Path(display_name).with_name(candidate.name).as_posix())
        try:
            sheet = read_sheet(candidate, display_name=name)
        except CohortError as exc:
            failure += f"; the spare {name} beside it cannot be read either ({exc})"
            continue
        return sheet, [("warning", f"{failure}; {name} beside it is used instead")]
    return None, [("error", f"{failure}; clinical columns and sheet outcomes are not used")]


def find_sheet(folder: Path) -> tuple[Path | None, str | None]:
    """The metadata sheet in ``folder``: metadata.xlsx/.csv, else the only .xlsx/.csv there.

    Returns
    -------
    path : Path or None
        The sheet, or None when there is none or several candidates.
    note : str or None
        Why none was chosen when several candidates exist.
    """
    candidates = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in SHEET_SUFFIXES and not p.name.startswith((".", "~$"))
    )
    named = [p for p in candidates if p.stem.casefold() == "metadata"]
    if named:
        return sorted(named, key=lambda p: SHEET_SUFFIXES.index(p.suffix.lower()))[0], None
    if len(candidates) == 1:
        return candidates[0], None
    if candidates:
        return (
            None,
            f"{len(candidates)} sheets found and none is named metadata.xlsx/.csv; pass metadata= to choose",
        )
    return None, None
