"""One name for a fold everywhere: stored as "r0f2", shown to people as "fold 3".

Runs store their folds 0-based under keys such as ``"r0f2"`` (repeat 0, fold 2): in
file names (``models/r0f2.keras``), in ``folds_done`` and in the explanation cache.
People see folds 1-based, as the study numbered them: "fold 3", or "repeat 2 · fold 3"
when a run repeats its cross-validation. :class:`FoldKey` is the only place that
formats or parses either form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import RunError

_KEY = re.compile(r"r(\d+)f(\d+)")


@dataclass(frozen=True, order=True)
class FoldKey:
    """A fold of a run: ``repeat`` and ``fold``, both 0-based as stored.

    Ordering is (repeat, fold), the order folds are trained and listed in.
    """

    repeat: int
    fold: int

    def __post_init__(self) -> None:
        if self.repeat < 0 or self.fold < 0:
            raise RunError(f"fold key repeat={self.repeat}, fold={self.fold}; expected both >= 0")

    @classmethod
    def parse(cls, key: str | FoldKey) -> FoldKey:
        """``FoldKey(0, 2)`` from the storage key ``"r0f2"`` (a FoldKey is returned as is).

        Raises
        ------
        RunError
            When ``key`` is not of the form ``r<repeat>f<fold>``.
        """
        if isinstance(key, FoldKey):
            return key
        match = _KEY.fullmatch(str(key).strip())
        if match is None:
            raise RunError(f"fold key {key!r}; expected e.g. 'r0f2' (repeat 0, fold 2, 0-based)")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, fold: int | str | FoldKey, *, repeat: int = 0) -> FoldKey:
        """From a 0-based fold number (with its repeat), a storage key or a FoldKey."""
        if isinstance(fold, (str, FoldKey)):
            return cls.parse(fold)
        return cls(int(repeat), int(fold))

    @property
    def key(self) -> str:
        """The storage key, e.g. ``"r0f2"`` (files, manifests, caches)."""
        return f"r{self.repeat}f{self.fold}"

    def label(self, *, repeats: int = 1, sep: str = " · ") -> str:
        """What people read: "fold 3", or "repeat 2 · fold 3" (``sep`` between) when repeats > 1."""
        if repeats > 1:
            return f"repeat {self.repeat + 1}{sep}fold {self.fold + 1}"
        return f"fold {self.fold + 1}"

    def __str__(self) -> str:
        """The people's name, repeat included whenever it is not the first."""
        return self.label(repeats=2 if self.repeat else 1)


def fold_label(key: str | FoldKey, *, repeats: int = 1) -> str:
    """ "fold 3" (or "repeat 2 · fold 3") from a storage key such as ``"r0f2"``."""
    return FoldKey.parse(key).label(repeats=repeats)


def repeats_of(keys: list[str] | tuple[str, ...]) -> int:
    """How many repeats a list of storage keys spans (1 for plain k-fold)."""
    return len({FoldKey.parse(k).repeat for k in keys}) or 1


def sorted_keys(keys: list[str] | tuple[str, ...]) -> list[str]:
    """Storage keys in (repeat, fold) order, whatever order they were computed in."""
    return [k.key for k in sorted(FoldKey.parse(k) for k in keys)]
