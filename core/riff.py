"""RIFF/WAVE chunks: does a WAV's data-size field agree with the file's size?

libsndfile trusts the field. A copy cut short then reads as a short recording, and a
field smaller than the data (64 bytes said, 137 KB there) as a few milliseconds. This
walks the chunk headers (a few reads, no sample) to tell both apart from valid files,
which may carry more chunks (LIST, id3, ...) after the data.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO


def _is_chunk_id(raw: bytes) -> bool:
    return len(raw) == 4 and all(0x20 <= b <= 0x7E for b in raw)


def wav_size_issue(path: Path) -> str | None:
    """Whether a RIFF/WAVE file's data-size field agrees with the file's size.

    libsndfile trusts the field: it reads a truncated copy as a short recording, and a
    field smaller than the data as a few milliseconds. Bytes after the data chunk are
    fine when they form valid chunks (LIST, id3, ...). Returns a reason, or None when the
    sizes agree, the field is a streaming writer's placeholder (0 or 0xFFFFFFFF), or the
    file is not RIFF/WAVE.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:
            handle.seek(pos)
            chunk_id, chunk_size = struct.unpack("<4sI", handle.read(8))
            if chunk_id != b"data":
                pos += 8 + chunk_size + (chunk_size & 1)
                continue
            if chunk_size in (0, 0xFFFFFFFF):
                return None
            end = pos + 8 + chunk_size
            if end > size:
                return (
                    f"unreadable or corrupt audio file: truncated, {end - size} bytes of the audio data its "
                    "header declares are missing"
                )
            stray = _stray_bytes_after(handle, end + (chunk_size & 1), size)
            if stray:
                return (
                    f"data size mismatch: the header declares {chunk_size} bytes of audio data but {stray} "
                    "more bytes follow that are not a valid chunk; the header is wrong, so the file is "
                    "refused rather than read short"
                )
            return None
    return None


def _stray_bytes_after(handle: BinaryIO, pos: int, size: int) -> int:
    """Bytes from ``pos`` on that do not parse as RIFF chunks (a few bytes of padding are tolerated)."""
    while pos + 8 <= size:
        handle.seek(pos)
        chunk_id, chunk_size = struct.unpack("<4sI", handle.read(8))
        if not _is_chunk_id(chunk_id) or pos + 8 + chunk_size > size + 1:
            return size - pos
        pos += 8 + chunk_size + (chunk_size & 1)
    return 0
