"""Nothing crashes, nothing vanishes: a corpus of bad inputs inside a real study-layout cohort.

An 8-patient demo cohort (``core.demo``, the study's folder layout, 48 kHz recordings with
Praat reports and the metadata sheet) is copied once per module and every kind below is
built into it as a real file where a real one would sit: a recording replaced by broken
bytes, a copy linked under another patient, an ``.mp3`` beside the wavs, a damaged
workbook. Then ``validate`` and ``prepare`` run once on all of it, and each kind is
checked for its report row (severity and reason) and its fate (used or not), and the
whole folder for counts that reconcile and good files that are all used.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import struct
import tracemalloc
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from core.__main__ import main as cli_main
from core.audio import load_audio
from core.audio_gate import MAX_DURATION_S, examine
from core.cohort import load_cohort
from core.cohort.upload import UploadError, UploadLimits, extract_cohort_zip
from core.errors import AudioError

RATE = 48_000  # the demo cohort's stored rate


def voice(seconds: float = 1.5, *, rate: int = RATE, seed: int = 0, amplitude: float = 0.5) -> np.ndarray:
    """A sustained-vowel-like tone: five harmonics of 140 Hz plus a little noise, unique per seed.

    Returns
    -------
    np.ndarray [shape=(round(seconds * rate),), dtype=float64]
    """
    t = np.arange(round(seconds * rate)) / rate
    y = sum(np.sin(2 * np.pi * 140.0 * k * t) / k for k in range(1, 6))
    y = y + 0.02 * np.random.default_rng(seed).standard_normal(t.size)
    return amplitude * y / np.abs(y).max()


@dataclass(frozen=True)
class Expect:
    """What the report must say about one file.

    Attributes
    ----------
    rel : str
        Raw path relative to the cohort folder.
    rows : tuple of (severity, reason start)
        Every row naming the file (empty: no row).
    used : bool or None
        A recording in the table (True), not one (False); None for files that are not audio.
    """

    rel: str
    rows: tuple[tuple[str, str], ...] = ()
    used: bool | None = None


@dataclass
class Corpus:
    """The cohort being broken: hands out recording slots spread over the patients."""

    root: Path
    folders: list[Path]
    names: dict[str, str]  # folder id → the sheet's name of that patient
    free: dict[Path, list[Path]] = field(default_factory=dict)
    turn: int = 0

    def take(self, *, patient: Path | None = None) -> Path:
        """An untouched recording, from the next patient in turn (or from ``patient``)."""
        for _ in range(len(self.folders)):
            folder = patient or self.folders[self.turn % len(self.folders)]
            self.turn += patient is None
            if self.free[folder]:
                return self.free[folder].pop(0)
            if patient is not None:
                break
        raise AssertionError("the corpus ran out of recording slots")

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def pid(self, path: Path) -> str:
        return next(f.name[:8] for f in self.folders if path.is_relative_to(f))


Builder = Callable[[Corpus, int], list[Expect]]


def _write(
    path: Path, samples: np.ndarray, rate: int = RATE, subtype: str = "PCM_16", fmt: str | None = None
) -> None:
    sf.write(path, samples, rate, subtype=subtype, format=fmt)


def _replace(
    kind: Callable[[Path, int], None], severity: str | None = None, reason: str = "", used: bool = False
) -> Builder:
    """A builder that overwrites one recording in place."""

    def build(c: Corpus, seed: int) -> list[Expect]:
        path = c.take()
        kind(path, seed)
        return [Expect(c.rel(path), ((severity, reason),) if severity else (), used)]

    return build


def _random_bytes(path: Path, seed: int) -> None:
    path.write_bytes(b"\x00\x01" + np.random.default_rng(seed).bytes(4000))


def _truncate(path: Path, seed: int) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _cut_header(path: Path, seed: int) -> None:
    path.write_bytes(path.read_bytes()[:30])


def _nan(path: Path, seed: int) -> None:
    y = voice(seed=seed)
    y[100:150] = np.nan
    _write(path, y, subtype="FLOAT")


def _inf(path: Path, seed: int) -> None:
    y = voice(seed=seed)
    y[10], y[20] = np.inf, -np.inf
    _write(path, y, subtype="FLOAT")


def _nan_and_inf(path: Path, seed: int) -> None:
    y = voice(seed=seed)
    y[10], y[20] = np.nan, np.inf
    _write(path, y, subtype="FLOAT")


def _clipped(path: Path, seed: int) -> None:
    _write(path, np.clip(3 * voice(seed=seed), -1, 1))


def _stereo(path: Path, seed: int) -> None:
    _write(path, np.stack([voice(seed=seed), 0.5 * voice(seed=seed + 1)], axis=1))


def _anti_phase(path: Path, seed: int) -> None:
    y = voice(seed=seed)
    _write(path, np.stack([y, -y], axis=1), subtype="FLOAT")


def _lying_data_size(path: Path, seed: int) -> None:
    """137 KB of samples behind a data chunk whose size field says 64 bytes."""
    _write(path, voice(seconds=1.43, seed=seed))
    data = bytearray(path.read_bytes())
    at = data.index(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", 64)
    path.write_bytes(bytes(data))


def _one_hz_header(path: Path, seed: int) -> None:
    """810 KB of 16-bit samples declared at 1 Hz (resampled to 16 kHz: 6.5e9 samples)."""
    _write(path, voice(seconds=405_000 / RATE, seed=seed), rate=1)


def _trailing_chunk(path: Path, seed: int) -> None:
    """A valid LIST chunk after the data chunk, as editors write: not a size mismatch."""
    _write(path, voice(seed=seed))
    info = b"INFOISFT" + struct.pack("<I", 8) + b"editor\x00\x00"
    with path.open("ab") as handle:
        handle.write(b"LIST" + struct.pack("<I", len(info)) + info)
    data = bytearray(path.read_bytes())
    data[4:8] = struct.pack("<I", len(data) - 8)
    path.write_bytes(bytes(data))


def _above_nyquist(path: Path, seed: int) -> None:
    """Only a 12 kHz tone (Hann-faded, so no click spreads below 8 kHz): gone once resampled to 16 kHz."""
    t = np.arange(RATE) / RATE
    _write(path, 0.5 * np.hanning(RATE) * np.sin(2 * np.pi * 12_000 * t), subtype="FLOAT")


def _fmt(subtype: str, rate: int = RATE, seconds: float = 1.5) -> Callable[[Path, int], None]:
    return lambda path, seed: _write(path, voice(seconds, rate=rate, seed=seed), rate=rate, subtype=subtype)


def _long(seconds: float) -> Callable[[Path, int], None]:
    # 4 kHz 8-bit keeps a 10 min file at 2.4 MB
    return lambda path, seed: _write(
        path,
        np.tile(voice(1.0, rate=4000, seed=seed), int(seconds) + 1)[: int(seconds * 4000)],
        rate=4000,
        subtype="PCM_U8",
    )


def _renamed(
    suffix: str, *, rows: tuple[tuple[str, str], ...], used: bool, convert: str | None = None
) -> Builder:
    """Move a recording to another suffix (its content re-encoded when ``convert`` names a format)."""

    def build(c: Corpus, seed: int) -> list[Expect]:
        path = c.take()
        target = path.with_suffix(suffix)
        if convert:
            _write(target, voice(seed=seed), fmt=convert)
            path.unlink()
        else:
            path.rename(target)
        return [Expect(c.rel(target), rows, used)]

    return build


def _added(
    where: Callable[[Corpus], Path],
    content: Callable[[Path, int], None],
    rows: tuple[tuple[str, str], ...],
    used: bool | None,
) -> Builder:
    def build(c: Corpus, seed: int) -> list[Expect]:
        path = where(c)
        path.parent.mkdir(parents=True, exist_ok=True)
        content(path, seed)
        return [Expect(c.rel(path), rows, used)]

    return build


def _pre(c: Corpus, name: str, *, patient: int = 0) -> Path:
    folder = c.folders[patient]
    return folder / "pre" / name.format(id=folder.name[:8])


def _voice_file(path: Path, seed: int) -> None:
    _write(path, voice(seed=seed))


def _duplicate(link: str) -> Builder:
    """The same audio under two patients: a copy, a hard link or a symbolic link."""

    def build(c: Corpus, seed: int) -> list[Expect]:
        first, second = c.take(), c.take()
        assert c.pid(first) != c.pid(second)
        second.unlink()
        if link == "copy":
            shutil.copyfile(first, second)
        elif link == "hard":
            os.link(first, second)
        else:
            second.symlink_to(first)
        row = (("error", "identical content under different patients: the same audio bytes"),)
        return [Expect(c.rel(first), row, False), Expect(c.rel(second), row, False)]

    return build


def _duplicate_within_patient(c: Corpus, seed: int) -> list[Expect]:
    first = c.take()
    second = c.take(patient=next(f for f in c.folders if first.is_relative_to(f)))
    shutil.copyfile(first, second)
    earlier, later = sorted([first, second], key=c.rel)
    return [
        Expect(c.rel(earlier), (), True),
        Expect(c.rel(later), (("warning", "identical content: the same audio bytes as"),), True),
    ]


def _broken_link(c: Corpus, seed: int) -> list[Expect]:
    path = _pre(c, "{id}S9.wav", patient=1)
    path.symlink_to(path.parent / "missing.wav")
    return [Expect(c.rel(path), (("error", "broken link: it points to a file that does not exist"),), None)]


def _folder_link_loop(c: Corpus, seed: int) -> list[Expect]:
    path = c.folders[6] / "pre" / "loop"
    path.symlink_to("..", target_is_directory=True)
    return [
        Expect(c.rel(path), (("warning", "link to a folder: not followed, so nothing in it is read"),), None)
    ]


def _named_after_the_patient(c: Corpus, seed: int) -> list[Expect]:
    """A unicode file name holding the patient's name from the sheet (redacted in the report)."""
    folder = c.folders[2]
    path = folder / "pre" / f"{c.names[folder.name[:8]]} 錄音.wav"
    _write(path, voice(seed=seed))
    return [Expect(c.rel(path), (("error", "unknown naming"),), False)]


