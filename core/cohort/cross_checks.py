"""Checks that need more than one recording: duplicates by name and by content, mixed bandwidths.

* **Same slot.** Two files for one patient/phase/vowel/take: the first in path order is kept.
* **Identical content.** A copy, hard link or symbolic link of one recording under two
  patients would put the same audio in the training part of one fold and the test part
  of another, with two labels. Files are compared by SHA-256 of their bytes (only files
  of equal size are hashed). Copies under different patients are all excluded (the
  patient, and so the label, is ambiguous); copies within one patient stay in one fold
  and keep one label, so they are kept with a warning on each later copy.
* **Mixed bandwidths.** A recording stored at 8 kHz holds nothing above 4 kHz; in a cohort
  analysed at 16 kHz whose other recordings reach 8 kHz, its spectrogram's upper half is
  empty, a difference a model can learn instead of the voice. Each such file gets a
  warning and is kept.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from core.cohort.model import file_digest
from core.cohort.validation import ANALYSIS_RATE, Problem

T = TypeVar("T")


class _Found(Protocol):
    speaker: str | None
    phase: str | None
    vowel: str | None
    take: int


class _Entry(Protocol):
    @property
    def item(self) -> _Found: ...

    @property
    def source(self) -> str: ...


E = TypeVar("E", bound=_Entry)


def drop_slot_duplicates(usable: Sequence[E], names: Mapping[str, str], problems: list[Problem]) -> list[E]:
    """Keep the first file per patient/phase/vowel/take (path order); the others become errors.

    Parameters
    ----------
    usable : sequence
        Usable recordings in path order (``entry.item`` is the discovered file, ``entry.source``
        its shown path).
    names : mapping of str to str
        Raw patient key → pseudonym.
    problems : list of Problem
        Appended to.
    """
    seen: dict[tuple[object, ...], str] = {}
    unique: list[E] = []
    for entry in usable:
        item = entry.item
        slot = (item.speaker, item.phase, item.vowel, item.take)
        if slot in seen:
            what = f"{names[item.speaker or '']} {item.phase} {item.vowel or ''}".rstrip()
            take = f" take {item.take}" if item.take > 1 else ""
            reason = (
                f"duplicate patient/phase/vowel: {what}{take} already comes from {seen[slot]}; "
                "this file is excluded"
            )
            problems.append(Problem(entry.source, "error", reason))
            continue
        seen[slot] = entry.source
        unique.append(entry)
    return unique


def drop_content_duplicates(
    entries: Sequence[T],
    *,
    path: Callable[[T], Path],
    patient: Callable[[T], str],
    source: Callable[[T], str],
    problems: list[Problem],
) -> list[T]:
    """Entries without byte-identical copies; each copy left out becomes an error row.

    Parameters
    ----------
    entries : sequence
        Usable recordings in path order.
    path, patient, source : callable
        The entry's file, its (raw) patient key and its shown (redacted) path.
    problems : list of Problem
        Appended to.

    Returns
    -------
    list
        ``entries`` in order, minus every copy shared by different patients.
    """
    by_size: dict[int, list[T]] = defaultdict(list)
    for entry in entries:
        by_size[path(entry).stat().st_size].append(entry)
    by_digest: dict[str, list[T]] = defaultdict(list)
    for group in by_size.values():
        if len(group) > 1:
            for entry in group:
                by_digest[file_digest(path(entry))].append(entry)
    dropped: set[int] = set()
    for digest, copies in by_digest.items():
        if len(copies) < 2:
            continue
        if len({patient(c) for c in copies}) > 1:
            for entry in copies:
                others = [source(c) for c in copies if c is not entry]
                named = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
                problems.append(
                    Problem(
                        source(entry),
                        "error",
                        "identical content under different patients: the same audio bytes "
                        f"(sha256 {digest[:12]}) also come from {named}; the patient and label are "
                        "ambiguous, so every copy is excluded",
                    )
                )
                dropped.add(id(entry))
            continue
        for entry in copies[1:]:
            problems.append(
                Problem(
                    source(entry),
                    "warning",
                    f"identical content: the same audio bytes as {source(copies[0])} of the same patient "
                    "(a copy saved twice?); kept",
                )
            )
    return [entry for entry in entries if id(entry) not in dropped]


def bandwidth_warnings(
    entries: Sequence[T],
    *,
    sample_rate: Callable[[T], int],
    source: Callable[[T], str],
    analysis_rate: int = ANALYSIS_RATE,
) -> list[Problem]:
    """One warning per recording whose bandwidth is below the cohort's usual one.

    The bandwidth at the analysis rate is ``min(stored rate, analysis rate) / 2``; the
    cohort's usual bandwidth is the most common one (ties: the widest).

    Parameters
    ----------
    entries : sequence
        Usable recordings.
    sample_rate, source : callable
        The entry's stored rate in Hz and its shown path.
    analysis_rate : int
        Rate the recordings are resampled to (16 kHz in every preset).

    Returns
    -------
    list of Problem
    """
    bands = [min(sample_rate(e), analysis_rate) // 2 for e in entries]
    if len(set(bands)) < 2:
        return []
    counts = Counter(bands)
    usual = max(counts, key=lambda band: (counts[band], band))
    return [
        Problem(
            source(entry),
            "warning",
            f"narrower bandwidth: stored at {sample_rate(entry)} Hz, so nothing above {band} Hz, while "
            f"{counts[usual]} of {len(entries)} recordings reach {usual} Hz at the {analysis_rate} Hz "
            "analysis "
            "rate; the upper band of its spectrograms is empty; kept",
        )
        for entry, band in zip(entries, bands, strict=True)
        if band < usual
    ]
