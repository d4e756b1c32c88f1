"""Is a new recording like the ones a run was trained on? (Out-of-distribution check for Predict.)

Every training recording of the run's cohort that the run used (its phases and vowels)
is described by a few numbers: native sample rate, duration, level (RMS, dBFS, of the
file as stored) and three acoustic features of the signal at the run's sample rate
(median spectral centroid, median spectral flatness, median zero-crossing rate). A new
recording is "unlike the training data" when its sample rate is none of the training
ones, or any other number lies outside the training range widened by 10 % of its span
on each side. The reference is cached per cohort fingerprint and preprocessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import soundfile as sf

from core.audio import load_audio
from core.config import PreprocessConfig
from core.errors import CoreError

#: Feature → (words, unit, format) for the report.
FEATURES: dict[str, tuple[str, str, str]] = {
    "sample_rate": ("sample rate", "Hz", "{:.0f}"),
    "duration_s": ("duration", "s", "{:.1f}"),
    "level_dbfs": ("level (RMS)", "dBFS", "{:.1f}"),
    "centroid_hz": ("spectral centroid (median)", "Hz", "{:.0f}"),
    "flatness": ("spectral flatness (median)", "", "{:.3f}"),
    "zcr": ("zero-crossing rate (median)", "", "{:.3f}"),
}
#: Fraction of the training span added on each side before a value counts as outside.
MARGIN = 0.10


def recording_features(path: str | Path, *, config: PreprocessConfig) -> dict[str, float]:
    """The numbers compared with the training range, for one audio file.

    Returns
    -------
    dict of str to float
        Keys of :data:`FEATURES`.
    """
    raw, rate = sf.read(str(path), dtype="float64", always_2d=True)
    mono = raw.mean(axis=1)
    rms = float(np.sqrt(np.mean(mono**2))) if mono.size else 0.0
    y = load_audio(path, config=config.audio, name=Path(path).name)
    sr = config.audio.sample_rate
    return {
        "sample_rate": float(rate),
        "duration_s": mono.size / rate,
        "level_dbfs": 20 * np.log10(max(rms, 1e-10)),
        "centroid_hz": float(np.median(librosa.feature.spectral_centroid(y=y, sr=sr))),
        "flatness": float(np.median(librosa.feature.spectral_flatness(y=y))),
        "zcr": float(np.median(librosa.feature.zero_crossing_rate(y))),
    }


def training_reference(cohort, config: PreprocessConfig, *, cache_dir: Path | None = None) -> pd.DataFrame:
    """Features of every recording of ``cohort`` the run's preprocessing selects (cached).

    Returns
    -------
    pd.DataFrame [shape=(n_recordings, len(FEATURES))]
    """
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / "ood" / f"{cohort.fingerprint()}-{config.hash()}.json"
        if cache.is_file():
            return pd.DataFrame(json.loads(cache.read_text(encoding="utf-8")))
    recordings = cohort.recordings
    chosen = recordings[
        recordings["phase"].isin(config.selection.phases) & recordings["vowel"].isin(config.selection.vowels)
    ]
    rows = [recording_features(cohort.audio_path(r), config=config) for r in chosen["recording_id"]]
    table = pd.DataFrame(rows, columns=list(FEATURES))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(table.to_dict(orient="list")), encoding="utf-8")
    return table


def run_reference(run, *, cache_dir: Path | None = None) -> pd.DataFrame:
    """:func:`training_reference` of the cohort a run was trained on (loaded from its manifest).

    Raises
    ------
    CoreError
        When the run's cohort is not on this machine any more, or changed since training.
    """
    from core.cohort import CohortSource

    data = run.manifest.get("data", {})
    if not data.get("cohort_source") and not data.get("cohort_dir"):
        raise CoreError(f"run {run.path.name} does not record its cohort")
    source = (
        CohortSource.from_dict(data["cohort_source"])
        if data.get("cohort_source")
        else CohortSource(Path(data["cohort_dir"]))
    )
    if not Path(source.root).is_dir():
        raise CoreError(f"the cohort run {run.path.name} was trained on is not at {source.root} any more")
    cohort = source.load()
    if data.get("fingerprint") and cohort.fingerprint() != data["fingerprint"]:
        raise CoreError(f"the cohort at {source.root} changed since run {run.path.name} was trained")
    return training_reference(cohort, run.config.preprocess, cache_dir=cache_dir)


@dataclass(frozen=True)
class OodReport:
    """How a recording compares with the training recordings.

    Attributes
    ----------
    table : pd.DataFrame
        One row per feature: ``feature``, ``value``, ``training_range``, ``outside`` (bool).
    unlike : list of str
        One plain phrase per feature outside the training range (empty: like the training data).
    """

    table: pd.DataFrame
    unlike: list[str]

    @property
    def ok(self) -> bool:
        return not self.unlike


def compare(features: dict[str, float], reference: pd.DataFrame) -> OodReport:
    """Compare one recording's :func:`recording_features` with the training ``reference``."""
    if reference.empty:
        raise CoreError("the training recordings gave no reference to compare with")
    rows, unlike = [], []
    for key, (words, unit, fmt) in FEATURES.items():
        value, column = features[key], reference[key].astype(float)
        low, high = float(column.min()), float(column.max())
        unit_text = f" {unit}" if unit else ""
        if key == "sample_rate":
            rates = sorted({int(r) for r in column})
            outside = int(value) not in rates
            span = " or ".join(f"{r}" for r in rates) + unit_text
        else:
            pad = MARGIN * (high - low)
            outside = not (low - pad <= value <= high + pad)
            span = f"{fmt.format(low)} to {fmt.format(high)}{unit_text}"
        shown = fmt.format(value) + unit_text
        rows.append({"feature": words, "value": shown, "training_range": span, "outside": outside})
        if outside:
            unlike.append(f"{words} {shown} (training: {span})")
    return OodReport(table=pd.DataFrame(rows), unlike=unlike)


def tempered_verdict(verdict: str, *, report: OodReport | None, synthetic: bool) -> str:
    """The ensemble's verdict with what limits it: unlike the training data, or trained on synthetic data."""
    notes = []
    if report is not None and not report.ok:
        notes.append(
            "This recording is unlike the training data: "
            + "; ".join(report.unlike)
            + ". The models' verdict is not reliable here."
        )
    if synthetic:
        notes.append(
            "These models were trained on synthetic recordings (the demo cohort): their verdict only "
            "shows how the tool works and says nothing about a real voice."
        )
    return " ".join(notes + [verdict]) if notes else verdict


__all__ = [
    "FEATURES",
    "MARGIN",
    "OodReport",
    "compare",
    "recording_features",
    "run_reference",
    "tempered_verdict",
    "training_reference",
]