def _hidden_files(c: Corpus, seed: int) -> list[Expect]:
    folder = c.folders[3] / "pre"
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    fork = folder / f"._{folder.parent.name[:8]}S1.wav"
    fork.write_bytes(b"\x00\x05\x16\x07" + bytes(100))
    trash = c.root / ".Trash" / "old.wav"
    trash.parent.mkdir()
    _write(trash, voice(seed=seed))
    return [Expect(c.rel(p)) for p in (folder / ".DS_Store", fork, trash)]


def _broken_workbook(c: Corpus, seed: int) -> list[Expect]:
    (c.root / "metadata.xlsx").write_bytes(b"PK\x03\x04 a workbook cut short by a sync client")
    return [
        Expect(
            "metadata.xlsx",
            (
                (
                    "warning",
                    "sheet metadata.xlsx cannot be read (BadZipFile); expected a "
                    ".xlsx or .csv table; metadata.csv beside it is used instead",
                ),
            ),
        )
    ]


def _unlabelled_patient(c: Corpus, seed: int) -> list[Expect]:
    path = c.root / "55500011-2021" / "pre" / "55500011S1.wav"
    path.parent.mkdir(parents=True)
    _write(path, voice(seed=seed))
    return [Expect(c.rel(path), (("warning", "recording without a label: patient"),), True)]


