"""The demo's metadata-sheet rows: fake identifiers, placeholder names, and the clerks' mixed spellings.

Every value is drawn from the generator the cohort plan passes in, in the plan's order,
so the sheet is deterministic in the plan's seed.
"""

from __future__ import annotations

from datetime import date

import numpy as np

#: Columns of the metadata sheet, in the study's order.
SHEET_COLUMNS: tuple[str, ...] = (
    "type",
    "Date",
    "院區",
    "姓名",
    "ID",
    "病歷號",
    "Sex",
    "Age",
    "總次數",
    "次數",
    "側性",
    "Cause",
    "Injection Tech",
    "Sub/Tran",
    "Amount R",
    "Inj point R",
    "Amount L",
    "Inj point L",
)

CAMPUSES: tuple[str, ...] = ("總院", "北院區", "南院區")
#: Placeholder names: common surnames with the given names used as textbook "John Doe"s.
_SURNAMES = ("王", "陳", "林", "張", "李", "黃", "吳", "劉", "蔡", "楊", "許", "鄭", "謝", "郭", "洪")
_GIVEN_NAMES = (
    "小明",
    "小華",
    "小美",
    "大同",
    "美玲",
    "志明",
    "春嬌",
    "淑芬",
    "建國",
    "雅婷",
    "家豪",
    "怡君",
    "俊傑",
    "佳穎",
    "宗翰",
    "欣怡",
    "承恩",
    "詩涵",
    "冠宇",
    "筱涵",
)
AMOUNT_FORMATS: tuple[str, ...] = ("1", "0.8", "1(0.3+0.7)", "0.8(0.3+0.5)", "0.5")
_EXTRA_AMOUNTS: tuple[str, ...] = ("0.7", "0.9", "1(0.4+0.6)", "0.7(0.2+0.5)", "0.3(0.1+0.2)")


def unique_numbers(rng: np.random.Generator, n: int, *, low: int, high: int) -> np.ndarray:
    """``n`` distinct integers from ``low`` to ``high`` (fake hospital IDs and record numbers)."""
    numbers = rng.choice(high - low + 1, size=n, replace=False) + low
    return numbers.astype(np.int64)


def placeholder_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` placeholder names (surname + given name), repeated only when there are not enough."""
    combos = [s + g for s in _SURNAMES for g in _GIVEN_NAMES]
    picks = rng.choice(len(combos), size=n, replace=n > len(combos))
    return [combos[int(k)] for k in picks]


def _covering(rng: np.random.Generator, options: tuple, n: int, weights: tuple[float, ...]) -> list:
    """``n`` weighted draws from ``options`` that contain every option at least once when n allows."""
    p = np.asarray(weights, dtype=float) / sum(weights)
    draws = [options[int(k)] for k in rng.choice(len(options), size=n, p=p)]
    for slot, option in zip(rng.permutation(n)[: len(options)], options, strict=False):
        draws[int(slot)] = option
    return draws


def sheet_styles(rng: np.random.Generator, n: int) -> list[dict[str, str]]:
    """How each row was typed: the sheet mixes spellings as several clerks filled it."""
    sides = _covering(rng, ("L", "R", "left", "right"), n, (0.3, 0.2, 0.3, 0.2))
    palsy_words = _covering(rng, ("VP", "palsy"), n, (0.4, 0.6))
    atrophy_words = _covering(rng, ("atrophy", "atro"), n, (0.5, 0.5))
    techniques = _covering(rng, ("CTm", "CT"), n, (0.4, 0.6))
    approaches = _covering(rng, ("tran", "Tran", "Sub"), n, (0.35, 0.45, 0.2))
    amounts = _covering(rng, AMOUNT_FORMATS + _EXTRA_AMOUNTS, n, (3, 3, 1.5, 1.5, 1, 1, 1, 0.5, 0.5, 0.5))
    return [
        {
            "side": sides[i],
            "palsy": palsy_words[i],
            "atrophy": atrophy_words[i],
            "technique": techniques[i],
            "approach": approaches[i],
            "amount": amounts[i],
        }
        for i in range(n)
    ]


def sheet_row(
    style: dict[str, str],
    *,
    visit: date,
    campus: str,
    name: str,
    hospital_id: int,
    record_number: int,
    sex: str,
    age: int,
    cause: str,
    rng: np.random.Generator,
) -> dict[str, object]:
    """One patient's metadata-sheet row (keys :data:`SHEET_COLUMNS`), typed in ``style``."""
    total = int(rng.choice([1, 1, 1, 1, 1, 1, 2, 2, 3]))
    amount: object = float(style["amount"]) if "(" not in style["amount"] else style["amount"]
    if isinstance(amount, float) and amount.is_integer():
        amount = int(amount)
    point = int(rng.integers(1, 4))
    right = style["side"] in ("R", "right")
    return {
        "type": 2 if cause == "atrophy" else 1,
        "Date": visit,
        "院區": campus,
        "姓名": name,
        "ID": hospital_id,
        "病歷號": record_number,
        "Sex": sex,
        "Age": age,
        "總次數": total,
        "次數": int(rng.integers(1, total + 1)),
        "側性": style["side"],
        "Cause": style["atrophy"] if cause == "atrophy" else style["palsy"],
        "Injection Tech": style["technique"],
        "Sub/Tran": style["approach"],
        "Amount R": amount if right else None,
        "Inj point R": point if right else None,
        "Amount L": None if right else amount,
        "Inj point L": None if right else point,
    }


__all__ = [
    "AMOUNT_FORMATS",
    "CAMPUSES",
    "SHEET_COLUMNS",
    "placeholder_names",
    "sheet_row",
    "sheet_styles",
    "unique_numbers",
]
