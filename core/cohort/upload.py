"""A cohort uploaded as a zip file, unpacked safely into the workspace.

Every upload is unpacked into its own staging folder (``tempfile.mkdtemp`` beside the
uploads), checked entry by entry, and renamed into ``<uploads>/<content hash>/`` only
when complete; the same bytes are unpacked once and reused. Two sessions uploading at
the same time never share a staging folder.

Refused, each with an :class:`UploadError` naming the upload and the entry (never a
path on this machine): not a zip, a damaged entry (bad CRC, broken compression), an
encrypted entry, absolute paths, ``..``, backslashes and drive letters (Windows
separators that escape the folder on Windows), symbolic links, duplicate entries, a
name part over 255 bytes, and the quotas below. macOS resource forks are skipped.

=====================================  ===============  =============================
quota                                  default          environment variable
=====================================  ===============  =============================
total unpacked size (bytes)            4 GiB            ``VOE_UPLOAD_MAX_BYTES``
entries in the zip                     10 000           ``VOE_UPLOAD_MAX_ENTRIES``
compression ratio of an entry > 1 MiB  200 : 1          ``VOE_UPLOAD_MAX_RATIO``
uploads kept (most recently used)      10               ``VOE_UPLOAD_KEEP``
days an unused upload is kept          7                ``VOE_UPLOAD_MAX_AGE_DAYS``
=====================================  ===============  =============================

Audio compresses about 1.1–2 : 1 in a zip, so a ratio of hundreds means a zip bomb
(e.g. 200 MB of zeros in 200 KB). The unpacked bytes are counted while writing, so a
zip whose headers understate the sizes is stopped at the quota too. Old uploads are
removed by :func:`clean_uploads` before each new one is unpacked: beyond the ``keep``
most recently used (unused for an hour), and any unused for ``max_age_days``.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.cohort.pseudonyms import mask_unknown_numbers
from core.errors import CohortError

#: Largest total unpacked size accepted (bytes), unless ``VOE_UPLOAD_MAX_BYTES`` says otherwise.
MAX_UNPACKED_BYTES: int = 4 * 1024**3
#: Most entries (files and folders) in one zip.
MAX_ENTRIES: int = 10_000
#: Largest uncompressed : compressed ratio of an entry over :data:`RATIO_FLOOR_BYTES`.
MAX_RATIO: float = 200.0
RATIO_FLOOR_BYTES: int = 1024**2
#: Longest file or folder name in bytes (UTF-8), as on common file systems.
MAX_NAME_BYTES: int = 255
#: Uploads kept, most recently used first, and days an unused one is kept.
KEEP_UPLOADS: int = 10
MAX_AGE_DAYS: float = 7.0
COMPLETE = ".complete"
_PARTIAL = ".partial-"
_CHUNK = 1 << 20


class UploadError(CohortError):
    """An uploaded zip file is refused: unreadable, damaged, unsafe or over a quota."""


@dataclass(frozen=True)
class UploadLimits:
    """Quotas of one upload; :meth:`from_env` reads the environment overrides."""

    max_bytes: int = MAX_UNPACKED_BYTES
    max_entries: int = MAX_ENTRIES
    max_ratio: float = MAX_RATIO

    @classmethod
    def from_env(cls) -> UploadLimits:
        return cls(
            max_bytes=int(_env("VOE_UPLOAD_MAX_BYTES", MAX_UNPACKED_BYTES)),
            max_entries=int(_env("VOE_UPLOAD_MAX_ENTRIES", MAX_ENTRIES)),
            max_ratio=float(_env("VOE_UPLOAD_MAX_RATIO", MAX_RATIO)),
        )


def _env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UploadError(f"{name}={raw!r}; expected a number") from None
    if value <= 0:
        raise UploadError(f"{name}={raw!r}; expected a positive number")
    return value


def extract_cohort_zip(
    data: bytes, *, dest_root: Path, name: str = "upload.zip", limits: UploadLimits | None = None
) -> Path:
    """Unpack a zipped cohort folder into ``dest_root/<content hash>/`` and return the cohort root.

    The same bytes always land in the same folder (unpacked once). A zip holding a single
    top-level folder yields that folder as the root.

    Parameters
    ----------
    data : bytes
        The zip file's content.
    dest_root : Path
        Folder under which uploads are unpacked.
    name : str
        How the upload is named in error messages.
    limits : UploadLimits, optional
        Quotas (default: :meth:`UploadLimits.from_env`).

    Raises
    ------
    UploadError
        See the module docstring; the message names the upload and the entry.
    """
    limits = limits or UploadLimits.from_env()
    dest_root = Path(dest_root)
    digest = hashlib.sha256(data).hexdigest()[:16]
    target = dest_root / digest
    if (target / COMPLETE).is_file():
        _touch(target)
        return _cohort_root(target)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise UploadError(f"{name}: not a zip file (or its table of contents is damaged)") from None
    members = _checked_members(archive, name, limits)
    dest_root.mkdir(parents=True, exist_ok=True)
    clean_uploads(dest_root)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest}{_PARTIAL}", dir=dest_root))
    try:
        _unpack(archive, members, staging, name, limits)
        (staging / COMPLETE).touch()
        _move_into_place(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _cohort_root(target)


def _shown(filename: str) -> str:
    """An entry name for messages: long digit runs masked, at most 80 characters."""
    text = mask_unknown_numbers(filename)
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _checked_name(entry: str, where: str) -> PurePosixPath:
    """An entry's path, refused when it could land outside the cohort folder or has an overlong part."""
    if "\\" in entry:
        raise UploadError(f"{where} uses a backslash (a Windows separator); entries must use '/'")
    if re.match(r"[A-Za-z]:", entry):
        raise UploadError(f"{where} starts with a drive letter")
    relative = PurePosixPath(entry)
    if relative.is_absolute() or ".." in relative.parts:
        raise UploadError(f"{where} points outside the cohort folder")
    longest = max((len(part.encode("utf-8")) for part in relative.parts), default=0)
    if longest > MAX_NAME_BYTES:
        raise UploadError(f"{where} has a name of {longest} bytes; at most {MAX_NAME_BYTES} are allowed")
    return relative


