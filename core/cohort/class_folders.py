"""The class-folder layout: ``<class>/<file>.wav``, as public voice databases ship.

The label comes from the class folder; speaker, vowel and take from the file name by a
regex (default: Saarbruecken ``<session>-<a|i|u>_<n|l|h>``). Names that follow no speaker
pattern are read as one speaker per file, each a sustained /a/.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from core.cohort.folder_layout import FolderLayout
from core.cohort.found import ASSUMED_VOWEL, Discovery, FoundFile, audio_under, direct_audio, marked, subdirs
from core.cohort.layout_base import PatientRecord
from core.errors import ConfigError

#: Saarbruecken naming ``<session>-<vowel>_<pitch>``; the default ``filename_pattern``.
SVD_PATTERN = r"(?P<speaker>[A-Za-z0-9]+)-(?P<vowel>[A-Za-z])(?:_(?P<take>[A-Za-z]|\d+))?"
#: SVD pitch letter → take: normal, low, high.
PITCH_TAKES: dict[str, int] = {"n": 1, "l": 2, "h": 3}
#: Class folders labelled 0 by the default label map; every other class folder is 1.
HEALTHY_CLASS_NAMES: tuple[str, ...] = ("healthy", "normal", "control", "controls", "hc", "gesund")


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


class ClassFoldersLayout(FolderLayout):
    """``<class>/<file>.wav``: label from the class folder, speaker/vowel/take from the name.

    With the default pattern, a folder tree in which no file name matches it (free names,
    e.g. ``AH_064F_<uuid>.wav``) is read as one speaker per file, each a sustained /a/;
    one warning row says so. An explicit ``filename_pattern`` is never relaxed.
    """

    name = "class_folders"
    expected = "no class folders with audio files inside (expected <class>/<file>.wav)"

    def __init__(
        self, base: Path, *, label_map: Mapping[str, int] | None = None, filename_pattern: str | None = None
    ) -> None:
        super().__init__(base)
        self.label_map = label_map
        self.filename_pattern = filename_pattern
        self.pattern = compile_filename_pattern(filename_pattern)

    @staticmethod
    def fits(folder: Path, *, strict: bool) -> bool:
        return any(direct_audio(d) for d in subdirs(folder))

    def scan(self, root: Path) -> Discovery:
        base, prefix = self.base, self.prefix
        found = Discovery(self.name, base)
        reason = "unknown naming: not inside a class folder; skipped"
        found.files += [self.skipped(root, path, reason) for path in direct_audio(base)]
        classes = {class_dir: list(audio_under(class_dir)) for class_dir in subdirs(base)}
        one_per_file = self.filename_pattern is None and not any(
            self.pattern.fullmatch(path.stem) for paths in classes.values() for path in paths
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
        labels = {d.name: class_label(d.name, self.label_map) for d in classes if classes[d]}
        found.class_names = class_folder_names(labels)
        read = self._one_speaker_file if one_per_file else self._named_file
        for class_dir, paths in classes.items():
            found.files += [read(root, class_dir, path, labels.get(class_dir.name)) for path in paths]
        return found

    def _one_speaker_file(self, root: Path, class_dir: Path, path: Path, label: int | None) -> FoundFile:
        """A file taken as one speaker's /a/: the speaker is the file's path inside its class folder."""
        middle = [(p, "unknown") for p in path.relative_to(class_dir).parts[:-1]]
        return FoundFile(
            path,
            path.relative_to(root).as_posix(),
            (*self.prefix, (class_dir.name, "keep"), *middle, (marked(path.name, 0, len(path.stem)), "mark")),  # type: ignore[arg-type]
            path.relative_to(class_dir).with_suffix("").as_posix(),
            phase="pre",
            vowel=ASSUMED_VOWEL,
            label=label,
            group=class_dir.name,
        )

    def _named_file(self, root: Path, class_dir: Path, path: Path, label: int | None) -> FoundFile:
        """A file whose name the pattern reads (speaker, vowel, take), or an error row when it cannot."""
        middle = [(p, "unknown") for p in path.relative_to(class_dir).parts[:-1]]
        head = (*self.prefix, (class_dir.name, "keep"), *middle)
        rel = path.relative_to(root).as_posix()
        match = self.pattern.fullmatch(path.stem)
        groups = match.groupdict() if match else {}
        take = _take(groups.get("take")) if match else None
        if not match or not groups["speaker"] or take is None:
            return FoundFile(
                path,
                rel,
                (*head, (path.name, "unknown")),  # type: ignore[arg-type]
                None,
                label=label,
                group=class_dir.name,
                issue=(
                    "error",
                    f"unknown naming: the file name does not match {self.pattern.pattern!r}; skipped",
                ),
            )
        shown = marked(path.stem, *match.span("speaker")) + path.suffix
        return FoundFile(
            path,
            rel,
            (*head, (shown, "mark")),  # type: ignore[arg-type]
            match["speaker"],
            phase="pre",
            vowel=groups["vowel"].upper() if groups.get("vowel") else None,
            take=take,
            label=label,
            group=class_dir.name,
        )

    def no_label_reason(self, item: FoundFile, patient: PatientRecord, *, conflict: bool) -> str:
        return f"class folder {item.group!r} is not in label_map"

    def patient_cause(self, patient: PatientRecord) -> str | None:
        return " + ".join(patient.groups)
