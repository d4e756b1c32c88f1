"""Header matching and sheet reading of core.cohort.metadata, on the messy headers of clinic sheets."""

from __future__ import annotations

import pytest

from core.cohort.metadata import HEADER_ALIASES, find_sheet, match_headers, normalise_header, read_sheet
from core.errors import CohortError


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Amount R", "amount_r"),
        ("amount_r", "amount_r"),
        ("  AMOUNT  R ", "amount_r"),
        ("Sub/Tran", "approach"),
        ("sub / tran", "approach"),
        ("Injection Tech", "technique"),
        ("病歷號", "record_no"),
        ("姓名", "name"),
        ("側性", "side"),
        ("總次數", "total_injections"),
        ("次數", "injection_no"),
        ("預後", "outcome"),
        ("Outcome", "outcome"),
        ("院區", "campus"),
        ("Inj point L", "inj_point_l"),
        ("ＩＤ", "id"),
    ],
)
def test_headers_match_aliases_after_folding(header: str, field: str) -> None:
    assert match_headers([header], HEADER_ALIASES) == {0: field}


def test_normalise_header_folds_case_space_and_punctuation() -> None:
    assert normalise_header(" Amount (R) ") == normalise_header("amount_r") == "amountr"


def test_read_sheet_finds_the_header_below_a_title_line(tmp_path) -> None:
    path = tmp_path / "sheet.csv"
    path.write_text(
        "Injection laryngoplasty 2022,,,\nID,Sex,Age,Amount L\n123,F,60,0.8(0.3+0.5)\n,,,\n456,M,71,1\n",
        encoding="utf-8",
    )
    sheet = read_sheet(path)
    assert list(sheet.rows.columns) == ["id", "sex", "age", "amount_l", "sheet_row"]
    assert sheet.rows["id"].tolist() == ["123", "456"]
    assert sheet.rows["sheet_row"].tolist() == [3, 5]  # spreadsheet row numbers, blank row skipped
    assert sheet.where(5) == "sheet.csv row 5"


def test_read_sheet_reads_big5_csv_exported_by_taiwanese_excel(tmp_path) -> None:
    path = tmp_path / "metadata.csv"
    path.write_bytes("病歷號,側性,預後\n1234567,左,well\n".encode("cp950"))
    rows = read_sheet(path).rows
    assert rows.loc[0, "record_no"] == "1234567" and rows.loc[0, "side"] == "左"


def test_read_sheet_without_known_headers_raises(tmp_path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("foo,bar\n1,2\n", encoding="utf-8")
    with pytest.raises(CohortError, match="notes.csv has no header row"):
        read_sheet(path)


def test_find_sheet_prefers_metadata_then_a_single_sheet(tmp_path) -> None:
    assert find_sheet(tmp_path) == (None, None)
    (tmp_path / "export.csv").write_text("ID\n", encoding="utf-8")
    assert find_sheet(tmp_path) == (tmp_path / "export.csv", None)
    (tmp_path / "other.xlsx").write_bytes(b"")
    path, note = find_sheet(tmp_path)
    assert path is None and "2 sheets found" in note
    (tmp_path / "Metadata.csv").write_text("ID\n", encoding="utf-8")
    assert find_sheet(tmp_path) == (tmp_path / "Metadata.csv", None)