def _check_file_entry(
    member: zipfile.ZipInfo, key: str, seen: set[str], where: str, limits: UploadLimits
) -> None:
    """Refuse a file entry that is a link, encrypted, a second copy of ``key``, or a zip bomb."""
    if (member.external_attr >> 16) & 0o170000 == 0o120000:
        raise UploadError(f"{where} is a symbolic link")
    if member.flag_bits & 0x1:
        raise UploadError(f"{where} is encrypted; upload a zip without a password")
    if key in seen:
        raise UploadError(f"{where} appears twice")
    seen.add(key)
    ratio = member.file_size / max(member.compress_size, 1)
    if member.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_ratio:
        raise UploadError(
            f"{where} is compressed {ratio:.0f} : 1 (at most {limits.max_ratio:.0f} : 1; "
            "recordings compress about 2 : 1): refused as a zip bomb"
        )


def _checked_members(archive: zipfile.ZipFile, name: str, limits: UploadLimits) -> list[zipfile.ZipInfo]:
    """The entries to unpack, after every check that the table of contents allows."""
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise UploadError(
            f"{name}: {len(infos)} entries; at most {limits.max_entries} are accepted "
            "(VOE_UPLOAD_MAX_ENTRIES)"
        )
    seen: set[str] = set()
    members = []
    for member in infos:
        where = f"{name}: entry {_shown(member.filename)}"
        relative = _checked_name(member.filename, where)
        if member.is_dir() or _skipped(member.filename):
            continue
        _check_file_entry(member, relative.as_posix(), seen, where, limits)
        members.append(member)
    if not members:
        raise UploadError(f"{name}: the zip file holds no files")
    total = sum(m.file_size for m in members)
    if total > limits.max_bytes:
        raise UploadError(
            f"{name}: unpacks to {_size(total)}; at most {_size(limits.max_bytes)} are accepted "
            "(VOE_UPLOAD_MAX_BYTES)"
        )
    return members