#: Every kind of bad (or merely unusual) input, built where a real file would sit.
CASES: dict[str, Builder] = {
    "zero_byte": _replace(
        lambda p, s: p.write_bytes(b""), "error", "zero length: the file is empty (0 bytes)"
    ),
    "random_bytes": _replace(
        _random_bytes, "error", "not audio: the file does not start with any audio format"
    ),
    "text_named_wav": _replace(
        lambda p, s: p.write_text("Voice report\nPitch: 120 Hz\n"), "error", "not audio"
    ),
    "truncated": _replace(_truncate, "error", "unreadable or corrupt audio file: truncated, "),
    "header_cut_at_30_bytes": _replace(_cut_header, "error", "unreadable or corrupt audio file"),
    "header_without_samples": _replace(
        lambda p, s: _write(p, np.zeros(0)), "error", "zero length: the file holds no samples"
    ),
    "silent": _replace(lambda p, s: _write(p, np.zeros(RATE)), "error", "all-silent: every sample is zero"),
    "dc_only": _replace(
        lambda p, s: _write(p, np.full(RATE, 0.3)),
        "error",
        "all-silent: only a constant offset (DC) at -10 dBFS",
    ),
    "nan": _replace(_nan, "error", "NaN samples: 50 of 72000 samples are NaN"),
    "plus_minus_inf": _replace(_inf, "error", "infinite values: 2 of 72000 samples are +inf or -inf"),
    "nan_and_inf": _replace(_nan_and_inf, "error", "NaN and infinite samples: 1 NaN and 1 infinite of 72000"),
    "clipped": _replace(_clipped, "warning", "clipped: ", used=True),
    "stereo": _replace(_stereo, "warning", "stereo: 2 channels, mixed down to mono on load; kept", used=True),
    "anti_phase_stereo": _replace(
        _anti_phase, "error", "anti-phase stereo: the 2 channels cancel to silence"
    ),
    "int_8bit": _replace(_fmt("PCM_U8"), used=True),
    "int_24bit": _replace(_fmt("PCM_24"), used=True),
    "int_32bit": _replace(_fmt("PCM_32"), used=True),
    "float_32bit": _replace(_fmt("FLOAT"), used=True),
    "rate_8k": _replace(
        _fmt("PCM_16", rate=8000),
        "warning",
        "narrower bandwidth: stored at 8000 Hz, so nothing above 4000 Hz",
        used=True,
    ),
    "rate_16k": _replace(_fmt("PCM_16", rate=16_000), used=True),
    "rate_96k": _replace(_fmt("PCM_24", rate=96_000), used=True),
    "header_1_hz": _replace(_one_hz_header, "error", "sample rate out of range: the header says 1 Hz"),
    "rate_768k": _replace(
        _fmt("PCM_16", rate=768_000, seconds=0.1),
        "error",
        "sample rate out of range: the header says 768000 Hz",
    ),
    "lying_data_size": _replace(
        _lying_data_size, "error", "data size mismatch: the header declares 64 bytes"
    ),
    "valid_chunk_after_data": _replace(_trailing_chunk, used=True),
    "one_sample": _replace(lambda p, s: _write(p, np.array([0.4])), "error", "too short: 1 sample (0.02 ms)"),
    "five_ms": _replace(_fmt("PCM_16", seconds=0.005), "error", "too short: 240 samples (5.00 ms)"),
    "short_0_05_s": _replace(
        _fmt("PCM_16", seconds=0.05),
        "warning",
        "shorter than the analysis window: 0.050 s < 0.3 s",
        used=True,
    ),
    "nine_and_a_half_min": _replace(
        _long(570), "warning", "narrower bandwidth: stored at 4000 Hz", used=True
    ),
    "over_ten_min": _replace(_long(MAX_DURATION_S + 1), "error", "too long: 601.0 s; recordings over 600 s"),
    "above_16k_nyquist": _replace(
        _above_nyquist, "error", "all-silent after resampling to 16000 Hz: its content lies above 8000 Hz"
    ),
    "flac": _renamed(".flac", rows=(), used=True, convert="FLAC"),
    "upper_case_WAV": _renamed(".WAV", rows=(), used=True),
    "mp3_suffix": _renamed(
        ".mp3", rows=(("error", "unsupported audio format: .mp3 files are not read"),), used=False
    ),
    "unicode_name_with_patient_name": _named_after_the_patient,
    "vowel_5": _added(lambda c: _pre(c, "{id}S5.wav"), _voice_file, (("error", "unknown naming"),), False),
    "other_patients_id": _added(
        lambda c: c.folders[4] / "pre" / f"{c.folders[5].name[:8]}S2.wav",
        _voice_file,
        (("error", "unknown naming: the id in the file name differs"),),
        False,
    ),
    "outside_patient_folders": _added(
        lambda c: c.root / "extra" / "take1.wav", _voice_file, (("error", "unknown naming"),), False
    ),
    "copy_across_patients": _duplicate("copy"),
    "hard_link_across_patients": _duplicate("hard"),
    "symbolic_link_across_patients": _duplicate("symbolic"),
    "copy_within_patient": _duplicate_within_patient,
    "broken_link": _broken_link,
    "folder_link_loop": _folder_link_loop,
    "stray_document_in_patient_folder": _added(
        lambda c: _pre(c, "notes.docx", patient=2),
        lambda p, s: p.write_bytes(b"PK\x03\x04"),
        (("warning", "not read: neither a recording"),),
        None,
    ),
    "voice_report_without_recording": _added(
        lambda c: _pre(c, "{id}S7.txt", patient=3),
        lambda p, s: p.write_text("Voice report\n"),
        (("warning", "not read: neither a recording"),),
        None,
    ),
    "hidden_and_system_files": _hidden_files,
    "broken_metadata_xlsx": _broken_workbook,
    "unlabelled_patient": _unlabelled_patient,
}


