"""Discovery of the three cohort folder layouts: which file is whose, phase, vowel, take.

* "study": ``<id><well|poor>-<year>/pre/<id>S<1..4>.wav`` and ``post/<id>A<1..4>.wav``
  (vowel 1..4 = A, I, U, E), a Praat voice report ``.txt`` beside each wav.
* "notebook": a flat folder of ``<pid>_<S|A><vowel>_<clip>.wav`` plus a label manifest.
* "class_folders": public databases, ``<class>/<file>.wav`` with the speaker, vowel and
  take read from the file name by a regex (default: Saarbruecken ``<session>-<a|i|u>_<n|l|h>``).

Discovery reads names only, never audio. Each file becomes a :class:`FoundFile` that
keeps its raw speaker id privately and knows how to show its path with the id replaced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.cohort.metadata import MANIFEST_ALIASES, match_headers
from core.cohort.validation import AUDIO_SUFFIXES, Severity
from core.errors import CohortError, ConfigError

LAYOUTS: tuple[str, ...] = ("study", "notebook", "class_folders")
VOWEL_BY_NUMBER: dict[str, str] = {"1": "A", "2": "I", "3": "U", "4": "E"}
PHASE_BY_LETTER: dict[str, str] = {"S": "pre", "A": "post"}

#: Study patient folder: ``16422748well-2022`` (outcome and year optional).
PATIENT_FOLDER = re.compile(
    r"^(?P<id>[A-Za-z0-9]+?)\s*(?P<outcome>well|poor)?(?:\s*[-_ ]\s*(?P<year>(?:19|20)\d{2}))?$",
    re.IGNORECASE,
)
#: Study recording: ``16422748S1`` (S = pre, A = post; 1..4 = A, I, U, E).
STUDY_FILE = re.compile(r"^(?P<id>[A-Za-z0-9]+?)\s*(?P<phase>[SA])(?P<vowel>[1-4])$", re.IGNORECASE)
#: Notebook segment: ``20_S1_3`` (clip optional).
NOTEBOOK_FILE = re.compile(
    r"^(?P<speaker>[A-Za-z0-9]+)_(?P<phase>[SA])(?P<vowel>[1-4])(?:_(?P<clip>\d+))?$", re.IGNORECASE
)
#: Saarbruecken naming ``<session>-<vowel>_<pitch>``; the default ``filename_pattern``.
SVD_PATTERN = r"(?P<speaker>[A-Za-z0-9]+)-(?P<vowel>[A-Za-z])(?:_(?P<take>[A-Za-z]|\d+))?"
#: SVD pitch letter → take: normal, low, high.
PITCH_TAKES: dict[str, int] = {"n": 1, "l": 2, "h": 3}
#: Class folders labelled 0 by the default label map; every other class folder is 1.
HEALTHY_CLASS_NAMES: tuple[str, ...] = ("healthy", "normal", "control", "controls", "hc", "gesund")

#: Placeholder for the raw speaker id inside a displayed path; replaced by the pseudonym.
SPEAKER_MARK = "\x00"

PartKind = Literal["keep", "mark", "unknown"]
#: Names of label 0 and 1 when the data do not say otherwise (the study's outcome).
DEFAULT_CLASS_NAMES: tuple[str, str] = ("well", "poor")
#: Vowel taken for recordings whose vowel no name or column gives: every preset selects /a/.
ASSUMED_VOWEL = "A"
FOLDER_OUTCOMES: dict[str, int] = {"well": 0, "poor": 1}


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


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not is_hidden(p))


def _direct_audio(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and is_audio(p))


def match_patient_folder(name: str) -> re.Match[str] | None:
    """Match a study patient folder name; a bare word without digits ("misc") is not one."""
    match = PATIENT_FOLDER.match(name)
    if match and (match["outcome"] or match["year"] or any(c.isdigit() for c in match["id"])):
        return match
    return None


def _fits_study(folder: Path) -> bool:
    return any(
        match_patient_folder(d.name) and any(s.name.casefold() in ("pre", "post") for s in _subdirs(d))
        for d in _subdirs(folder)
    )


def _has_manifest(folder: Path) -> bool:
    for csv in folder.glob("*.csv"):
        try:
            with csv.open(encoding="utf-8-sig", errors="replace") as handle:
                header = handle.readline()
        except OSError:
            continue
        if len(match_headers(header.strip().split(","), MANIFEST_ALIASES)) == 2:
            return True
    return False


def _fits_notebook(folder: Path, *, strict: bool) -> bool:
    audio = _direct_audio(folder)
    if not audio:
        return False
    return not strict or any(NOTEBOOK_FILE.match(p.stem) for p in audio) or _has_manifest(folder)


def _fits_class_folders(folder: Path) -> bool:
    return any(_direct_audio(d) for d in _subdirs(folder))


_FITS = {
    "study": lambda folder, strict: _fits_study(folder),
    "notebook": lambda folder, strict: _fits_notebook(folder, strict=strict),
    "class_folders": lambda folder, strict: _fits_class_folders(folder),
}

_EXPECTED = {
    "study": "no <id><well|poor>-<year> folder with a pre/ or post/ folder inside",
    "notebook": "no audio files directly in the folder (expected <pid>_<S|A><vowel>_<clip>.wav)",
    "class_folders": "no class folders with audio files inside (expected <class>/<file>.wav)",
}


def _levels(root: Path, depth: int = 2) -> Iterator[list[Path]]:
    """The root, then its sub-folders, then theirs: wrapper folders are common in exports."""
    level = [root]
    for _ in range(depth + 1):
        yield level
        level = [d for folder in level for d in _subdirs(folder)]


def locate(root: Path, layout: str) -> tuple[str, Path]:
    """Pick the layout ("auto" or a named one) and the folder that holds it.

    Raises
    ------
    CohortError
        Unknown layout name, or the named layout does not fit the folder (the message
        says what was looked for), or "auto" finds none.
    """
    if layout != "auto" and layout not in LAYOUTS:
        raise CohortError(f"layout={layout!r}; expected 'auto' or one of {', '.join(LAYOUTS)}")
    # "auto" accepts a flat folder of oddly named audio as a notebook only after the others
    attempts = (
        [("study", True), ("notebook", True), ("class_folders", True), ("notebook", False)]
        if layout == "auto"
        else [(layout, False)]
    )
    for name, strict in attempts:
        for level in _levels(root):
            fitting = [folder for folder in level if _FITS[name](folder, strict)]
            if len(fitting) == 1:
                return name, fitting[0]
            if fitting:
                lead = (
                    "cannot tell the cohort layout"
                    if layout == "auto"
                    else f"layout {layout!r} does not fit the cohort folder"
                )
                raise CohortError(
                    f"{lead}: {len(fitting)} sub-folders each look like a separate {name} cohort; "
                    "point at one of them"
                )
    if layout == "auto":
        raise CohortError(
            "cannot tell the cohort layout: expected study folders (<id><well|poor>-<year>/pre/"
            "<id>S1.wav), a flat notebook folder (<pid>_S1_1.wav) or class folders (<class>/<file>.wav)"
        )
    raise CohortError(f"layout {layout!r} does not fit the cohort folder: {_EXPECTED[layout]}")


def _rel_parts(root: Path, path: Path) -> tuple[str, ...]:
    return path.relative_to(root).parts


def _keep_prefix(root: Path, base: Path) -> list[tuple[str, PartKind]]:
    return [(part, "keep") for part in _rel_parts(root, base)]


def _marked(text: str, start: int, end: int) -> str:
    return text[:start] + SPEAKER_MARK + text[end:]


def discover_study(root: Path, base: Path) -> Discovery:
    """Patient folders ``<id><well|poor>-<year>`` with ``pre/<id>S<n>.wav``, ``post/<id>A<n>.wav``."""
    found = Discovery("study", base)
    prefix = _keep_prefix(root, base)
    expected = "expected <id>S<1..4>.wav (pre) or <id>A<1..4>.wav (post) with the folder's <id>"
    for entry in _subdirs(base):
        folder_match = match_patient_folder(entry.name)
        if not folder_match:
            for path in audio_under(entry):
                parts = prefix + [(p, "unknown") for p in path.relative_to(base).parts]
                found.files.append(
                    FoundFile(
                        path,
                        path.relative_to(root).as_posix(),
                        tuple(parts),
                        None,
                        issue=(
                            "error",
                            "unknown naming: not inside a <id><well|poor>-<year> patient folder; skipped",
                        ),
                    )
                )
            continue
        speaker = folder_match["id"]
        outcome = FOLDER_OUTCOMES.get((folder_match["outcome"] or "").casefold())
        year = int(folder_match["year"]) if folder_match["year"] else None
        folder_part = (_marked(entry.name, *folder_match.span("id")), "mark")
        files = list(audio_under(entry))
        if not files:
            found.notes.append(
                FoundFile(
                    entry,
                    entry.relative_to(root).as_posix(),
                    (*prefix, folder_part),
                    speaker,
                    label=outcome,
                    group=entry.name,
                    year=year,
                    issue=("warning", "patient folder holds no audio files"),
                )
            )
        for path in files:
            inner = path.relative_to(entry).parts
            subfolders: list[tuple[str, PartKind]] = [
                (p, "keep" if p.casefold() in ("pre", "post") else "unknown") for p in inner[:-1]
            ]
            rel = path.relative_to(root).as_posix()
            common = {"speaker": speaker, "label": outcome, "group": entry.name, "year": year}
            file_match = STUDY_FILE.match(path.stem)
            if not file_match or file_match["id"] != speaker:
                why = "the id in the file name differs from its folder's" if file_match else expected
                parts = (*prefix, folder_part, *subfolders, (path.name, "unknown"))
                found.files.append(
                    FoundFile(path, rel, parts, issue=("error", f"unknown naming: {why}; skipped"), **common)
                )
                continue
            phase = PHASE_BY_LETTER[file_match["phase"].upper()]
            placed = {p.casefold() for p in inner[:-1]} & {"pre", "post"}
            issue: tuple[Severity, str] | None = None
            if placed and phase not in placed:
                issue = (
                    "warning",
                    f"misplaced: named {file_match['phase'].upper()} ({phase}) but stored in "
                    f"{'/'.join(sorted(placed))}/; phase taken from the name; kept",
                )
            parts = (*prefix, folder_part, *subfolders, (_marked(path.name, *file_match.span("id")), "mark"))
            found.files.append(
                FoundFile(
                    path,
                    rel,
                    parts,
                    phase=phase,
                    vowel=VOWEL_BY_NUMBER[file_match["vowel"]],
                    issue=issue,
                    **common,
                )
            )
    return found


def discover_notebook(root: Path, base: Path) -> Discovery:
    """A flat folder of ``<pid>_<S|A><vowel>_<clip>.wav`` segment files."""
    found = Discovery("notebook", base)
    prefix = _keep_prefix(root, base)
    matches = [(path, NOTEBOOK_FILE.match(path.stem)) for path in _direct_audio(base)]
    clips = [int(m["clip"]) for _, m in matches if m and m["clip"] is not None]
    # clips numbered from 0 become takes from 1, so take 1 is always the first clip
    offset = 1 if clips and min(clips) == 0 else 0
    for path, match in matches:
        rel = path.relative_to(root).as_posix()
        if not match:
            found.files.append(
                FoundFile(
                    path,
                    rel,
                    (*prefix, (path.name, "unknown")),
                    None,
                    issue=("error", "unknown naming: expected <pid>_<S|A><1..4>_<clip>.wav; skipped"),
                )
            )
            continue
        take = int(match["clip"]) + offset if match["clip"] is not None else 1
        found.files.append(
            FoundFile(
                path,
                rel,
                (*prefix, (_marked(path.name, *match.span("speaker")), "mark")),
                match["speaker"],
                phase=PHASE_BY_LETTER[match["phase"].upper()],
                vowel=VOWEL_BY_NUMBER[match["vowel"]],
                take=take,
            )
        )
    for sub in _subdirs(base):
        for path in audio_under(sub):
            parts = prefix + [(p, "unknown") for p in path.relative_to(base).parts]
            found.files.append(
                FoundFile(
                    path,
                    path.relative_to(root).as_posix(),
                    tuple(parts),
                    None,
                    issue=(
                        "error",
                        "unknown naming: the notebook layout is a flat folder; files in sub-folders are skipped",
                    ),
                )
            )
    return found


def class_label(name: str, label_map: Mapping[str, int] | None) -> int | None:
    """Label of a class folder: ``label_map`` (exact, then case-insensitive), else the default.

    The default map labels healthy/normal/control folders 0 and every other folder 1
    (pathological), which reads the Saarbruecken subset (Healthy vs Cysts, Ventricular-Dysphonia).
    """
    if label_map is None:
        return 0 if name.casefold() in HEALTHY_CLASS_NAMES else 1
    if name in label_map:
        return int(label_map[name])
    folded = {key.casefold(): value for key, value in label_map.items()}
    value = folded.get(name.casefold())
    return None if value is None else int(value)


def compile_filename_pattern(pattern: str | None) -> re.Pattern[str]:
    """Compile a class-folder file-name regex; it must have a named group ``speaker``."""
    text = SVD_PATTERN if pattern is None else pattern
    try:
        compiled = re.compile(text)
    except re.error as exc:
        raise ConfigError(f"filename_pattern={text!r} is not a valid regex: {exc}") from None
    if "speaker" not in compiled.groupindex:
        raise ConfigError(f"filename_pattern={text!r}; expected a named group (?P<speaker>...)")
    return compiled


def _take(text: str | None) -> int | None:
    if text is None:
        return 1
    if text.isdigit():
        return int(text)
    return PITCH_TAKES.get(text.casefold())


def class_folder_names(labels: Mapping[str, int | None]) -> tuple[str, str]:
    """Class names from class folders: the folder of each label when there is one, else a plain word.

    Parameters
    ----------
    labels : mapping of str to int or None
        Class folder name → its label (None: unlabelled folder).
    """
    names = []
    for label, fallback in ((0, "healthy"), (1, "pathological")):
        folders = sorted(name for name, value in labels.items() if value == label)
        names.append(
            folders[0] if len(folders) == 1 else " + ".join(folders) if len(folders) == 2 else fallback
        )
    return names[0], names[1]


def discover_class_folders(
    root: Path, base: Path, *, label_map: Mapping[str, int] | None = None, filename_pattern: str | None = None
) -> Discovery:
    """``<class>/<file>.wav``: label from the class folder, speaker/vowel/take from the name.

    With the default pattern, a folder tree in which no file name matches it (free names,
    e.g. ``AH_064F_<uuid>.wav``) is read as one speaker per file, each a sustained /a/;
    one warning row says so. An explicit ``filename_pattern`` is never relaxed.
    """
    found = Discovery("class_folders", base)
    prefix = _keep_prefix(root, base)
    pattern = compile_filename_pattern(filename_pattern)
    for path in _direct_audio(base):
        found.files.append(
            FoundFile(
                path,
                path.relative_to(root).as_posix(),
                (*prefix, (path.name, "unknown")),
                None,
                issue=("error", "unknown naming: not inside a class folder; skipped"),
            )
        )
    classes = {class_dir: list(audio_under(class_dir)) for class_dir in _subdirs(base)}
    one_per_file = filename_pattern is None and not any(
        pattern.fullmatch(path.stem) for paths in classes.values() for path in paths
    )
    if one_per_file:
        found.notes.append(
            FoundFile(
                base,
                base.relative_to(root).as_posix(),
                tuple(prefix) or (("./", "keep"),),
                None,
                issue=(
                    "warning",
                    "file names follow no speaker pattern: each file is taken as "
                    f"one speaker's sustained /a/ (vowel {ASSUMED_VOWEL})",
                ),
            )
        )
    labels = {
        class_dir.name: class_label(class_dir.name, label_map) for class_dir in classes if classes[class_dir]
    }
    found.class_names = class_folder_names(labels)
    for class_dir, paths in classes.items():
        label = labels.get(class_dir.name)
        for path in paths:
            inner = path.relative_to(class_dir).parts
            middle = [(p, "unknown") for p in inner[:-1]]
            rel = path.relative_to(root).as_posix()
            if one_per_file:
                found.files.append(
                    FoundFile(
                        path,
                        rel,
                        (*prefix, (class_dir.name, "keep"), *middle, (SPEAKER_MARK + path.suffix, "mark")),
                        path.relative_to(class_dir).with_suffix("").as_posix(),
                        phase="pre",
                        vowel=ASSUMED_VOWEL,
                        label=label,
                        group=class_dir.name,
                    )
                )
                continue
            match = pattern.fullmatch(path.stem)
            groups = match.groupdict() if match else {}
            take = _take(groups.get("take")) if match else None
            if not match or not groups["speaker"] or take is None:
                found.files.append(
                    FoundFile(
                        path,
                        rel,
                        (*prefix, (class_dir.name, "keep"), *middle, (path.name, "unknown")),
                        None,
                        label=label,
                        group=class_dir.name,
                        issue=(
                            "error",
                            f"unknown naming: the file name does not match {pattern.pattern!r}; skipped",
                        ),
                    )
                )
                continue
            vowel = groups["vowel"].upper() if groups.get("vowel") else None
            shown = _marked(path.stem, *match.span("speaker")) + path.suffix
            found.files.append(
                FoundFile(
                    path,
                    rel,
                    (*prefix, (class_dir.name, "keep"), *middle, (shown, "mark")),
                    match["speaker"],
                    phase="pre",
                    vowel=vowel,
                    take=take,
                    label=label,
                    group=class_dir.name,
                )
            )
    return found


def discover(
    root: Path,
    *,
    layout: str = "auto",
    label_map: Mapping[str, int] | None = None,
    filename_pattern: str | None = None,
) -> Discovery:
    """Find the layout and every audio file under ``root`` (names only, no audio read).

    Audio files outside the layout's folders are reported as unknown naming, so nothing
    under the root is silently ignored.
    """
    name, base = locate(root, layout)
    if name == "study":
        found = discover_study(root, base)
    elif name == "notebook":
        found = discover_notebook(root, base)
    else:
        found = discover_class_folders(root, base, label_map=label_map, filename_pattern=filename_pattern)
    seen = {f.path for f in found.files}
    for path in audio_under(root):
        if path not in seen:
            parts = tuple((p, "unknown") for p in path.relative_to(root).parts)
            found.files.append(
                FoundFile(
                    path,
                    path.relative_to(root).as_posix(),
                    parts,
                    None,
                    issue=("error", f"unknown naming: outside the {name} layout's folders; skipped"),
                )
            )
    return found
