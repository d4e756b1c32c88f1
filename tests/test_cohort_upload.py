"""Cohorts uploaded as zip files: unpacked once, safely, and loadable."""

from __future__ import annotations

import io
import os
import re
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.cohort import load_cohort
from core.cohort.upload import UploadError, UploadLimits, clean_uploads, extract_cohort_zip
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


def _bomb(path: Path, megabytes: int) -> None:
    """A real zip holding ``megabytes`` MB of zeros, written in chunks (never in memory at once)."""
    block = bytes(1024**2)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("cohort/zeros.wav", "w", force_zip64=True) as entry:
            for _ in range(megabytes):
                entry.write(block)


def test_a_zip_bomb_is_refused_by_ratio_and_by_the_size_quota(tmp_path: Path, monkeypatch) -> None:
    bomb = tmp_path / "bomb.zip"
    _bomb(bomb, 200)
    assert bomb.stat().st_size < 400_000  # 200 MB of zeros in a few hundred KB
    with pytest.raises(UploadError, match=r"bomb.zip: entry 'cohort/zeros.wav' is compressed \d+ : 1"):
        extract_cohort_zip(bomb.read_bytes(), dest_root=tmp_path / "up", name="bomb.zip")
    # with the ratio check lifted, the size quota (lowered through the environment) stops it
    monkeypatch.setenv("VOE_UPLOAD_MAX_RATIO", "1e9")
    monkeypatch.setenv("VOE_UPLOAD_MAX_BYTES", str(50 * 1024**2))
    with pytest.raises(UploadError, match="unpacks to 200 MB; at most 50 MB"):
        extract_cohort_zip(bomb.read_bytes(), dest_root=tmp_path / "up", name="bomb.zip")
    assert not [p for p in (tmp_path / "up").rglob("*") if p.is_file()]


def test_sizes_understated_in_the_headers_are_caught_while_unpacking(tmp_path: Path) -> None:
    data = _zip({"c/a.wav": b"\x01" * 300_000, "c/b.wav": b"\x02" * 300_000})
    limits = UploadLimits(max_bytes=400_000)
    with pytest.raises(UploadError, match="unpacks to"):
        extract_cohort_zip(data, dest_root=tmp_path, name="big.zip", limits=limits)


def test_too_many_entries_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(20_000):
            archive.writestr(f"c/{i}.txt", b"")
    with pytest.raises(UploadError, match="many.zip: 20000 entries; at most 10000"):
        extract_cohort_zip(path.read_bytes(), dest_root=tmp_path / "up", name="many.zip")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("..\\..\\evil.txt", "uses a backslash"),
        ("cohort\\sub\\a.wav", "uses a backslash"),
        ("C:/Windows/evil.txt", "starts with a drive letter"),
        ("/etc/evil.txt", "points outside"),
        ("cohort/../../evil.txt", "points outside"),
        ("cohort/" + "a" * 256 + ".wav", "has a name of 260 bytes; at most 255"),
        ("cohort/" + "é" * 130 + ".wav", "has a name of 264 bytes"),
    ],
)
def test_unsafe_entry_names_are_refused_naming_the_entry(tmp_path: Path, entry: str, reason: str) -> None:
    info = zipfile.ZipInfo(entry)  # ZipInfo keeps the name as given (backslashes too, on Linux)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, b"x")
        archive.writestr("cohort/ok.wav", b"y")
    with pytest.raises(UploadError, match=re.escape(reason)) as caught:
        extract_cohort_zip(buffer.getvalue(), dest_root=tmp_path / "up", name="bad.zip")
    message = str(caught.value)
    assert message.startswith("bad.zip: entry '") and str(tmp_path) not in message
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()
    assert not [p for p in (tmp_path / "up").rglob("*") if p.is_file()]