def _zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    """A real zip file holding ``entries`` (name or ZipInfo, content), deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, content in entries:
            archive.writestr(entry, content)
    return buffer.getvalue()


def _wav_bytes(seed: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, voice(0.5, seed=seed), RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _bad_crc() -> bytes:
    name = "c/P01well-2023/pre/P01S1.wav"
    data = bytearray(_zip([(name, _wav_bytes(1))]))
    data[30 + len(name) + 200] ^= 0xFF  # inside the deflated data, after the 30-byte local header
    return bytes(data)


def _stored_crc_flip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("c/P01well-2023/pre/P01S1.wav", _wav_bytes(2))
    data = bytearray(buffer.getvalue())
    data[data.index(b"data") + 100] ^= 0xFF  # a sample byte inside the stored wav
    return bytes(data)


#: Zip-upload kinds (``core.cohort.upload``): each builds real zip bytes and gives the limits to
#: apply (None: the defaults) and the start of the refusal after "upload.zip: ".
UPLOAD_CASES: dict[str, Callable[[], tuple[bytes, UploadLimits | None, str]]] = {
    "zip traversal ../": lambda: (_zip([("../evil.txt", b"x")]), None, "entry '../evil.txt' points outside"),
    "zip traversal backslash": lambda: (
        _zip([("..\\..\\evil.txt", b"x")]),
        None,
        "entry '..\\\\..\\\\evil.txt' uses a backslash",
    ),
    "zip absolute path": lambda: (
        _zip([("/etc/evil.txt", b"x")]),
        None,
        "entry '/etc/evil.txt' points outside",
    ),
    "zip drive letter": lambda: (
        _zip([("C:/evil.txt", b"x")]),
        None,
        "entry 'C:/evil.txt' starts with a drive",
    ),
    "zip name over 255 bytes": lambda: (_zip([("c/" + "é" * 130 + ".wav", b"x")]), None, "entry 'c/éé"),
    "zip bomb (ratio)": lambda: (
        _zip([("c/zeros.wav", bytes(8 << 20))]),
        None,
        "entry 'c/zeros.wav' is compressed",
    ),
    "zip bomb (size quota)": lambda: (
        _zip([("c/a.wav", _wav_bytes(3)), ("c/b.wav", _wav_bytes(4))]),
        UploadLimits(max_bytes=1000),
        "unpacks to",
    ),
    "zip of too many entries": lambda: (
        _zip([(f"c/{i}.txt", b"x") for i in range(60)]),
        UploadLimits(max_entries=50),
        "60 entries",
    ),
    "zip symbolic link": lambda: (
        _zip([(_symlink_info("c/link.wav"), b"/etc/passwd")]),
        None,
        "entry 'c/link.wav' is a symbolic",
    ),
    "zip entry twice": lambda: (
        _zip([("c/a.wav", b"1"), ("c/a.wav", b"2")]),
        None,
        "entry 'c/a.wav' appears twice",
    ),
    "zip bad CRC (deflated)": lambda: (_bad_crc(), None, "entry 'c/P01well-2023/pre/P01S1.wav' is damaged"),
    "zip bad CRC (stored)": lambda: (
        _stored_crc_flip(),
        None,
        "entry 'c/P01well-2023/pre/P01S1.wav' is damaged",
    ),
    "zip truncated": lambda: (_zip([("c/a.wav", _wav_bytes(5))])[:300], None, "not a zip file"),
    "zip empty": lambda: (_zip([]), None, "the zip file holds no files"),
    "not a zip": lambda: (b"PK but not really a zip file", None, "not a zip file"),
}


def _symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    return info


@dataclass(frozen=True)
class Built:
    root: Path
    expects: dict[str, list[Expect]]
    untouched: list[str]
    secrets: set[str]
    validate: dict
    prepare: dict
    cohort: object


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Built:
    from core.demo import generate_cohort

    root = tmp_path_factory.mktemp("bad") / "cohort"
    generate_cohort(root, patients=8, seed=0)
    sheet = pd.read_csv(root / "metadata.csv", dtype=str)
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    corpus = Corpus(root, folders, dict(zip(sheet["ID"], sheet["姓名"], strict=True)))
    corpus.free = {f: sorted(f.rglob("*.wav")) for f in folders}
    expects = {kind: build(corpus, seed) for seed, (kind, build) in enumerate(CASES.items(), start=100)}
    involved = {e.rel for group in expects.values() for e in group}
    untouched = [
        corpus.rel(p) for paths in corpus.free.values() for p in paths if corpus.rel(p) not in involved
    ]
    secrets = set(sheet["姓名"]) | set(sheet["ID"]) | set(sheet["病歷號"]) | {"55500011"}

    cohort = load_cohort(root)
    validate = _cli_json(["validate", "--cohort", str(root), "--json"])
    cache = tmp_path_factory.mktemp("cache")
    prepare = _cli_json(
        [
            "prepare",
            "--cohort",
            str(root),
            "--phases",
            "pre,post",
            "--vowels",
            "A,I,U,E",
            "--cache-dir",
            str(cache),
            "--json",
        ]
    )
    return Built(root, expects, untouched, secrets, validate, prepare, cohort)


def _cli_json(args: list[str]) -> dict:
    """Run a CLI command in-process; it must finish with status 0 and a JSON last line."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli_main(args) == 0
    return json.loads(out.getvalue().strip().splitlines()[-1])