def _unpack(
    archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], staging: Path, name: str, limits: UploadLimits
) -> None:
    """Copy the entries into ``staging``, counting bytes and turning every failure into UploadError."""
    written = 0
    for member in members:
        where = f"{name}: entry {_shown(member.filename)}"
        out = staging.joinpath(*PurePosixPath(member.filename).parts)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(out, "wb") as sink:
                while block := source.read(_CHUNK):
                    written += len(block)
                    if written > limits.max_bytes:
                        raise UploadError(
                            f"{name}: unpacks to more than {_size(limits.max_bytes)} "
                            "(VOE_UPLOAD_MAX_BYTES); the sizes in the zip understate it"
                        )
                    sink.write(block)
        except zipfile.BadZipFile as exc:
            reason = "CRC check failed" if "CRC" in str(exc) else "damaged data"
            raise UploadError(f"{where} is damaged ({reason}); re-create the zip file") from None
        except (zlib.error, EOFError):
            raise UploadError(
                f"{where} is damaged (its compressed data cannot be read); re-create the zip file"
            ) from None
        except NotImplementedError:
            raise UploadError(
                f"{where} uses a compression method this tool cannot read; use plain zip (deflate)"
            ) from None
        except RuntimeError:
            raise UploadError(f"{where} cannot be read (encrypted?)") from None
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            raise UploadError(
                f"{where} clashes with another entry of the same name (a file and a folder)"
            ) from None
        except OSError as exc:
            raise UploadError(
                f"{where} cannot be written here ({exc.strerror or type(exc).__name__})"
            ) from None


def _move_into_place(staging: Path, target: Path) -> None:
    """Rename the complete staging folder to ``target`` unless an equal upload got there first."""
    for _ in range(3):
        try:
            os.rename(staging, target)
            return
        except OSError:
            if (target / COMPLETE).is_file():
                _touch(target)
                return  # another session unpacked the same bytes; the finally removes ours
            # a leftover without its completion mark: move it aside, then retry
            aside = Path(tempfile.mkdtemp(prefix=f".{target.name}{_PARTIAL}old-", dir=target.parent))
            try:
                os.rename(target, aside / "old")
            except OSError:
                pass
            shutil.rmtree(aside, ignore_errors=True)
    raise UploadError(f"upload {target.name}: could not be put in place; try again")


def _touch(folder: Path) -> None:
    """Mark an upload as used now (its completion mark's time orders the clean-up)."""
    try:
        os.utime(folder / COMPLETE)
    except OSError:
        pass


def _cohort_root(target: Path) -> Path:
    entries = [p for p in target.iterdir() if not p.name.startswith(".")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else target


def clean_uploads(
    dest_root: Path, *, keep: int | None = None, max_age_days: float | None = None, now: float | None = None
) -> list[str]:
    """Remove old uploads and abandoned staging folders; return the removed folder names.

    Parameters
    ----------
    dest_root : Path
        The uploads folder.
    keep : int, optional
        Uploads kept regardless of age, most recently used first (default
        ``VOE_UPLOAD_KEEP`` or 10); the others are removed once unused for an hour.
    max_age_days : float, optional
        Any upload unused for longer is removed (default ``VOE_UPLOAD_MAX_AGE_DAYS`` or 7).
    now : float, optional
        Current ``time.time()`` (tests).
    """
    keep = int(_env("VOE_UPLOAD_KEEP", KEEP_UPLOADS)) if keep is None else keep
    max_age = 86400.0 * (
        _env("VOE_UPLOAD_MAX_AGE_DAYS", MAX_AGE_DAYS) if max_age_days is None else max_age_days
    )
    now = time.time() if now is None else now
    dest_root = Path(dest_root)
    if not dest_root.is_dir():
        return []
    uploads, removed = [], []
    for folder in dest_root.iterdir():
        if not folder.is_dir():
            continue
        mark = folder / COMPLETE
        try:
            complete = mark.is_file()
            used = (mark if complete else folder).stat().st_mtime
        except FileNotFoundError:  # another upload moved or removed it meanwhile
            continue
        if not complete:
            if now - used > 3600:  # staging abandoned by a crashed upload
                removed.append(folder.name)
        else:
            uploads.append((used, folder))
    uploads.sort(reverse=True)
    for rank, (used, folder) in enumerate(uploads):
        if now - used > max_age or (rank >= keep and now - used > 3600):
            removed.append(folder.name)
    for folder_name in removed:
        shutil.rmtree(dest_root / folder_name, ignore_errors=True)
    return sorted(removed)


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


def _skipped(filename: str) -> bool:
    parts = PurePosixPath(filename).parts
    return any(part == "__MACOSX" or part.startswith("._") or part == ".DS_Store" for part in parts)
