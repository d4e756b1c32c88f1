"""A cohort uploaded as a zip file, unpacked safely into the workspace."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from core.errors import CohortError

#: Largest total unpacked size accepted (bytes).
MAX_UNPACKED_BYTES: int = 4 * 1024**3


def extract_cohort_zip(data: bytes, *, dest_root: Path, name: str = "upload.zip") -> Path:
    """Unpack a zipped cohort folder into ``dest_root/<content hash>/`` and return the cohort root.

    The same bytes always land in the same folder (unpacked once). A zip holding a single
    top-level folder yields that folder as the root. Entries that would escape the
    destination (absolute paths, ``..``), links and macOS resource forks are refused or
    skipped.

    Parameters
    ----------
    data : bytes
        The zip file's content.
    dest_root : Path
        Folder under which uploads are unpacked.
    name : str
        How the upload is named in error messages.

    Raises
    ------
    CohortError
        Not a zip file, an unsafe entry, or more than :data:`MAX_UNPACKED_BYTES` unpacked.
    """
    digest = hashlib.sha256(data).hexdigest()[:16]
    target = Path(dest_root) / digest
    if not (target / ".complete").is_file():
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            raise CohortError(f"{name}: not a zip file") from None
        members = [m for m in archive.infolist() if not m.is_dir() and not _skipped(m.filename)]
        if not members:
            raise CohortError(f"{name}: the zip file holds no files")
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise CohortError(f"{name}: unpacks to more than {MAX_UNPACKED_BYTES // 1024**3} GiB")
        staging = target.with_name(f".{digest}.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            for member in members:
                relative = PurePosixPath(member.filename)
                if relative.is_absolute() or ".." in relative.parts:
                    raise CohortError(f"{name}: entry {member.filename!r} points outside the cohort folder")
                if (member.external_attr >> 16) & 0o170000 == 0o120000:
                    raise CohortError(f"{name}: entry {member.filename!r} is a symbolic link")
                out = staging.joinpath(*relative.parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(out, "wb") as sink:
                    shutil.copyfileobj(source, sink)
            (staging / ".complete").touch()
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    entries = [p for p in target.iterdir() if not p.name.startswith(".")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else target


def _skipped(filename: str) -> bool:
    parts = PurePosixPath(filename).parts
    return any(part == "__MACOSX" or part.startswith("._") or part == ".DS_Store" for part in parts)
