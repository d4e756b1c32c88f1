"""Accounting of every file under a cohort folder: used, reported, or set aside by rule.

Nothing vanishes: each file is counted in exactly one bucket, and
``seen == used + reported + set_aside`` holds by construction.

* **used**: recordings in the table, the voice report (``.txt`` of the same name) beside
  each of them, and the metadata sheet or label manifest that was read.
* **reported**: named by a row of the validation report. Audio files that were not used
  already have their error row (naming, gate, duplicates); this module adds rows for
  audio in a format that is not read (``.mp3`` ...), broken links, and any other file
  inside the data folders. The voice report of an excluded recording goes with it.
* **set aside**: hidden and system files (``.DS_Store``, ``._x.wav``, ``~$`` lock files,
  ``Thumbs.db``) and documents at the top of the cohort folder (a README, a spare copy of
  the sheet): not data, listed by name in :attr:`FileInventory.documents`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.audio_gate import AUDIO_SUFFIXES, UNSUPPORTED_AUDIO_SUFFIXES
from core.cohort.pseudonyms import redact_unparsed
from core.cohort.validation import Problem

#: System files that are never data.
SYSTEM_FILES: frozenset[str] = frozenset({"thumbs.db", "desktop.ini", "icon\r"})


@dataclass(frozen=True)
class FileInventory:
    """Counts of every file under a cohort folder.

    Attributes
    ----------
    seen : int
        Every file (and link) under the folder.
    recordings, voice_reports, sheets : int
        Used: recordings in the table, their voice reports, sheets read.
    reported : int
        Files named by a validation-report row and not used.
    hidden, documents : int
        Set aside: hidden/system files, and documents at the top of the folder.
    document_names : tuple of str
        The documents' paths (identifiers redacted).
    """

    seen: int
    recordings: int
    voice_reports: int
    sheets: int
    reported: int
    hidden: int
    documents: int
    document_names: tuple[str, ...] = field(default=())

    @property
    def used(self) -> int:
        return self.recordings + self.voice_reports + self.sheets

    @property
    def set_aside(self) -> int:
        return self.hidden + self.documents

    @property
    def reconciles(self) -> bool:
        """True when every file seen is used, reported or set aside."""
        return self.seen == self.used + self.reported + self.set_aside

    def to_dict(self) -> dict[str, object]:
        """JSON-ready counts (``documents_list`` names the documents)."""
        return {
            "seen": self.seen,
            "used": self.used,
            "reported": self.reported,
            "set_aside": self.set_aside,
            "recordings": self.recordings,
            "voice_reports": self.voice_reports,
            "sheets": self.sheets,
            "hidden": self.hidden,
            "documents": self.documents,
            "documents_list": list(self.document_names),
        }


def _hidden(rel: Path) -> bool:
    return any(part.startswith((".", "~$")) for part in rel.parts) or rel.name.casefold() in SYSTEM_FILES


def shown_path(rel: Path, identifiers: Mapping[str, str]) -> str:
    """A relative path with known identifiers replaced and long digit runs masked."""
    return "/".join(redact_unparsed(part, identifiers) for part in rel.parts)


def take_inventory(
    root: Path,
    base: Path,
    *,
    audio: Mapping[Path, bool],
    sheets: Iterable[Path],
    named: Iterable[str],
    identifiers: Mapping[str, str],
    problems: list[Problem],
    raw_sources: dict[str, str],
) -> FileInventory:
    """Count every file under ``root`` and add a row for each one nothing else covers.

    Parameters
    ----------
    root : Path
        The cohort folder.
    base : Path
        The folder holding the layout (``root`` or a wrapper folder below it).
    audio : mapping of Path to bool
        Every audio file discovery found → whether it is a recording in the table (the
        others already have an error row).
    sheets : iterable of Path
        Sheets and manifests that were read.
    named : iterable of str
        Raw relative paths already named by a report row (e.g. a sheet that could not be read).
    identifiers : mapping of str to str
        Raw identifier → pseudonym, for the shown paths.
    problems : list of Problem
        Appended to.
    raw_sources : dict of str to str
        Shown path → raw relative path; filled for the new rows.

    Returns
    -------
    FileInventory
    """
    audio = {path.absolute(): used for path, used in audio.items()}
    sheet_set = {Path(p).absolute() for p in sheets}
    named = set(named)
    top = {root.absolute(), *(p.absolute() for p in [base, *base.parents] if p.is_relative_to(root))}
    counts = dict.fromkeys(("recordings", "voice_reports", "sheets", "reported", "hidden", "documents"), 0)
    documents: list[str] = []
    seen = 0
    for path in _walk(root, follow=_linked_folders(root, audio)):
        seen += 1
        absolute = path.absolute()
        rel = path.relative_to(root)
        if absolute in audio:
            counts["recordings" if audio[absolute] else "reported"] += 1
            continue
        if absolute in sheet_set:
            counts["sheets"] += 1
            continue
        if _hidden(rel):
            counts["hidden"] += 1
            continue
        if rel.as_posix() in named:
            counts["reported"] += 1
            continue
        if path.suffix.casefold() == ".txt":
            twin = next(
                (t for t in map(path.with_suffix, _TWIN_SUFFIXES) if t.absolute() in audio or t.is_file()),
                None,
            )
            if twin is not None:
                # the voice report shares its recording's fate (and row)
                counts["voice_reports" if audio.get(twin.absolute(), False) else "reported"] += 1
                continue
        suffix = path.suffix.casefold()
        reason: str | None = None
        if not path.exists():
            reason = "error", "broken link: it points to a file that does not exist; skipped"
        elif path.is_dir():
            reason = "warning", "link to a folder: not followed, so nothing in it is read"
        elif suffix in UNSUPPORTED_AUDIO_SUFFIXES:
            reason = (
                "error",
                (
                    f"unsupported audio format: {suffix} files are not read "
                    f"(accepted: {', '.join(AUDIO_SUFFIXES)}); "
                    "convert it to WAV or FLAC; skipped"
                ),
            )
        elif absolute.parent in top:
            counts["documents"] += 1
            documents.append(shown_path(rel, identifiers))
            continue
        else:
            reason = (
                "warning",
                (
                    "not read: neither a recording "
                    f"({', '.join(AUDIO_SUFFIXES)}) nor the voice report (.txt) beside one; ignored"
                ),
            )
        shown = shown_path(rel, identifiers)
        raw_sources.setdefault(shown, rel.as_posix())
        problems.append(Problem(shown, *reason))  # type: ignore[arg-type]
        counts["reported"] += 1
    return FileInventory(seen=seen, document_names=tuple(documents), **counts)


def _linked_folders(root: Path, audio: Mapping[Path, bool]) -> set[Path]:
    """Symbolic links to folders that discovery went into (an audio file lies below them)."""
    linked = set()
    for path in audio:
        for parent in path.parents:
            if parent == root.absolute() or not parent.is_relative_to(root.absolute()):
                break
            if parent.is_symlink():
                linked.add(parent)
    return linked


def _walk(root: Path, *, follow: set[Path]) -> Iterator[Path]:
    """Every file under ``root``; a linked folder is followed only when in ``follow`` (no loops)."""
    stack = [root]
    while stack:
        folder = stack.pop()
        for entry in sorted(folder.iterdir()):
            if entry.is_dir() and (not entry.is_symlink() or entry.absolute() in follow):
                stack.append(entry)
            else:
                yield entry


_TWIN_SUFFIXES: tuple[str, ...] = tuple(
    variant for suffix in AUDIO_SUFFIXES + UNSUPPORTED_AUDIO_SUFFIXES for variant in (suffix, suffix.upper())
)
