"""The per-recording acoustic feature table: Praat measures, CPP/CPPS, spectral statistics.

Each recording is analysed over one span: the selection of its Praat voice report when it
has one (so the recomputed measures are the report's, with the report's pitch method), or
else its energy-trimmed voiced region. Three feature groups are computed independently
and cached independently (four with openSMILE's eGeMAPSv02), so a table of Praat measures
alone (the report agreement) never pays for the slow cepstrogram.

Cache: ``<cache_dir>/acoustics/<group>-<settings hash>.csv``, one row per recording keyed
by the SHA-256 of its audio and of its report; a changed file or setting recomputes only
what changed. Rows hold pseudonymous ids only, never a path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.acoustics.cepstral import CEPSTRAL_KEYS, CepstralSettings, cepstral_peak_prominence
from core.acoustics.egemaps import EGEMAPS_KEYS, egemaps_features
from core.acoustics.spectral import SpectralSettings, spectral_keys, spectral_statistics
from core.atomic import atomic_write
from core.audio import normalise, trim_region
from core.cohort.model import Cohort, file_digest
from core.config import TrimConfig, config_hash
from core.errors import ConfigError, CoreError
from core.praat.report import MEASURE_KEYS, VoiceReport, read_voice_report
from core.praat.voice import VoiceAnalysisSettings, read_sound, settings_for_report, voice_measures
from core.worker_pools import plain_main, process_pool

FEATURE_GROUPS: tuple[str, ...] = ("praat", "cepstral", "spectral", "egemaps")
SpanPolicy = Literal["report", "trimmed"]

#: Columns copied from ``Cohort.recordings`` to the front of the table.
ID_COLUMNS: tuple[str, ...] = ("recording_id", "patient_id", "phase", "vowel", "take", "label")
#: How each row was analysed: span in seconds, where the span came from ("report",
#: "report (whole sound)", "trimmed"), the pitch method, and any problem met.
SPAN_COLUMNS: tuple[str, ...] = ("span_start_s", "span_end_s", "span_from", "pitch_method", "problem")

#: Bump when the values a setting produces change for the same settings (code change).
CACHE_FORMAT = 1

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class AcousticSettings:
    """Everything that shapes the feature table.

    Parameters
    ----------
    voice : VoiceAnalysisSettings
        Praat voice analysis (the report's pitch method overrides ``pitch_method``).
    cepstral : CepstralSettings
        CPP/CPPS.
    spectral : SpectralSettings
        MFCC and spectral statistics.
    span : {"report", "trimmed"}
        Analyse the report's selection when there is a report ("report"), or always the
        energy-trimmed voiced region ("trimmed").
    trim : TrimConfig
        Trimming used when there is no report (or ``span="trimmed"``).
    """

    voice: VoiceAnalysisSettings = field(default_factory=VoiceAnalysisSettings)
    cepstral: CepstralSettings = field(default_factory=CepstralSettings)
    spectral: SpectralSettings = field(default_factory=SpectralSettings)
    span: SpanPolicy = "report"
    trim: TrimConfig = field(default_factory=TrimConfig)

    def validate(self) -> None:
        if self.span not in ("report", "trimmed"):
            raise ConfigError(f"acoustics span={self.span!r}; expected 'report' or 'trimmed'")
        self.voice.validate()
        self.cepstral.validate()
        self.spectral.validate()
        self.trim.validate()

    def group_hash(self, group: str) -> str:
        """Hash of what a group's values depend on: the span rule, the voice analysis and its own settings."""
        parts: dict[str, Any] = {
            "format": CACHE_FORMAT,
            "span": self.span,
            "trim": asdict(self.trim),
            "voice": asdict(self.voice),
        }
        if group == "cepstral":
            parts["cepstral"] = asdict(self.cepstral)
        elif group == "spectral":
            parts["spectral"] = asdict(self.spectral)
        elif group == "egemaps":
            parts["egemaps"] = "eGeMAPSv02 functionals, opensmile 2.6"
        elif group != "praat":
            raise ConfigError(f"feature group {group!r}; expected one of {FEATURE_GROUPS}")
        return config_hash(parts)


def group_keys(group: str, settings: AcousticSettings | None = None) -> tuple[str, ...]:
    """Feature columns of one group."""
    settings = settings or AcousticSettings()
    if group == "praat":
        return MEASURE_KEYS
    if group == "cepstral":
        return CEPSTRAL_KEYS
    if group == "spectral":
        return spectral_keys(settings.spectral)
    if group == "egemaps":
        return EGEMAPS_KEYS
    raise ConfigError(f"feature group {group!r}; expected one of {FEATURE_GROUPS}")


def measure_recording(
    audio_path: Path | str,
    *,
    report_path: Path | str | None = None,
    groups: Sequence[str] = FEATURE_GROUPS,
    settings: AcousticSettings | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Analyse one recording over its span.

    Parameters
    ----------
    audio_path : Path or str
        The audio file.
    report_path : Path or str, optional
        Its Praat voice report, if any.
    groups : sequence of str
        Subset of :data:`FEATURE_GROUPS`.
    settings : AcousticSettings, optional
    name : str, optional
        How the recording is named in problems (a recording id or redacted path).

    Returns
    -------
    row : dict
        :data:`SPAN_COLUMNS` and the keys of every requested group (NaN where undefined).

    Raises
    ------
    AudioError
        If the audio cannot be read.
    """
    settings = settings or AcousticSettings()
    settings.validate()
    name = name or Path(audio_path).name
    sound = read_sound(audio_path, name=name)
    report, problem = _read_report(report_path, name) if report_path else (None, "")
    selection, span_from, voice = _span(sound, report, settings)
    start, end = selection if selection is not None else (sound.xmin, sound.xmax)
    row: dict[str, Any] = {
        "span_start_s": float(start),
        "span_end_s": float(end),
        "span_from": span_from,
        "pitch_method": voice.pitch_method,
        "problem": problem,
    }
    if "praat" in groups:
        # Praat tracks pitch with context around the span (``voice.context_s``), so it takes the selection;
        # every other group analyses the span alone, cut out here.
        row.update(voice_measures(sound, selection=selection, settings=voice))
    if "cepstral" in groups:
        part = sound if selection is None else sound.extract_part(start, end, preserve_times=True)
        row.update(cepstral_peak_prominence(part, settings=settings.cepstral))
    rate = sound.sampling_frequency
    first, last = int(round((start - sound.xmin) * rate)), int(round((end - sound.xmin) * rate))
    span = sound.values.mean(axis=0)[first:last]
    if "spectral" in groups:
        row.update(_spectral(span, int(round(rate)), settings.spectral))
    if "egemaps" in groups:
        row.update(egemaps_features(span, sr=int(round(rate))))
    return row


def recording_features(
    cohort: Cohort,
    *,
    recording_ids: Iterable[str] | None = None,
    groups: Sequence[str] = FEATURE_GROUPS,
    settings: AcousticSettings | None = None,
    cache_dir: Path | None = None,
    n_jobs: int = 1,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """The acoustic feature table of a cohort's recordings.

    Parameters
    ----------
    cohort : Cohort
    recording_ids : iterable of str, optional
        Recordings to analyse (default: all), in the cohort's order.
    groups : sequence of str
        Feature groups (:data:`FEATURE_GROUPS`).
    settings : AcousticSettings, optional
    cache_dir : Path, optional
        Cache root (``core.workspace.cache_dir()`` is the usual one); None disables it.
    n_jobs : int
        Worker processes for the recordings not in the cache.
    progress : callable, optional
        ``progress(done, total)`` in recordings to compute.

    Returns
    -------
    table : pd.DataFrame
        One row per recording: :data:`ID_COLUMNS`, :data:`SPAN_COLUMNS`, then the columns
        of each group. A recording that cannot be read keeps its row with NaN features
        and the reason in ``problem``.
    """
    settings = settings or AcousticSettings()
    settings.validate()
    unknown = [g for g in groups if g not in FEATURE_GROUPS]
    if unknown or not groups:
        raise ConfigError(f"feature groups {list(groups)}; expected a non-empty subset of {FEATURE_GROUPS}")
    recordings = cohort.recordings
    if recording_ids is not None:
        wanted = set(recording_ids)
        missing = sorted(wanted - set(recordings["recording_id"]))
        if missing:
            raise ConfigError(f"recordings {missing[:5]} are not in the cohort")
        recordings = recordings[recordings["recording_id"].isin(wanted)]
    recordings = recordings.reset_index(drop=True)

    tasks: list[dict[str, Any]] = []
    for rid, source in zip(recordings["recording_id"], recordings["source"], strict=True):
        audio = cohort.audio_path(rid)
        report = _report_path(cohort, rid)
        key = f"{file_digest(audio)}-{file_digest(report) if report else 'none'}"
        tasks.append({"recording_id": rid, "audio": audio, "report": report, "key": key, "name": str(source)})

    caches = {g: _read_cache(cache_dir, g, settings) for g in groups}
    todo = []
    for task in tasks:
        need = tuple(g for g in groups if task["key"] not in caches[g].index)
        if need:
            todo.append((task, need))
    computed = _compute(todo, settings, n_jobs=n_jobs, progress=progress)
    for (task, need), row in zip(todo, computed, strict=True):
        if row.get("problem", "").startswith("unreadable:"):
            continue
        for group in need:
            caches[group].loc[task["key"], list(SPAN_COLUMNS) + list(group_keys(group, settings))] = (
                pd.Series({k: row.get(k, math.nan) for k in (*SPAN_COLUMNS, *group_keys(group, settings))})
            )
    if todo:
        for group in groups:
            _write_cache(cache_dir, group, settings, caches[group])
    unreadable = {
        task["key"]: row
        for (task, _), row in zip(todo, computed, strict=True)
        if row.get("problem", "").startswith("unreadable:")
    }
    return _assemble(recordings, tasks, groups, settings, caches, unreadable)


def recording_measures(
    cohort: Cohort,
    recording_id: str,
    *,
    settings: AcousticSettings | None = None,
    cache_dir: Path | None = None,
) -> pd.Series:
    """Every acoustic measure of one recording (for a page that shows one recording).

    Returns
    -------
    measures : pd.Series
        :data:`SPAN_COLUMNS` and the columns of every feature group, indexed by name.
    """
    table = recording_features(cohort, recording_ids=[recording_id], settings=settings, cache_dir=cache_dir)
    return (
        table.drop(columns=[c for c in ID_COLUMNS if c != "recording_id"]).set_index("recording_id").iloc[0]
    )


def _report_path(cohort: Cohort, recording_id: str) -> Path | None:
    finder = getattr(cohort, "voice_report_path", None)
    if finder is not None:
        return finder(recording_id)
    candidate = cohort.audio_path(recording_id).with_suffix(".txt")
    return candidate if candidate.is_file() else None


def _read_report(path: Path | str, name: str) -> tuple[VoiceReport | None, str]:
    try:
        report = read_voice_report(path, source=f"{name} report", strict=False)
    except CoreError as exc:
        return None, str(exc)
    return report, "; ".join(report.problems)


def _span(
    sound: Any, report: VoiceReport | None, settings: AcousticSettings
) -> tuple[tuple[float, float] | None, str, VoiceAnalysisSettings]:
    """Selection to analyse (None: the whole sound), where it came from, and the voice settings."""
    if report is not None and settings.span == "report":
        voice = settings_for_report(report, settings.voice)
        if report.selection is not None:
            return report.selection, "report", voice
        return None, "report (whole sound)", voice
    samples = sound.values.mean(axis=0)
    try:
        start, end = trim_region(normalise(samples), sr=int(sound.sampling_frequency), config=settings.trim)
    except CoreError:
        return None, "whole (silent)", settings.voice
    rate = sound.sampling_frequency
    return (sound.xmin + start / rate, sound.xmin + end / rate), "trimmed", settings.voice


def _spectral(span: np.ndarray, sr: int, settings: SpectralSettings) -> dict[str, float]:
    try:
        samples = normalise(span)
    except CoreError:
        return dict.fromkeys(spectral_keys(settings), math.nan)
    return spectral_statistics(samples, sr=sr, settings=settings)


def _measure_task(
    task: dict[str, Any], groups: tuple[str, ...], settings: AcousticSettings
) -> dict[str, Any]:
    """One recording in a worker: its row, or a row whose problem says why it is unreadable."""
    try:
        return measure_recording(
            task["audio"], report_path=task["report"], groups=groups, settings=settings, name=task["name"]
        )
    except CoreError as exc:
        return {"problem": f"unreadable: {exc}"}


def _compute(
    todo: list[tuple[dict[str, Any], tuple[str, ...]]],
    settings: AcousticSettings,
    *,
    n_jobs: int,
    progress: ProgressCallback | None,
) -> list[dict[str, Any]]:
    total = len(todo)
    if progress is not None:
        progress(0, total)
    results: list[dict[str, Any]] = []
    if n_jobs <= 1 or total < 4:
        for done, (task, need) in enumerate(todo, start=1):
            results.append(_measure_task(task, need, settings))
            if progress is not None:
                progress(done, total)
        return results
    with process_pool(min(n_jobs, total)) as pool:
        with plain_main():  # workers start inside submit
            futures = [pool.submit(_measure_task, task, need, settings) for task, need in todo]
        for done, future in enumerate(futures, start=1):
            results.append(future.result())
            if progress is not None:
                progress(done, total)
    return results


def _cache_file(cache_dir: Path, group: str, settings: AcousticSettings) -> Path:
    return Path(cache_dir) / "acoustics" / f"{group}-{settings.group_hash(group)}.csv"


def _read_cache(cache_dir: Path | None, group: str, settings: AcousticSettings) -> pd.DataFrame:
    columns = list(SPAN_COLUMNS) + list(group_keys(group, settings))
    empty = pd.DataFrame(columns=columns, index=pd.Index([], name="key"))
    if cache_dir is None:
        return empty
    path = _cache_file(cache_dir, group, settings)
    if not path.is_file():
        return empty
    try:
        table = pd.read_csv(path, index_col="key", keep_default_na=False, na_values=[""])
    except (ValueError, pd.errors.ParserError):
        return empty
    if list(table.columns) != columns:
        return empty
    table["problem"] = table["problem"].fillna("").astype(str)
    return table


def _write_cache(cache_dir: Path | None, group: str, settings: AcousticSettings, table: pd.DataFrame) -> None:
    """Merge with what is on disk now (another process may have added rows) and replace atomically."""
    if cache_dir is None:
        return
    path = _cache_file(cache_dir, group, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    current = _read_cache(cache_dir, group, settings)
    merged = pd.concat([current[~current.index.isin(table.index)], table])
    atomic_write(path, lambda stream: merged.to_csv(stream, index_label="key"))


def _assemble(
    recordings: pd.DataFrame,
    tasks: list[dict[str, Any]],
    groups: Sequence[str],
    settings: AcousticSettings,
    caches: dict[str, pd.DataFrame],
    unreadable: dict[str, dict[str, Any]],
) -> pd.DataFrame:
    rows = []
    for task in tasks:
        row: dict[str, Any] = {}
        for group in groups:
            keys = group_keys(group, settings)
            if task["key"] in caches[group].index:
                cached = caches[group].loc[task["key"]]
                for column in SPAN_COLUMNS:
                    row.setdefault(column, cached[column])
                row.update({k: float(cached[k]) for k in keys})
            else:
                row.update(dict.fromkeys(keys, math.nan))
        if task["key"] in unreadable:
            row.update(
                {
                    "span_start_s": math.nan,
                    "span_end_s": math.nan,
                    "span_from": "",
                    "pitch_method": "",
                    "problem": unreadable[task["key"]]["problem"],
                }
            )
        rows.append(row)
    features = pd.DataFrame(rows, index=recordings.index)
    ids = recordings[list(ID_COLUMNS)]
    table = pd.concat([ids, features], axis=1)
    table["problem"] = table["problem"].fillna("").astype(str)
    ordered = list(ID_COLUMNS) + list(SPAN_COLUMNS) + [k for g in groups for k in group_keys(g, settings)]
    return table[ordered]


__all__ = [
    "AcousticSettings",
    "FEATURE_GROUPS",
    "ID_COLUMNS",
    "SPAN_COLUMNS",
    "group_keys",
    "measure_recording",
    "recording_features",
    "recording_measures",
]
