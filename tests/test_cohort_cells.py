"""Cell parsers of core.cohort.cells, on the messy values of clinic sheets."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from core.cohort.cells import (
    Amount,
    parse_amount,
    parse_approach,
    parse_cause,
    parse_number,
    parse_outcome,
    parse_sex,
    parse_side,
    parse_year,
)
from core.errors import CohortError


@pytest.mark.parametrize(
    ("cell", "total", "parts"),
    [
        ("1", 1.0, ()),
        ("0.8", 0.8, ()),
        ("1(0.3+0.7)", 1.0, (0.3, 0.7)),
        ("0.8(0.3+0.5)", 0.8, (0.3, 0.5)),
        (" 0.5 ml", 0.5, ()),
        ("0.5ML", 0.5, ()),
        ("1 cc", 1.0, ()),
        ("1 (0.4 + 0.6)", 1.0, (0.4, 0.6)),
        ("0.7（0.2＋0.5）", 0.7, (0.2, 0.5)),  # full-width brackets and plus from a Chinese IME
        ("0,8", 0.8, ()),  # decimal comma
        (".5", 0.5, ()),
        ("(0.3+0.7)", 1.0, (0.3, 0.7)),  # no total written: the parts add up to it
        ("1(0.3+0.5)", 1.0, (0.3, 0.5)),  # parts disagree: total still parsed
        (0.9, 0.9, ()),  # xlsx numeric cell
        (1, 1.0, ()),
        ("", None, ()),
        ("  ", None, ()),
        ("-", None, ()),
        (None, None, ()),
        (float("nan"), None, ()),
    ],
)
def test_parse_amount_reads_clinic_cells(cell: object, total: float | None, parts: tuple[float, ...]) -> None:
    amount = parse_amount(cell)
    if total is None:
        assert amount.total_ml is None
    else:
        assert amount.total_ml == pytest.approx(total)
    assert amount.parts_ml == pytest.approx(parts)


@pytest.mark.parametrize(
    ("cell", "consistent"),
    [
        ("1(0.3+0.7)", True),
        ("0.8(0.3+0.5)", True),
        ("1(0.3+0.5)", False),
        ("0.5(0.5+0.5)", False),
        ("1", True),
    ],
)
def test_parse_amount_flags_parts_that_disagree_with_the_total(cell: str, consistent: bool) -> None:
    assert parse_amount(cell).consistent is consistent


@pytest.mark.parametrize("cell", ["abc", "1..2", "1(0.3+x)", "1(0.3+0.7", "0.5 ml R", "1/2"])
def test_parse_amount_rejects_garbage_naming_the_value(cell: str) -> None:
    with pytest.raises(CohortError, match="not understood"):
        parse_amount(cell)


def test_amount_is_a_small_value_type() -> None:
    assert parse_amount("1(0.3+0.7)") == Amount(1.0, (0.3, 0.7))


@pytest.mark.parametrize(
    ("cell", "label"),
    [
        ("well", 0),
        ("Well ", 0),
        ("GOOD", 0),
        ("0", 0),
        (0.0, 0),
        ("poor", 1),
        ("Poor", 1),
        ("bad", 1),
        ("1", 1),
        (1, 1),
        ("1.0", 1),
        ("", None),
        (None, None),
        (float("nan"), None),
    ],
)
def test_parse_outcome_accepts_words_and_digits(cell: object, label: int | None) -> None:
    assert parse_outcome(cell) == label


@pytest.mark.parametrize("cell", ["maybe", "2", "fair", "0.5"])
def test_parse_outcome_rejects_other_text(cell: str) -> None:
    with pytest.raises(CohortError, match=f"outcome '{cell}' not understood"):
        parse_outcome(cell)


@pytest.mark.parametrize(
    ("cell", "side"),
    [
        ("L", "L"),
        ("left", "L"),
        ("Left", "L"),
        ("R", "R"),
        ("right", "R"),
        ("B", "B"),
        ("bilateral", "B"),
        ("左", "L"),
        ("右", "R"),
        ("雙側", "B"),
        ("", None),
    ],
)
def test_parse_side(cell: str, side: str | None) -> None:
    assert parse_side(cell) == side


@pytest.mark.parametrize(
    ("cell", "cause"),
    [
        ("VP", "palsy"),
        ("palsy", "palsy"),
        ("Vocal palsy", "palsy"),
        ("atro", "atrophy"),
        ("Atrophy", "atrophy"),
        ("sulcus", "sulcus"),
        ("", None),
    ],
)
def test_parse_cause(cell: str, cause: str | None) -> None:
    assert parse_cause(cell) == cause


@pytest.mark.parametrize(
    ("cell", "approach"), [("Sub", "sub"), ("tran", "tran"), ("Tran", "tran"), ("", None)]
)
def test_parse_approach(cell: str, approach: str | None) -> None:
    assert parse_approach(cell) == approach


@pytest.mark.parametrize(("cell", "sex"), [("F", "F"), ("female", "F"), ("女", "F"), ("M", "M"), ("男", "M")])
def test_parse_sex(cell: str, sex: str) -> None:
    assert parse_sex(cell) == sex


def test_parse_side_and_sex_reject_unknown_values() -> None:
    with pytest.raises(CohortError, match="side 'X'"):
        parse_side("X")
    with pytest.raises(CohortError, match="sex '3'"):
        parse_sex("3")


@pytest.mark.parametrize(
    ("cell", "year"),
    [
        ("2022/4/15", 2022),
        ("2021-11-03 00:00:00", 2021),
        (pd.Timestamp("2020-02-01"), 2020),
        ("111/4/15", 2022),
    ],
)
def test_parse_year(cell: object, year: int) -> None:
    assert parse_year(cell) == year


def test_parse_number_accepts_units_and_rejects_words() -> None:
    assert parse_number("63歲", field="age") == 63.0
    assert parse_number(" 45 ", field="age") == 45.0
    assert math.isnan(float("nan")) and parse_number(float("nan"), field="age") is None
    with pytest.raises(CohortError, match="age 'old'"):
        parse_number("old", field="age")