def _rows_by_file(built: Built) -> dict[str, list[tuple[str, str]]]:
    rows: dict[str, list[tuple[str, str]]] = {}
    for source, severity, reason in built.cohort.problems.itertuples(index=False):
        rows.setdefault(built.cohort.raw_source(str(source)), []).append((str(severity), str(reason)))
    return rows


def _used(built: Built) -> set[str]:
    cohort = built.cohort
    return {
        cohort.audio_path(rid).relative_to(built.root).as_posix() for rid in cohort.recordings["recording_id"]
    }


def test_the_corpus_has_at_least_thirty_kinds() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("kind", list(CASES))
def test_each_kind_gets_its_row_and_its_fate(corpus: Built, kind: str) -> None:
    rows, used = _rows_by_file(corpus), _used(corpus)
    for expect in corpus.expects[kind]:
        got = rows.get(expect.rel, [])
        assert len(got) == len(expect.rows), (expect.rel, got)
        for (severity, start), (got_severity, got_reason) in zip(expect.rows, got, strict=True):
            assert got_severity == severity and got_reason.startswith(start), (expect.rel, got_reason)
        if expect.used is not None:
            assert (expect.rel in used) is expect.used, expect.rel


@pytest.mark.parametrize("kind", list(UPLOAD_CASES))
def test_each_upload_kind_gets_its_refusal(kind: str, tmp_path: Path) -> None:
    data, limits, start = UPLOAD_CASES[kind]()
    dest = tmp_path / "uploads"
    with pytest.raises(UploadError) as caught:
        extract_cohort_zip(data, dest_root=dest, name="upload.zip", limits=limits)
    message = str(caught.value)
    assert message.startswith("upload.zip: " + start), message
    assert str(tmp_path) not in message and "Traceback" not in message
    assert not (tmp_path / "evil.txt").exists() and not Path("/etc/evil.txt").exists()
    # nothing half-unpacked is left where a later upload of the same bytes would find it
    assert not dest.exists() or not any(p.is_dir() for p in dest.iterdir())


