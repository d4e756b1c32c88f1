"""``CohortSource``: where a cohort's recordings are and how to read their labels, as one value.

A source is what a user chose (folder, label sheet, its columns, the positive value); it
loads the cohort, travels from the Cohort page to every other page, and is stored in each
run's manifest so that resuming, explaining or baselining a run reads the same data the
same way. Paths are kept absolute; the columns left empty are detected on loading.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from core.cohort.label_sheet import LabelSheet
from core.cohort.layouts import audio_under, is_hidden, locate
from core.cohort.loader import load_cohort
from core.cohort.model import Cohort
from core.cohort.sheet_columns import SheetColumns
from core.errors import CohortError

#: Values that already name the positive class of the study and notebook layouts.
_STUDY_POSITIVE = ("poor", "1")


@dataclass(frozen=True)
class CohortSource:
    """A cohort folder and, optionally, a label sheet with its column mapping.

    Attributes
    ----------
    root : Path
        The cohort folder.
    labels : Path, optional
        CSV/XLSX label sheet (file path, patient/speaker, label per row); None reads the
        folder's own layout (study, notebook, class folders).
    path_column, patient_column, label_column, vowel_column, phase_column, take_column : str, optional
        Sheet headers; None = detected from common names.
    positive : str, optional
        Label value (sheet) or class folder name of the positive class (label 1). None:
        inferred from the sheet when unambiguous; class folders use the default map
        (healthy/normal/control/HC → 0, every other folder → 1).
    layout : str
        Folder layout when there is no sheet ("auto", "study", "notebook", "class_folders").
    metadata : Path, optional
        Study metadata sheet or notebook manifest (when not found in the folder).
    """

    root: Path
    labels: Path | None = None
    path_column: str | None = None
    patient_column: str | None = None
    label_column: str | None = None
    positive: str | None = None
    vowel_column: str | None = None
    phase_column: str | None = None
    take_column: str | None = None
    layout: str = "auto"
    metadata: Path | None = None

    def __post_init__(self) -> None:
        root = Path(self.root).expanduser()
        object.__setattr__(self, "root", root.resolve() if root.exists() else root)
        for name in ("labels", "metadata"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _resolve_file(Path(value).expanduser(), root))
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, str) and spec.name != "layout":
                object.__setattr__(self, spec.name, value.strip() or None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (absolute paths as text), stored in run manifests."""
        return {
            key: (str(value) if isinstance(value, Path) else value) for key, value in asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CohortSource:
        """Inverse of :meth:`to_dict`; unknown keys are ignored, missing ones take their defaults."""
        known = {spec.name for spec in fields(cls)}
        if not data.get("root"):
            raise CohortError("cohort source without a root folder")
        values = {key: value for key, value in data.items() if key in known and value is not None}
        for key in ("root", "labels", "metadata"):
            if key in values:
                values[key] = Path(values[key])
        return cls(**values)

    @classmethod
    def from_run_data(cls, data: dict[str, Any]) -> CohortSource:
        """The source of a run from its manifest's ``data``; old runs only stored ``cohort_dir``."""
        if data.get("cohort_source"):
            return cls.from_dict(data["cohort_source"])
        if not data.get("cohort_dir"):
            raise CohortError("the run's manifest names no cohort folder")
        return cls(Path(data["cohort_dir"]))

    def with_root(self, root: str | Path) -> CohortSource:
        """The same mapping on another folder (a cohort that moved); a sheet inside the old folder moves along."""
        labels = self.labels
        if labels is not None:
            try:
                labels = Path(root) / labels.relative_to(self.root)
            except ValueError:
                pass
        return CohortSource.from_dict({**self.to_dict(), "root": str(root), "labels": labels and str(labels)})

    @property
    def label_sheet(self) -> LabelSheet | None:
        """The sheet with its columns, or None when the folder's layout gives the labels."""
        if self.labels is None:
            return None
        columns = SheetColumns(
            path=self.path_column,
            patient=self.patient_column,
            label=self.label_column,
            vowel=self.vowel_column,
            phase=self.phase_column,
            take=self.take_column,
        )
        return LabelSheet(self.labels, columns, self.positive)

    def class_folders(self) -> list[str]:
        """Names of the class folders holding audio; empty when the folder is not in the class-folder layout."""
        if self.labels is not None:
            return []
        try:
            layout, base = locate(self.root, self.layout)
        except CohortError:
            return []
        if layout != "class_folders":
            return []
        return sorted(
            d.name
            for d in base.iterdir()
            if d.is_dir() and not is_hidden(d) and next(audio_under(d), None) is not None
        )

    def label_map(self) -> dict[str, int] | None:
        """Class folders: the ``positive`` folder → 1, every other class folder → 0 (None without ``positive``).

        Raises
        ------
        CohortError
            ``positive`` names no class folder, or the folder is not in the class-folder layout.
        """
        if self.positive is None or self.labels is not None:
            return None
        folders = self.class_folders()
        if not folders:
            layout, _ = locate(self.root, self.layout)
            if self.positive.casefold() in _STUDY_POSITIVE:
                return None
            raise CohortError(
                f"positive={self.positive!r}: the {layout} layout's positive class is 'poor'; "
                "--positive names a class folder or a label-sheet value"
            )
        match = [f for f in folders if f == self.positive] or [
            f for f in folders if f.casefold() == self.positive.casefold()
        ]
        if not match:
            raise CohortError(
                f"positive={self.positive!r} is not a class folder; the class folders are "
                f"{', '.join(map(repr, folders))}"
            )
        return {folder: int(folder == match[0]) for folder in folders}

    def load(self, **kwargs: Any) -> Cohort:
        """Load the cohort (:func:`core.cohort.load_cohort` with this source's layout and labels).

        Parameters
        ----------
        **kwargs
            Passed on to :func:`load_cohort` (``progress``, ``min_duration_s``, ``pseudonyms`` …).
        """
        if self.labels is not None:
            cohort = load_cohort(self.root, label_sheet=self.label_sheet, **kwargs)
        else:
            label_map = self.label_map()
            if label_map is not None:
                kwargs.setdefault("label_map", label_map)
            cohort = load_cohort(self.root, layout=self.layout, metadata=self.metadata, **kwargs)
        cohort.source = self
        return cohort

    def describe(self) -> str:
        """One line for pages and logs (folder and sheet names only, no cell values except the positive one)."""
        text = self.root.name or str(self.root)
        if self.labels is not None:
            text += f" with labels from {self.labels.name}"
        if self.positive is not None:
            text += f", positive = {self.positive}"
        return text


def _resolve_file(path: Path, root: Path) -> Path:
    """A sheet path as given, or relative to the cohort folder when it is not found as given."""
    if not path.is_absolute() and not path.exists() and (root / path).exists():
        path = root / path
    return path.resolve() if path.exists() else path


def as_source(cohort: str | Path | CohortSource) -> CohortSource:
    """A source from a plain folder path (old call sites) or a source."""
    return cohort if isinstance(cohort, CohortSource) else CohortSource(Path(cohort))
