"""The cohort folder layouts and how one is chosen: study, notebook, class folders.

* "study": ``<id><well|poor>-<year>/pre/<id>S<1..4>.wav`` and ``post/<id>A<1..4>.wav``
  (:mod:`core.cohort.study_layout`).
* "notebook": a flat folder of ``<pid>_<S|A><vowel>_<clip>.wav`` plus a label manifest
  (:mod:`core.cohort.notebook_layout`).
* "class_folders": public databases, ``<class>/<file>.wav`` (:mod:`core.cohort.class_folders`).

A label sheet (:mod:`core.cohort.label_sheet`) reads any folder instead. Each layout is a
strategy object (:class:`core.cohort.layout_base.CohortLayout`); :func:`choose_layout` finds
the one that fits a folder and the folder that holds it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from core.cohort.class_folders import (
    HEALTHY_CLASS_NAMES,
    PITCH_TAKES,
    SVD_PATTERN,
    ClassFoldersLayout,
    class_folder_names,
    class_label,
    compile_filename_pattern,
)
from core.cohort.folder_layout import FolderLayout
from core.cohort.found import (
    ASSUMED_VOWEL,
    DEFAULT_CLASS_NAMES,
    PHASE_BY_LETTER,
    SPEAKER_MARK,
    VOWEL_BY_NUMBER,
    Discovery,
    FoundFile,
    PartKind,
    audio_under,
    is_audio,
    is_hidden,
    subdirs,
)
from core.cohort.notebook_layout import NOTEBOOK_FILE, NotebookLayout
from core.cohort.study_layout import PATIENT_FOLDER, STUDY_FILE, StudyLayout, match_patient_folder
from core.errors import CohortError

#: The folder layouts by name, in the order "auto" tries them.
FOLDER_LAYOUTS: dict[str, type[FolderLayout]] = {
    layout.name: layout for layout in (StudyLayout, NotebookLayout, ClassFoldersLayout)
}
LAYOUTS: tuple[str, ...] = tuple(FOLDER_LAYOUTS)

__all__ = [
    "ASSUMED_VOWEL",
    "DEFAULT_CLASS_NAMES",
    "FOLDER_LAYOUTS",
    "HEALTHY_CLASS_NAMES",
    "LAYOUTS",
    "NOTEBOOK_FILE",
    "PATIENT_FOLDER",
    "PHASE_BY_LETTER",
    "PITCH_TAKES",
    "SPEAKER_MARK",
    "STUDY_FILE",
    "SVD_PATTERN",
    "VOWEL_BY_NUMBER",
    "Discovery",
    "FoundFile",
    "PartKind",
    "audio_under",
    "choose_layout",
    "class_folder_names",
    "class_label",
    "compile_filename_pattern",
    "discover",
    "is_audio",
    "is_hidden",
    "locate",
    "match_patient_folder",
]


def _levels(root: Path, depth: int = 2) -> Iterator[list[Path]]:
    """The root, then its sub-folders, then theirs: wrapper folders are common in exports."""
    level = [root]
    for _ in range(depth + 1):
        yield level
        level = [d for folder in level for d in subdirs(folder)]


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
            fitting = [folder for folder in level if FOLDER_LAYOUTS[name].fits(folder, strict=strict)]
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
    raise CohortError(f"layout {layout!r} does not fit the cohort folder: {FOLDER_LAYOUTS[layout].expected}")


def choose_layout(
    root: Path,
    layout: str = "auto",
    *,
    label_map: Mapping[str, int] | None = None,
    filename_pattern: str | None = None,
) -> FolderLayout:
    """The layout strategy for ``root`` ("auto" or a named layout), set on the folder that holds it.

    Raises
    ------
    CohortError
        As :func:`locate`.
    ConfigError
        Class folders with an invalid ``filename_pattern``.
    """
    name, base = locate(root, layout)
    if name == ClassFoldersLayout.name:
        return ClassFoldersLayout(base, label_map=label_map, filename_pattern=filename_pattern)
    return FOLDER_LAYOUTS[name](base)


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
    strategy = choose_layout(root, layout, label_map=label_map, filename_pattern=filename_pattern)
    return strategy.discover(root)