def test_every_good_file_is_used_and_nothing_else_is_lost(corpus: Built) -> None:
    rows, used = _rows_by_file(corpus), _used(corpus)
    assert len(corpus.untouched) >= 10
    for rel in corpus.untouched:
        assert rel in used, rel
        assert all(severity == "warning" for severity, _ in rows.get(rel, [])), rows[rel]
    expected_used = {e.rel for group in corpus.expects.values() for e in group if e.used}
    assert used == set(corpus.untouched) | expected_used
    # every row names a file of the corpus, the sheet, or a sheet row: no row about a file nobody broke
    involved = {e.rel for group in corpus.expects.values() for e in group}
    strays = {f for f in rows if f not in involved and f not in corpus.untouched}
    assert strays == set(), strays


def test_counts_reconcile_file_by_file(corpus: Built) -> None:
    files = corpus.validate["files"]
    on_disk = [
        Path(d, f)
        for d, dirs, names in os.walk(corpus.root)
        for f in names + [x for x in dirs if Path(d, x).is_symlink()]
    ]
    assert files["seen"] == len(on_disk)
    assert files["seen"] == files["used"] + files["reported"] + files["set_aside"]
    assert files["recordings"] == corpus.validate["recordings"] == len(corpus.cohort.recordings)
    assert files["sheets"] == 1 and files["hidden"] == 3
    assert files["documents_list"] == ["demo_truth.json"]
    # independently: every file is a used recording, the report of one, the sheet, hidden, a document,
    # named by a row, or the voice report of a file named by a row
    rows, used = _rows_by_file(corpus), _used(corpus)
    accounted = 0
    for path in on_disk:
        rel = path.relative_to(corpus.root).as_posix()
        twins = [r for r in rows | dict.fromkeys(used) if Path(r).with_suffix(".txt").as_posix() == rel]
        hidden = any(part.startswith(".") for part in Path(rel).parts)
        accounted += bool(
            rel in used or rel in rows or twins or hidden or rel in ("metadata.csv", "demo_truth.json")
        )
    assert accounted == len(on_disk)
    reports_of_used = sum((corpus.root / r).with_suffix(".txt").exists() for r in used)
    assert files["used"] == len(used) + reports_of_used + 1  # + metadata.csv, read instead of the broken xlsx


