"""What discovery finds under a cohort folder: :class:`FoundFile` per audio file, one :class:`Discovery`.

Discovery reads names only, never audio. Each file keeps its raw speaker id privately and
knows how to show its path with the id replaced (:data:`SPEAKER_MARK` where the id was).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.cohort.model import DEFAULT_CLASS_NAMES
from core.cohort.validation import AUDIO_SUFFIXES, Severity

#: Placeholder for the raw speaker id inside a displayed path; replaced by the pseudonym.
SPEAKER_MARK = "\x00"

PartKind = Literal["keep", "mark", "unknown"]
#: Vowel taken for recordings whose vowel no name or column gives: every preset selects /a/.
ASSUMED_VOWEL = "A"
VOWEL_BY_NUMBER: dict[str, str] = {"1": "A", "2": "I", "3": "U", "4": "E"}
PHASE_BY_LETTER: dict[str, str] = {"S": "pre", "A": "post"}


@dataclass(frozen=True)
class FoundFile:
    """One audio file found by discovery (no audio read yet).

    Attributes
    ----------
    path : Path
        Absolute path.
    rel : str
        Raw path relative to the cohort root (may hold identifiers; never shown by default).
    parts : tuple of (text, kind)
        The relative path for display: "keep" parts are safe, "mark" parts hold
        :data:`SPEAKER_MARK` where the raw id was, "unknown" parts are redacted by rule.
    speaker : str or None
        Raw patient/speaker id (None when the name could not be parsed).
    phase, vowel, take
        Parsed recording facts ("pre"/"post", "A".., 1..).
    label : int or None
        Label implied by the folder (study folder name, class folder); None if none.
    group : str or None
        Study patient folder name (raw) or class folder name.
    year : int or None
        Year from the study folder name.
    issue : (severity, reason) or None
        Naming error (file skipped) or placement warning (file kept).
    """

    path: Path
    rel: str
    parts: tuple[tuple[str, PartKind], ...]
    speaker: str | None
    phase: str | None = None
    vowel: str | None = None
    take: int = 1
    label: int | None = None
    group: str | None = None
    year: int | None = None
    issue: tuple[Severity, str] | None = None

    @property
    def parsed(self) -> bool:
        """True when the name was understood (the file goes on to audio inspection)."""
        return self.issue is None or self.issue[0] != "error"


@dataclass
class Discovery:
    """Result of scanning a cohort folder.

    Attributes
    ----------
    layout : str
        The layout found or requested.
    base : Path
        Folder holding the layout (the root, or a wrapper folder one or two levels down).
    files : list of FoundFile
        Every audio file under the root, parsed or not.
    notes : list of FoundFile
        Folder-level findings (e.g. a patient folder without audio); ``path`` is the folder.
    class_names : (str, str)
        Names of label 0 and label 1 in this dataset ("well", "poor" for the study).
    clinical : dict
        Raw speaker id → patient-table values read beside the labels (label sheets: sex, age).
    """

    layout: str
    base: Path
    files: list[FoundFile] = field(default_factory=list)
    notes: list[FoundFile] = field(default_factory=list)
    class_names: tuple[str, str] = DEFAULT_CLASS_NAMES
    clinical: dict[str, dict[str, object]] = field(default_factory=dict)


def is_hidden(path: Path) -> bool:
    """Dot files (macOS ``._x.wav`` forks, ``.DS_Store``) and Office lock files are skipped."""
    return path.name.startswith((".", "~$"))


def is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES and not is_hidden(path)


def audio_under(folder: Path) -> Iterator[Path]:
    """Audio files anywhere under ``folder``, skipping hidden files and folders, sorted."""
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and is_audio(path) and not any(is_hidden(Path(p)) for p in rel.parts):
            yield path


def subdirs(folder: Path) -> list[Path]:
    """Visible sub-folders of ``folder``, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not is_hidden(p))


def direct_audio(folder: Path) -> list[Path]:
    """Visible audio files directly in ``folder``, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_file() and is_audio(p))


def keep_prefix(root: Path, base: Path) -> list[tuple[str, PartKind]]:
    """The wrapper folders between the cohort root and the layout's base, shown as they are."""
    return [(part, "keep") for part in base.relative_to(root).parts]


def marked(text: str, start: int, end: int) -> str:
    """``text`` with ``text[start:end]`` (the raw id) replaced by :data:`SPEAKER_MARK`."""
    return text[:start] + SPEAKER_MARK + text[end:]


def skipped_file(
    root: Path,
    path: Path,
    reason: str,
    *,
    under: Path | None = None,
    prefix: Sequence[tuple[str, PartKind]] = (),
) -> FoundFile:
    """An audio file that no layout rule names: an error row ``reason``, its path redacted by rule.

    Parameters
    ----------
    root : Path
        The cohort root (``rel`` is relative to it).
    path : Path
        The audio file.
    reason : str
        Why it is skipped (the whole message).
    under : Path, optional
        Folder from which the redacted parts start (default ``root``); ``prefix`` goes before them.
    """
    shown = [(p, "unknown") for p in path.relative_to(under or root).parts]
    parts: tuple[tuple[str, PartKind], ...] = (*prefix, *shown)  # type: ignore[assignment]
    return FoundFile(path, path.relative_to(root).as_posix(), parts, None, issue=("error", reason))
