"""Cohorts uploaded as zip files: unpacked once, safely, and loadable."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from core.cohort import load_cohort
from core.cohort.upload import extract_cohort_zip
from core.errors import CohortError


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_zipped_svd_classes_unpack_once_and_load(svd_root: Path, tmp_path: Path) -> None:
    files = sorted((svd_root / "Datasets").glob("*/*-a_n.wav"))
    entries = {f"svd/{p.parent.name}/{p.name}": p.read_bytes() for p in files}
    entries["__MACOSX/svd/._junk"] = b"resource fork"
    data = _zip(entries)

    root = extract_cohort_zip(data, dest_root=tmp_path)
    assert root.name == "svd"
    cohort = load_cohort(root)
    assert cohort.layout == "class_folders"
    assert len(cohort.recordings) == len(files) == 18
    assert sorted(cohort.patients["outcome"].tolist()) == [0] * 6 + [1] * 12
    stamp = (root / "Healthy").stat().st_mtime_ns
    assert extract_cohort_zip(data, dest_root=tmp_path) == root
    assert (root / "Healthy").stat().st_mtime_ns == stamp  # same bytes: not unpacked again
    assert not (root.parent / "__MACOSX").exists()


def test_entries_escaping_the_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CohortError, match="outside the cohort folder"):
        extract_cohort_zip(_zip({"../evil.wav": b"x"}), dest_root=tmp_path / "uploads", name="bad.zip")
    assert not (tmp_path / "evil.wav").exists()
    assert not any(p.name != ".complete" for p in (tmp_path / "uploads").glob("*/*"))


def test_not_a_zip_names_the_upload(tmp_path: Path) -> None:
    with pytest.raises(CohortError, match="voices.zip: not a zip file"):
        extract_cohort_zip(b"RIFF....WAVE", dest_root=tmp_path, name="voices.zip")
