"""Clinical cell values of metadata sheets: amounts, outcome, side, sex, cause, approach, numbers, years.

Every parser accepts the messy forms seen in clinic spreadsheets (Chinese and English words,
units, dashes for empty). Parsers are pure: they return a value or raise
:class:`~core.errors.CohortError` naming the value and what was expected; the loader turns
that into a problem row.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import NamedTuple

import pandas as pd

from core.errors import CohortError


def cell_text(value: object) -> str:
    """A cell as clean text: NFKC, stripped; empty for NaN/None; integral floats lose ".0"."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return "" if text.casefold() in ("nan", "none", "nat") else text


class Amount(NamedTuple):
    """An injected amount: the total in ml and the parts written in parentheses."""

    total_ml: float | None
    parts_ml: tuple[float, ...] = ()

    @property
    def consistent(self) -> bool:
        """True when there are no parts or they add up to the total (within 0.001 ml)."""
        return not self.parts_ml or self.total_ml is None or abs(sum(self.parts_ml) - self.total_ml) < 1e-3


_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_AMOUNT = re.compile(rf"^(?P<total>{_NUMBER})?(?:\((?P<parts>[^()]*)\))?$")
_EMPTY_MARKS = {"", "-", "--", "—", "–", "/", "n/a", "na", "nil", "none"}


def parse_amount(value: object) -> Amount:
    """Parse an injected-amount cell such as ``1``, ``0.8(0.3+0.5)`` or `` 0.5 ml``.

    Parameters
    ----------
    value : object
        A sheet cell: number, text, empty or NaN. Full-width characters, a decimal comma,
        spaces and an "ml"/"cc" unit are accepted; a missing total is the sum of the parts.

    Returns
    -------
    Amount
        ``total_ml`` (None when the cell is empty) and the parenthesised ``parts_ml``;
        ``consistent`` says whether the parts add up to the total.

    Raises
    ------
    CohortError
        The text is not an amount.

    Examples
    --------
    >>> parse_amount("1(0.3+0.7)")
    Amount(total_ml=1.0, parts_ml=(0.3, 0.7))
    >>> parse_amount("").total_ml is None
    True
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Amount(None if math.isnan(value) else float(value))
    text = cell_text(value).casefold()
    text = re.sub(r"\s+|ml|cc|毫升", "", text).replace("，", ",")
    if text in _EMPTY_MARKS:
        return Amount(None)
    if "," in text and "." not in text and "+" not in text:
        text = text.replace(",", ".")
    match = _AMOUNT.match(text)
    if not match or not (match["total"] or match["parts"]):
        raise CohortError(
            f"amount {cell_text(value)!r} not understood; expected ml such as 1, 0.8 or 1(0.3+0.7)"
        )
    parts: tuple[float, ...] = ()
    if match["parts"] is not None:
        pieces = match["parts"].split("+")
        if not all(re.fullmatch(_NUMBER, p) for p in pieces):
            raise CohortError(
                f"amount {cell_text(value)!r} not understood; parts in parentheses must be ml "
                "joined by '+', e.g. 1(0.3+0.7)"
            )
        parts = tuple(float(p) for p in pieces)
    total = float(match["total"]) if match["total"] else round(sum(parts), 6)
    return Amount(total, parts)


_OUTCOMES: dict[str, int] = {
    "well": 0,
    "good": 0,
    "0": 0,
    "好": 0,
    "佳": 0,
    "良好": 0,
    "poor": 1,
    "bad": 1,
    "1": 1,
    "差": 1,
    "不好": 1,
    "不佳": 1,
}


def parse_outcome(value: object) -> int | None:
    """Outcome cell → 0 (well/good/0) or 1 (poor/bad/1); None when empty.

    Raises
    ------
    CohortError
        Any other text ("maybe", "2", ...).
    """
    text = cell_text(value).casefold()
    if text in ("", "-", "na", "n/a"):
        return None
    text = re.sub(r"\.0+$", "", text)
    if text in _OUTCOMES:
        return _OUTCOMES[text]
    raise CohortError(f"outcome {cell_text(value)!r} not understood; expected well/poor, good/bad or 0/1")


_SIDES = {
    "l": "L",
    "left": "L",
    "左": "L",
    "左側": "L",
    "lt": "L",
    "r": "R",
    "right": "R",
    "右": "R",
    "右側": "R",
    "rt": "R",
    "b": "B",
    "bilateral": "B",
    "both": "B",
    "bil": "B",
    "雙": "B",
    "雙側": "B",
    "双侧": "B",
    "l+r": "B",
    "lr": "B",
}


def parse_side(value: object) -> str | None:
    """Side cell (L/R/left/right/B/bilateral, 左/右/雙側) → "L", "R", "B"; None when empty."""
    text = cell_text(value).casefold().rstrip(".")
    if not text:
        return None
    if text in _SIDES:
        return _SIDES[text]
    raise CohortError(f"side {cell_text(value)!r} not understood; expected L, R, left, right, B or bilateral")


_SEXES = {"f": "F", "female": "F", "女": "F", "woman": "F", "m": "M", "male": "M", "男": "M", "man": "M"}


def parse_sex(value: object) -> str | None:
    """Sex cell (F/M, female/male, 女/男) → "F" or "M"; None when empty."""
    text = cell_text(value).casefold()
    if not text:
        return None
    if text in _SEXES:
        return _SEXES[text]
    raise CohortError(f"sex {cell_text(value)!r} not understood; expected F/M, female/male or 女/男")


def parse_cause(value: object) -> str | None:
    """Cause cell: VP/palsy/paralysis → "palsy", atro/atrophy → "atrophy", other text kept."""
    text = cell_text(value)
    folded = text.casefold()
    if not folded:
        return None
    if folded.startswith("atro") or "萎縮" in folded or "萎缩" in folded:
        return "atrophy"
    if folded in ("vp", "vfp", "uvfp", "bvfp") or "pals" in folded or "paraly" in folded or "麻痺" in folded:
        return "palsy"
    return text


def parse_approach(value: object) -> str | None:
    """Sub/Tran cell → "sub" or "tran" (other text kept, lower-cased)."""
    text = cell_text(value).casefold()
    if not text:
        return None
    if text.startswith("sub"):
        return "sub"
    if text.startswith("tran"):
        return "tran"
    return text


def parse_number(value: object, *, field: str) -> float | None:
    """A numeric cell (age, counts) → float; None when empty."""
    text = cell_text(value)
    if not text:
        return None
    match = re.fullmatch(rf"({_NUMBER})\s*(?:y|yr|yrs|years?|歲|次)?", text.casefold())
    if not match:
        raise CohortError(f"{field} {text!r} not understood; expected a number")
    return float(match.group(1))


def parse_year(value: object) -> int | None:
    """Year of a date cell ("2022/4/15", "2022-04-15 00:00:00", "111/4/15" in the ROC calendar)."""
    text = cell_text(value)
    if not text:
        return None
    match = re.search(r"(?<!\d)((?:19|20)\d{2})(?!\d)", text)
    if match:
        return int(match.group(1))
    roc = re.match(r"^(1\d{2})[/.\-年]", text)
    if roc:
        return int(roc.group(1)) + 1911
    raise CohortError(f"date {text!r} not understood; expected a date such as 2022/4/15")