def test_validate_and_prepare_agree_and_prepare_names_what_it_left_out(corpus: Built) -> None:
    report, prepared = corpus.validate, corpus.prepare
    errors = [row for row in report["problems"] if row["severity"] == "error"]
    assert prepared["excluded"] == errors
    # the gate refused everything preprocessing would fail on: it drops nothing more
    assert prepared["dropped"] == [] and prepared["problems"] == 0
    assert prepared["recordings"] == report["recordings"]
    assert prepared["segments"] == 10 * report["recordings"]
    assert prepared["files"] == report["files"]


def test_no_identifier_reaches_the_outputs(corpus: Built) -> None:
    text = json.dumps(corpus.validate, ensure_ascii=False) + json.dumps(corpus.prepare, ensure_ascii=False)
    text += corpus.cohort.problems.to_csv() + corpus.cohort.recordings.to_csv()
    leaked = sorted(s for s in corpus.secrets if s in text)
    assert not leaked, leaked


def test_a_one_hz_header_is_refused_before_anything_is_allocated(corpus: Built) -> None:
    (path,) = [corpus.root / e.rel for e in corpus.expects["header_1_hz"]]
    assert path.stat().st_size > 800_000 and sf.info(str(path)).samplerate == 1
    tracemalloc.start()
    try:
        with pytest.raises(AudioError, match="sample rate out of range: the header says 1 Hz"):
            load_audio(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, peak  # the file is 810 KB; resampling it would need 26 GB


def test_a_lying_data_size_is_not_read_as_two_milliseconds(corpus: Built) -> None:
    (path,) = [corpus.root / e.rel for e in corpus.expects["lying_data_size"]]
    assert sf.info(str(path)).frames == 32  # what libsndfile alone would read: 0.7 ms
    report = examine(path)
    assert not report.usable and report.frames == 0
    with pytest.raises(
        AudioError,
        match="data size mismatch: the header declares 64 bytes of audio data but 137216 more bytes follow",
    ):
        load_audio(path)