def test_a_bad_crc_is_a_clear_error_without_paths(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 64
    data = bytearray(_zip({"cohort/a.wav": payload}))
    offset = bytes(data).index(payload[:64])  # stored, not compressed: the payload sits in the file
    data[offset + 1000] ^= 0xFF
    expected = r"crc.zip: entry 'cohort/a.wav' is damaged \(CRC check failed\)"
    with pytest.raises(UploadError, match=expected) as caught:
        extract_cohort_zip(bytes(data), dest_root=tmp_path, name="crc.zip")
    assert str(tmp_path) not in str(caught.value)
    assert [p.name for p in tmp_path.iterdir()] == []  # staging removed


def test_truncated_zip_and_duplicate_entries_are_refused(tmp_path: Path) -> None:
    data = _zip({"cohort/a.wav": b"a" * 5000})
    with pytest.raises(UploadError, match="half.zip: not a zip file"):
        extract_cohort_zip(data[: len(data) // 2], dest_root=tmp_path, name="half.zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("cohort/a.wav", b"1")
        archive.writestr("cohort/a.wav", b"2")
    with pytest.raises(UploadError, match="'cohort/a.wav' appears twice"):
        extract_cohort_zip(buffer.getvalue(), dest_root=tmp_path, name="dup.zip")


def test_uploads_at_the_same_time_all_succeed_in_their_own_folders(tmp_path: Path) -> None:
    dest = tmp_path / "uploads"
    zips = [_zip({f"cohort{i}/P{j}/a.wav": bytes([i, j]) * 20_000 for j in range(5)}) for i in range(6)]
    jobs = zips + [zips[0]] * 4  # six different uploads and the same bytes four more times
    barrier = threading.Barrier(len(jobs))

    def upload(data: bytes) -> Path:
        barrier.wait()
        return extract_cohort_zip(data, dest_root=dest, name="same-time.zip")

    with ThreadPoolExecutor(len(jobs)) as pool:
        roots = list(pool.map(upload, jobs))
    assert len(set(roots[:6])) == 6 and set(roots[6:]) == {roots[0]}
    for i, root in enumerate(roots):
        assert root.name == f"cohort{i % 6 if i < 6 else 0}"
        files = sorted(root.rglob("*.wav"))
        assert len(files) == 5 and all(f.stat().st_size == 40_000 for f in files)
    assert sorted(p.name for p in dest.iterdir()) == sorted({r.parent.name for r in roots})  # no staging left


def test_clean_up_skips_a_folder_that_another_upload_removes_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "uploads"
    kept = extract_cohort_zip(_zip({"c/a.wav": b"\x01" * 100}), dest_root=dest)
    staging = dest / ".0123456789abcdef.partial-race"
    staging.mkdir()
    is_dir = Path.is_dir

    def seen_then_gone(self: Path) -> bool:  # another upload's rename lands just after the check
        found = is_dir(self)
        if found and self == staging:
            staging.rmdir()
        return found

    monkeypatch.setattr(Path, "is_dir", seen_then_gone)
    assert clean_uploads(dest, now=time.time() + 7200) == []
    monkeypatch.undo()
    assert (kept / "a.wav").read_bytes() == b"\x01" * 100  # the complete upload is kept


def test_old_uploads_are_cleaned_by_age_and_count(tmp_path: Path) -> None:
    dest = tmp_path / "uploads"
    roots = [extract_cohort_zip(_zip({f"c{i}/a.wav": bytes([i]) * 10}), dest_root=dest) for i in range(5)]
    now = time.time()
    for age_hours, root in zip((1000, 200, 3, 2, 0), roots, strict=True):
        stamp = now - age_hours * 3600
        os.utime(root.parent / ".complete", (stamp, stamp))
    stale = dest / ".abcd.partial-x"
    stale.mkdir()
    os.utime(stale, (now - 7200, now - 7200))
    removed = clean_uploads(dest, keep=3, max_age_days=7, now=now)
    # older than 7 days: the first; beyond the 3 most recent and unused for an hour: the second
    assert removed == sorted([roots[0].parent.name, roots[1].parent.name, stale.name])
    assert sorted(p.name for p in dest.iterdir()) == sorted(r.parent.name for r in roots[2:])
