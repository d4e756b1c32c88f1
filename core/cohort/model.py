"""The loaded cohort: two tidy tables, a validation report, and private file access.

Tables returned here hold pseudonyms only. The real file paths (which in clinic folders
carry record numbers) stay in a private mapping reached through :meth:`Cohort.audio_path`,
and :meth:`Cohort.redact` replaces any raw identifier in a text by its pseudonym.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.errors import CohortError

#: Names of label 0 and 1 when the data do not say otherwise (the study's outcome).
DEFAULT_CLASS_NAMES: tuple[str, str] = ("well", "poor")

if TYPE_CHECKING:
    from core.cohort.inventory import FileInventory

#: Columns of ``Cohort.recordings``, one row per usable recording.
RECORDING_COLUMNS: tuple[str, ...] = (
    "recording_id",  # "P07-pre-A" (+ "-t2" for a second take), unique
    "patient_id",  # pseudonym "P07"
    "phase",  # "pre" | "post"
    "vowel",  # "A" | "I" | "U" | "E"
    "take",  # 1.. (notebook clips, SVD pitch variants)
    "source",  # path relative to the cohort root, identifiers replaced by pseudonyms
    "duration_s",  # float
    "sample_rate",  # int, Hz, as stored in the file
    "channels",  # int, as stored (mixed down to mono on load)
    "label",  # Int64: 0 well / 1 poor (or healthy / pathological); <NA> when unknown
)

#: Columns of ``Cohort.patients``, one row per patient (pseudonymous).
PATIENT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "sex",  # "F" | "M" | <NA>
    "age",  # float
    "side",  # "L" | "R" | "B" | <NA>
    "cause",  # "palsy" | "atrophy" | other text
    "technique",  # Injection Tech, e.g. "CT", "CTm"
    "approach",  # Sub/Tran, normalised to "sub" | "tran"
    "amount_r",  # float ml, <NA> if none
    "amount_l",  # float ml
    "injection_no",  # 次數
    "total_injections",  # 總次數
    "year",  # from the folder name or the Date column
    "outcome",  # Int64 0/1/<NA>
    "n_recordings",  # int
)

#: Columns of ``Cohort.problems``, one row per problem found while loading.
PROBLEM_COLUMNS: tuple[str, ...] = (
    "source",  # file path relative to the root (redacted) or "metadata.xlsx row 7"
    "severity",  # "error" (item excluded) | "warning" (item kept, noted)
    "reason",  # plain sentence
)


@dataclass
class Cohort:
    """A cohort folder loaded into pseudonymous tables.

    Attributes
    ----------
    root : Path
        The cohort folder.
    layout : str
        "study", "notebook", "class_folders" or "label_sheet".
    recordings : pd.DataFrame
        One row per usable recording, columns :data:`RECORDING_COLUMNS`.
    patients : pd.DataFrame
        One row per patient, columns :data:`PATIENT_COLUMNS`.
    problems : pd.DataFrame
        Validation report, columns :data:`PROBLEM_COLUMNS`.
    class_names : (str, str)
        What label 0 and label 1 are called in this dataset: ("well", "poor") for the study,
        the class folders' or the label sheet's own names otherwise (e.g. ("HC", "PD")).
    source : CohortSource, optional
        How the cohort was loaded (folder, label sheet, columns, positive value), when
        loaded through :class:`core.cohort.source.CohortSource`.
    files : FileInventory or None
        Every file under the folder counted as used, reported or set aside
        (:mod:`core.cohort.inventory`); None for a cohort built without loading a folder.
    """

    root: Path
    layout: str
    recordings: pd.DataFrame
    patients: pd.DataFrame
    problems: pd.DataFrame
    class_names: tuple[str, str] = DEFAULT_CLASS_NAMES
    source: Any = None
    _paths: dict[str, Path] = field(default_factory=dict, repr=False)
    _identifiers: dict[str, str] = field(default_factory=dict, repr=False)
    _raw_sources: dict[str, str] = field(default_factory=dict, repr=False)
    files: FileInventory | None = field(default=None, repr=False)

    def audio_path(self, recording_id: str) -> Path:
        """Absolute path of a recording's audio file (for reading only; never display it)."""
        try:
            return self._paths[recording_id]
        except KeyError:
            raise CohortError(f"no recording {recording_id!r} in cohort {self.root.name!r}") from None

    def voice_report_path(self, recording_id: str) -> Path | None:
        """The Praat voice report (``.txt`` beside the wav) of a recording, or None if absent."""
        report = self.audio_path(recording_id).with_suffix(".txt")
        return report if report.is_file() else None

    def raw_source(self, source: str) -> str:
        """Raw relative path behind a redacted ``source`` (data steward's eyes only; never display it)."""
        return self._raw_sources.get(source, source)

    def redact(self, text: str) -> str:
        """Replace every raw identifier (names, IDs, record numbers) in ``text`` by its pseudonym."""
        if not self._identifiers:
            return text
        # An identifier never matches inside a longer number ("1" is not in "15" or "1.5").
        alternatives = "|".join(re.escape(k) for k in sorted(self._identifiers, key=len, reverse=True))
        pattern = rf"(?<![\d.])(?:{alternatives})(?!\.?\d)"
        return re.sub(pattern, lambda m: self._identifiers[m.group(0)], text)

    def fingerprint(self) -> str:
        """Hash of every usable recording's bytes and label: changes when the data change."""
        digest = hashlib.sha256()
        for rid in sorted(self._paths):
            digest.update(rid.encode())
            digest.update(file_digest(self._paths[rid]).encode())
        labels = self.recordings.set_index("recording_id")["label"].astype("string").fillna("NA")
        digest.update(labels.sort_index().to_json().encode())
        return digest.hexdigest()[:16]

    @property
    def n_patients(self) -> int:
        return int(self.patients.shape[0])


_DIGEST_CACHE: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, memoised on (path, size, mtime)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGEST_CACHE:
        with path.open("rb") as handle:  # streamed: a long recording never sits in memory whole
            _DIGEST_CACHE[key] = hashlib.file_digest(handle, "sha256").hexdigest()
    return _DIGEST_CACHE[key]


def folder_signature(root: Path) -> str:
    """Cheap signature of a folder tree (names, sizes, mtimes): changes when any file does.

    Used as a cache key by the dashboard so a cohort is reloaded only after its files change.
    """
    digest = hashlib.sha256()
    for path in sorted(Path(root).rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts):
            stat = path.stat()
            digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
