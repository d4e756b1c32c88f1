"""Segment table and spectrogram image arrays built from a cohort, with a disk cache.

Every reader relies on :data:`SEGMENT_COLUMNS` and :class:`SegmentDataset`.

:func:`build_dataset` reads each selected recording once (resampled, trimmed and cut by
:mod:`core.audio`), computes the Mel and STFT matrices and images of all segments of
up to :data:`CHUNK_RECORDINGS` recordings in one vectorised pass
(:mod:`core.spectrogram`), and caches one file per recording keyed by the settings
hash (:func:`preprocess_key`) and the audio file's SHA-256. The file holds grey images
only; the 3 channels are a broadcast view made on load, so a warm load reads a third
of the bytes and allocates nothing per channel.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from core.atomic import atomic_write
from core.audio import WindowPlan, cut_recording, window_lengths
from core.cohort.model import Cohort, file_digest
from core.config import PreprocessConfig, config_hash
from core.errors import AudioError, CoreError
from core.spectrogram import matrix_shape, segment_images, tile_channels
from core.spectrogram_geometry import band_top_hz, native_rate

#: Columns of ``SegmentDataset.segments``; row i describes ``mel[i]`` and ``stft[i]``.
SEGMENT_COLUMNS: tuple[str, ...] = (
    "segment_id",  # int, 0..N-1, equals the row position
    "recording_id",  # from Cohort.recordings
    "patient_id",  # pseudonym
    "phase",  # "pre" | "post"
    "vowel",  # "A" | "I" | "U" | "E"
    "take",  # int
    "segment_index",  # 0..count-1 within the recording
    "start_s",  # float, seconds from the start of the resampled, untrimmed recording
    "end_s",  # float
    "padded",  # bool, True when the short-clip policy padded this segment
    "label",  # Int64 0/1/<NA>
)


@dataclass
class SegmentDataset:
    """Every segment of the selected recordings with its two images.

    Attributes
    ----------
    segments : pd.DataFrame
        One row per segment, columns :data:`SEGMENT_COLUMNS`.
    mel : np.ndarray [shape=(n, S, S, 3), dtype=uint8]
        Mel images, grey tiled to 3 channels, 0..255, low frequencies at the bottom
        (row S-1); S = ``config.spectrogram.image_size``. Backbone-specific
        preprocessing is applied inside the model, not here. ``build_dataset``
        returns a read-only broadcast view of one grey array (no 3x copy).
    stft : np.ndarray [shape=(n, S, S, 3), dtype=uint8]
        STFT images, same layout.
    mel_db : np.ndarray [shape=(n, n_mels, frames), dtype=float32]
        Mel power in dB before contrast scaling (row 0 = lowest band).
    stft_db : np.ndarray [shape=(n, n_fft // 2 + 1, frames), dtype=float32]
        STFT power in dB before contrast scaling (row 0 = 0 Hz).
    config : PreprocessConfig
        The settings that produced the arrays.
    problems : pd.DataFrame
        Recordings that produced no segments, columns ``source, severity, reason``.
    cohort_patients : pd.DataFrame or None
        The cohort's labelled patients under the selected phases, whatever vowels they
        recorded (``patient_id, label``), which ``split.patients="cohort"`` draws the folds
        over (:func:`core.training_data.load_training_data` sets it); None otherwise.
    """

    segments: pd.DataFrame
    mel: np.ndarray
    stft: np.ndarray
    mel_db: np.ndarray
    stft_db: np.ndarray
    config: PreprocessConfig
    problems: pd.DataFrame
    cohort_patients: pd.DataFrame | None = None

    def __len__(self) -> int:
        return int(self.segments.shape[0])


#: Bump when the arrays a config produces change for the same settings (code change).
#: 3: files are read through the audio gate (a lying data-size header no longer gives
#: segments) and a cached reason no longer names the file.
CACHE_FORMAT: int = 3

#: Recordings whose audio is read and cut before their segments go through one batched
#: spectrogram call; bounds memory for large cohorts while keeping the FFTs vectorised.
CHUNK_RECORDINGS: int = 64

_PROBLEM_COLUMNS: tuple[str, ...] = ("source", "severity", "reason")

_log = logging.getLogger(__name__)


def build_dataset(
    cohort: Cohort,
    config: PreprocessConfig,
    *,
    cache_dir: Path | str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SegmentDataset:
    """Cut the selected recordings into segments and compute their Mel and STFT arrays.

    Parameters
    ----------
    cohort : Cohort
        Loaded cohort; audio is read through :meth:`Cohort.audio_path`.
    config : PreprocessConfig
        Audio, trimming, windows, spectrograms and which phases/vowels to select.
    cache_dir : Path, optional
        Disk cache folder. Each recording's arrays are stored in
        ``<cache_dir>/segments-<key>/<sha256 of the audio file>.npy`` where ``key``
        hashes every setting except the selection (which does not change a
        recording's arrays), so a changed file or setting recomputes only what
        changed. None disables the cache.
    progress : callable, optional
        Called as ``progress(done, total)`` in recordings.

    Returns
    -------
    dataset : SegmentDataset
        Rows in the order of ``cohort.recordings``; recordings that give no segment
        (unreadable, empty, silent, NaN, skipped as too short) are rows of
        ``dataset.problems``, never exceptions. ``mel`` and ``stft`` are read-only
        3-channel views of fresh grey arrays (``np.array(dataset.mel)`` for a
        writeable copy).
    """
    config.validate()
    selected = _select(cohort.recordings, config)
    entry_dir = Path(cache_dir) / f"segments-{preprocess_key(config)}" if cache_dir is not None else None
    total = int(selected.shape[0])
    entries: dict[str, _Entry] = {}
    unreadable: dict[str, Exception] = {}
    pending: list[tuple[str, str, Path, str]] = []
    done = 0
    for rid, source in zip(selected["recording_id"], selected["source"], strict=True):
        try:
            path = cohort.audio_path(rid)
            digest = file_digest(path)
        except (CoreError, OSError) as exc:
            unreadable[rid] = exc
            done += 1
            _report(progress, done, total)
            continue
        cached = _read_entry(entry_dir / f"{digest}.npy") if entry_dir is not None else None
        if cached is None:
            pending.append((rid, source, path, digest))
            continue
        entries[rid] = cached
        done += 1
        _report(progress, done, total)

    for first in range(0, len(pending), CHUNK_RECORDINGS):
        chunk = pending[first : first + CHUNK_RECORDINGS]
        for (rid, _, _, digest), entry in zip(chunk, _compute_entries(chunk, config), strict=True):
            entries[rid] = entry
            if entry_dir is not None:
                _write_entry(entry_dir / f"{digest}.npy", entry)
        done += len(chunk)
        _report(progress, done, total)

    problems: list[tuple[str, str, str]] = []
    for source, rid in zip(selected["source"], selected["recording_id"], strict=True):
        if rid in unreadable:
            problems.append((source, "error", _reason(cohort, unreadable[rid], source, "cannot be read")))
        elif entries[rid].reason:
            problems.append((source, "error", _reason(cohort, entries[rid].reason, source, "no segments")))
    return _assemble(selected, entries, problems, config)


def preprocess_key(config: PreprocessConfig) -> str:
    """Hash of the settings that determine one recording's arrays (everything but the selection)."""
    data = config.to_dict()
    data.pop("selection")
    data["cache_format"] = CACHE_FORMAT
    return config_hash(data)


@dataclass
class _Entry:
    """One recording's cached result: window positions and arrays, or the reason there are none."""

    starts: np.ndarray
    ends: np.ndarray
    padded: np.ndarray
    mel_grey: np.ndarray
    stft_grey: np.ndarray
    mel_db: np.ndarray
    stft_db: np.ndarray
    reason: str = ""

    def __len__(self) -> int:
        return int(self.starts.shape[0])


def _select(recordings: pd.DataFrame, config: PreprocessConfig) -> pd.DataFrame:
    keep = recordings["phase"].isin(config.selection.phases) & recordings["vowel"].isin(
        config.selection.vowels
    )
    return recordings.loc[keep].reset_index(drop=True)


def _cut_recording(
    path: Path, source: str, config: PreprocessConfig
) -> tuple[WindowPlan | None, np.ndarray, str, float]:
    """Load, trim and cut one recording: plan, segments, why it gives none ("" when it does), band top."""
    try:
        cut = cut_recording(path, config=config, name=source)
    except AudioError as exc:
        # cached by content hash, so the reason must not name this file (a copy may read it)
        text = str(exc)
        reason = text[len(source) + 2 :] if text.startswith(f"{source}: ") else text
        return None, np.zeros((0, 0), dtype=np.float32), reason, 0.0
    sr = config.audio.sample_rate
    top = band_top_hz(sr, native_rate=native_rate(path), config=config.spectrogram)
    return cut.plan, cut.segments, cut.plan.skipped or "", top


def _compute_entries(chunk: list[tuple[str, str, Path, str]], config: PreprocessConfig) -> list[_Entry]:
    """Cut every recording of the chunk (I/O and resampling in threads), then one batched FFT pass."""
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        cuts = list(pool.map(lambda item: _cut_recording(item[2], item[1], config), chunk))
    window, _, _ = window_lengths(sr=config.audio.sample_rate, config=config.window)
    segments = np.concatenate(
        [seg for _, seg, _, _ in cuts if seg.shape[0]] or [np.zeros((0, window), np.float32)]
    )
    spec, sr = config.spectrogram, config.audio.sample_rate
    tops = np.concatenate(
        [np.full(seg.shape[0], top) for _, seg, _, top in cuts if seg.shape[0]] or [np.zeros(0)]
    )
    images = segment_images(segments, sr=sr, config=spec, top_hz=tops)
    mel, stft, mel_grey, stft_grey = images.mel_db, images.stft_db, images.mel_grey, images.stft_grey
    entries = []
    offset = 0
    empty = np.zeros(0, dtype=np.int64)
    for plan, seg, reason, _ in cuts:
        k = seg.shape[0]
        rows = slice(offset, offset + k)
        offset += k
        entries.append(
            _Entry(
                starts=plan.starts if plan is not None and k else empty,
                ends=plan.ends if plan is not None and k else empty,
                padded=plan.padded if plan is not None and k else empty.astype(bool),
                mel_grey=mel_grey[rows],
                stft_grey=stft_grey[rows],
                mel_db=mel[rows],
                stft_db=stft[rows],
                reason=reason,
            )
        )
    return entries


def _read_entry(path: Path) -> _Entry | None:
    """A cached entry, or None when absent, stale or unreadable (it is then recomputed and overwritten)."""
    try:
        with open(path, "rb") as handle:
            header = np.load(handle, allow_pickle=False)
            if header.shape != (2,) or int(header[0]) != CACHE_FORMAT:
                return None
            reason = str(np.load(handle, allow_pickle=False))
            windows = np.load(handle, allow_pickle=False)
            images = np.load(handle, allow_pickle=False)
            db = np.load(handle, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    n_mels = int(header[1])
    return _Entry(
        starts=windows[:, 0],
        ends=windows[:, 1],
        padded=windows[:, 2].astype(bool),
        mel_grey=images[:, 0],
        stft_grey=images[:, 1],
        mel_db=db[:, :n_mels],
        stft_db=db[:, n_mels:],
        reason=reason,
    )


def _write_entry(path: Path, entry: _Entry) -> None:
    """Write atomically (temporary file, then ``os.replace``); a failed write only loses the cache.

    One file holds consecutive ``.npy`` records (header, reason, windows, images, dB):
    read back with plain ``np.load`` calls on one handle, without zip overhead.
    """

    def write(handle: BinaryIO) -> None:
        np.save(handle, np.array([CACHE_FORMAT, entry.mel_db.shape[1]], dtype=np.int64))
        np.save(handle, np.array(entry.reason))
        np.save(handle, np.stack([entry.starts, entry.ends, entry.padded.astype(np.int64)], axis=1))
        np.save(handle, np.stack([entry.mel_grey, entry.stft_grey], axis=1))
        np.save(handle, np.concatenate([entry.mel_db, entry.stft_db], axis=1))

    try:
        atomic_write(path, write, binary=True)
    except OSError as exc:
        _log.warning("segment cache entry not written (%s)", type(exc).__name__)


def _assemble(
    selected: pd.DataFrame,
    entries: dict[str, _Entry],
    problems: list[tuple[str, str, str]],
    config: PreprocessConfig,
) -> SegmentDataset:
    sr = config.audio.sample_rate
    spec = config.spectrogram
    window, _, _ = window_lengths(sr=sr, config=config.window)
    mel_rows, frames = matrix_shape("mel", sr=sr, n_samples=window, config=spec)
    stft_rows, _ = matrix_shape("stft", sr=sr, n_samples=window, config=spec)
    size = spec.image_size
    parts = [
        (row, entries[row.recording_id])
        for row in selected.itertuples(index=False)
        if row.recording_id in entries
    ]
    parts = [(row, entry) for row, entry in parts if len(entry)]
    counts = np.array([len(entry) for _, entry in parts], dtype=np.int64)
    n = int(counts.sum())

    def stack(name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        if not parts:
            return np.zeros((0, *shape), dtype=dtype)
        return np.concatenate([getattr(entry, name) for _, entry in parts])

    starts = stack("starts", (), np.int64)
    ends = stack("ends", (), np.int64)
    segments = pd.DataFrame(
        {
            "segment_id": np.arange(n, dtype=np.int64),
            "recording_id": np.repeat([row.recording_id for row, _ in parts], counts).astype(object),
            "patient_id": np.repeat([row.patient_id for row, _ in parts], counts).astype(object),
            "phase": np.repeat([row.phase for row, _ in parts], counts).astype(object),
            "vowel": np.repeat([row.vowel for row, _ in parts], counts).astype(object),
            "take": np.repeat(np.array([int(row.take) for row, _ in parts], dtype=np.int64), counts),
            "segment_index": np.concatenate([np.arange(c, dtype=np.int64) for c in counts])
            if n
            else np.zeros(0, np.int64),
            "start_s": starts / sr,
            "end_s": ends / sr,
            "padded": stack("padded", (), bool).astype(bool),
            "label": pd.array(
                np.repeat(np.array([row.label for row, _ in parts], dtype=object), counts), dtype="Int64"
            ),
        },
        columns=list(SEGMENT_COLUMNS),
    )
    return SegmentDataset(
        segments=segments,
        mel=tile_channels(stack("mel_grey", (size, size), np.uint8)),
        stft=tile_channels(stack("stft_grey", (size, size), np.uint8)),
        mel_db=stack("mel_db", (mel_rows, frames), np.float32),
        stft_db=stack("stft_db", (stft_rows, frames), np.float32),
        config=config,
        problems=pd.DataFrame(problems, columns=list(_PROBLEM_COLUMNS)),
    )


def _reason(cohort: Cohort, error: Exception | str, source: str, fallback: str) -> str:
    """Plain-language reason without the source prefix, with any raw identifier redacted."""
    if isinstance(error, OSError):
        # OSError messages carry the raw path; keep only the cause.
        return f"audio file cannot be read ({error.strerror or type(error).__name__})"
    text = str(error) or fallback
    prefix = f"{source}: "
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return cohort.redact(text)


def _report(progress: Callable[[int, int], None] | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)
