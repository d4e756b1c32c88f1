"""``FolderLayout``: a layout whose file and folder names say whose recording each file is.

A folder layout knows whether a folder fits it (:meth:`FolderLayout.fits`) and scans the
folder that holds it (:meth:`FolderLayout.scan`); audio anywhere else under the cohort root
becomes an error row, so nothing under the root is silently ignored.
"""

from __future__ import annotations

from pathlib import Path

from core.cohort.found import Discovery, FoundFile, PartKind, audio_under, keep_prefix, skipped_file
from core.cohort.layout_base import CohortLayout


class FolderLayout(CohortLayout):
    """A layout read from names under ``base`` (the root, or a wrapper folder one or two levels down).

    Attributes
    ----------
    expected : str
        What the layout looks for, for the error when a named layout does not fit.
    """

    expected: str = ""

    def __init__(self, base: Path) -> None:
        super().__init__()
        self.base = base
        self.prefix: list[tuple[str, PartKind]] = []

    @staticmethod
    def fits(folder: Path, *, strict: bool) -> bool:
        """True when ``folder`` holds this layout (``strict=False``: the last-resort reading)."""
        raise NotImplementedError

    def scan(self, root: Path) -> Discovery:
        """Every audio file under ``self.base`` read by the layout's naming rules."""
        raise NotImplementedError

    def skipped(self, root: Path, path: Path, reason: str) -> FoundFile:
        """An audio file under the base that the layout's naming rules do not read (an error row)."""
        return skipped_file(root, path, reason, under=self.base, prefix=self.prefix)

    def discover(self, root: Path) -> Discovery:
        self.prefix = keep_prefix(root, self.base)
        found = self.scan(root)
        seen = {f.path for f in found.files}
        reason = f"unknown naming: outside the {self.name} layout's folders; skipped"
        found.files += [skipped_file(root, path, reason) for path in audio_under(root) if path not in seen]
        return found
