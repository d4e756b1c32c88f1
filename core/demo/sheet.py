"""The metadata sheet as ``metadata.xlsx`` and ``metadata.csv``, byte-identical for equal rows.

openpyxl stamps the save time into ``docProps/core.xml`` and into every zip entry; both
are replaced by a fixed instant so the file depends on its content only.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook

#: Instant written as the workbook's creation/modification time and every zip entry's time.
FIXED_TIME = datetime(2025, 1, 12, 0, 0, 0)
_W3CDTF = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_sheets(
    rows: Sequence[dict[str, object]], *, columns: Sequence[str], folder: Path
) -> tuple[Path, Path]:
    """Write the rows as ``metadata.xlsx`` and ``metadata.csv`` (UTF-8 with BOM) in ``folder``.

    Parameters
    ----------
    rows : sequence of dict
        One mapping per patient; missing or ``None`` values are empty cells.
    columns : sequence of str
        Header, in order.
    folder : Path
        Destination folder (must exist).

    Returns
    -------
    xlsx, csv : Path
    """
    xlsx_path = folder / "metadata.xlsx"
    csv_path = folder / "metadata.csv"
    xlsx_path.write_bytes(_xlsx_bytes(rows, columns=columns))
    with csv_path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(row.get(c)) for c in columns])
    return xlsx_path, csv_path


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _xlsx_bytes(rows: Sequence[dict[str, object]], *, columns: Sequence[str]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Sheet1"
    sheet.append(list(columns))
    for row in rows:
        sheet.append([row.get(c) for c in columns])
    for cell in sheet["B"][1:]:
        cell.number_format = "yyyy/m/d"
    workbook.properties.creator = "core.demo"
    workbook.properties.created = FIXED_TIME
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _with_fixed_times(buffer.getvalue())


def _with_fixed_times(xlsx: bytes) -> bytes:
    """Rewrite an xlsx zip with :data:`FIXED_TIME` in its properties and entry headers."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(xlsx)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                    rb"\g<1>" + _W3CDTF.encode() + rb"\g<2>",
                    data,
                )
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, data)
    return out.getvalue()
