"""The demo cohort as data: patients, hidden severities, outcomes, recordings and sheet rows.

:func:`plan_cohort` is pure and deterministic in ``(patients, seed)``; it draws nothing
audio-related except the per-recording seeds, so synthesis can run in any process and any
order and still give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from core.demo.sheet_rows import CAMPUSES, placeholder_names, sheet_row, sheet_styles, unique_numbers
from core.demo.voice import VOWEL_F0_FACTOR
from core.errors import ConfigError

#: The study's cohort: 43 patients, 26 poor outcomes, 6 with atrophy.
STUDY_PATIENTS = 43
STUDY_POOR = 26
STUDY_ATROPHY = 6

#: Fraction of the pre-op severity that the injection removes: mean and s.d. (before clipping).
IMPROVEMENT_MEAN = 0.5
IMPROVEMENT_SD = 0.21
#: The improvement noise is redrawn until the oracle AUROC lands in this window.
ORACLE_TARGET = (0.82, 0.88)
_ORACLE_TRIES = 200

#: Study duration ranges per (cause, phase) in seconds: (min, max, mean).
DURATIONS_S: dict[tuple[str, str], tuple[float, float, float]] = {
    ("palsy", "pre"): (0.323, 14.653, 4.347),
    ("palsy", "post"): (0.702, 10.750, 6.196),
    ("atrophy", "pre"): (3.262, 10.256, 8.799),
    ("atrophy", "post"): (3.262, 10.256, 8.805),
}
#: Shortest regular (not deliberately short) palsy pre-op file, in seconds.
_REGULAR_MIN_S = 0.7
#: Deliberately short pre-op files: voiced length and silences, in seconds.
SHORT_VOICED_S = (0.20, 0.25)
_SHORT_SILENCE_S = (0.012, 0.02)

SAMPLE_RATES: tuple[int, ...] = (16_000, 44_100, 48_000)
_SAMPLE_RATE_WEIGHTS = (0.4, 0.35, 0.25)


@dataclass(frozen=True)
class RecordingPlan:
    """One recording of one patient.

    Attributes
    ----------
    relpath : str
        Path of the wav relative to the cohort root, e.g. ``"16422748well-2022/pre/16422748S1.wav"``.
    phase : str
        "pre" or "post".
    vowel : int
        1..4 = A, I, U, E.
    severity : float
        Severity of this phonation (the patient's phase severity plus day-to-day variation).
    f0_hz : float
        Mean f0 of this phonation.
    duration_s, lead_s, trail_s : float
        File length and the silences before/after the phonation.
    peak : float
        Peak level, 0..1 of full scale.
    recorded_at : datetime
        When it was recorded (its report is saved a few minutes later).
    seed : tuple of int
        Spawn key of this recording's random stream under the cohort seed.
    """

    relpath: str
    phase: str
    vowel: int
    severity: float
    f0_hz: float
    duration_s: float
    lead_s: float
    trail_s: float
    peak: float
    recorded_at: datetime
    seed: tuple[int, ...]

    @property
    def voiced_s(self) -> float:
        return self.duration_s - self.lead_s - self.trail_s


@dataclass(frozen=True)
class PatientPlan:
    """One patient: hidden truth, voice, recordings and metadata-sheet row.

    Attributes
    ----------
    index : int
        0-based position in the cohort.
    folder : str
        ``<id><well|poor>-<year>``.
    hospital_id : str
        Fake 8-digit hospital ID (personal-data stand-in).
    outcome : int
        0 well, 1 poor.
    severity_pre, severity_post : float
        Hidden severities in [0, 1].
    cause : str
        "palsy" or "atrophy".
    sex : str
        "F" or "M".
    sample_rate : int
        Hz, the same for all of a patient's files (one clinic, one recorder).
    tract_scale : float
        Formant scale around the sex norm.
    recordings : tuple of RecordingPlan
        Four pre-op then four post-op recordings.
    sheet_row : dict
        Metadata-sheet values keyed by :data:`core.demo.sheet_rows.SHEET_COLUMNS`.
    """

    index: int
    folder: str
    hospital_id: str
    outcome: int
    severity_pre: float
    severity_post: float
    cause: str
    sex: str
    sample_rate: int
    tract_scale: float
    recordings: tuple[RecordingPlan, ...]
    sheet_row: dict[str, object]


@dataclass(frozen=True)
class CohortPlan:
    """Everything :func:`core.demo.generate_cohort` writes, before any audio exists."""

    seed: int
    patients: tuple[PatientPlan, ...]
    oracle_patient_auroc: float


#: Spawn-key streams under the cohort seed.
_PLAN_STREAM, _OUTCOME_STREAM, _RECORDING_STREAM = 0, 1, 2


def plan_cohort(*, patients: int, seed: int) -> CohortPlan:
    """Draw the whole demo cohort.

    Parameters
    ----------
    patients : int
        Number of patients, 4..500; the study's ratios (26/43 poor, 6/43 atrophy) are kept.
    seed : int
        Non-negative seed; equal seeds give equal plans.

    Returns
    -------
    plan : CohortPlan
    """
    if not 4 <= patients <= 500:
        raise ConfigError(f"demo patients={patients}; expected 4..500")
    if seed < 0:
        raise ConfigError(f"demo seed={seed}; expected a non-negative integer")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_PLAN_STREAM,)))
    n_poor = min(patients - 1, max(1, round(patients * STUDY_POOR / STUDY_PATIENTS)))
    severity_pre = rng.beta(2.0, 2.0, patients)
    severity_post, outcome, oracle = _outcomes(severity_pre, n_poor=n_poor, seed=seed)
    cause = np.full(patients, "palsy", dtype=object)
    cause[rng.permutation(patients)[: round(patients * STUDY_ATROPHY / STUDY_PATIENTS)]] = "atrophy"
    sex = _sex_balanced_within_outcome(outcome, rng=rng)
    hospital_ids = unique_numbers(rng, patients, low=10_000_000, high=99_999_999)
    record_numbers = unique_numbers(rng, patients, low=1_000_000, high=9_999_999)
    names = placeholder_names(rng, patients)
    years = rng.integers(2019, 2025, patients)
    sample_rates = rng.choice(SAMPLE_RATES, size=patients, p=_SAMPLE_RATE_WEIGHTS)
    styles = sheet_styles(rng, patients)
    short_files = _short_file_slots(rng, cause)

    plans = []
    for i in range(patients):
        female = sex[i] == "F"
        visit = date(int(years[i]), 1, 1) + timedelta(days=int(rng.integers(0, 365)))
        f0_hz = rng.uniform(180.0, 240.0) if female else rng.uniform(95.0, 140.0)
        folder = f"{hospital_ids[i]}{'poor' if outcome[i] else 'well'}-{years[i]}"
        recordings = _recordings(
            rng,
            index=i,
            folder=folder,
            hospital_id=str(hospital_ids[i]),
            cause=str(cause[i]),
            severity=(float(severity_pre[i]), float(severity_post[i])),
            f0_hz=f0_hz,
            visit=visit,
            short_vowels=short_files.get(i, ()),
        )
        age = int(rng.integers(60, 86) if cause[i] == "atrophy" else rng.integers(25, 86))
        row = sheet_row(
            styles[i],
            visit=visit,
            campus=CAMPUSES[int(rng.integers(len(CAMPUSES)))],
            name=names[i],
            hospital_id=int(hospital_ids[i]),
            record_number=int(record_numbers[i]),
            sex=str(sex[i]),
            age=age,
            cause=str(cause[i]),
            rng=rng,
        )
        plans.append(
            PatientPlan(
                index=i,
                folder=folder,
                hospital_id=str(hospital_ids[i]),
                outcome=int(outcome[i]),
                severity_pre=float(severity_pre[i]),
                severity_post=float(severity_post[i]),
                cause=str(cause[i]),
                sex=str(sex[i]),
                sample_rate=int(sample_rates[i]),
                tract_scale=float(rng.uniform(0.95, 1.05)),
                recordings=recordings,
                sheet_row=row,
            )
        )
    return CohortPlan(seed=seed, patients=tuple(plans), oracle_patient_auroc=oracle)


def _outcomes(severity_pre: np.ndarray, *, n_poor: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Post-op severity, outcome and the oracle AUROC of pre-op severity.

    The injection removes a random fraction of each patient's severity; the ``n_poor``
    patients with the worst post-op voice are "poor". The fraction's noise is redrawn
    (deterministically) until the oracle AUROC lands in :data:`ORACLE_TARGET`, so every
    seed gives a cohort about as predictable as the study's; if no draw does (tiny
    cohorts), the closest one to the window's centre is kept.
    """
    # Imported here: worker processes unpickle plans and should not pay for scikit-learn.
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_OUTCOME_STREAM,)))
    centre = sum(ORACLE_TARGET) / 2
    best: tuple[float, np.ndarray, np.ndarray, float] | None = None
    for _ in range(_ORACLE_TRIES):
        fraction = np.clip(
            IMPROVEMENT_MEAN + IMPROVEMENT_SD * rng.standard_normal(severity_pre.size), 0.0, 0.95
        )
        severity_post = severity_pre * (1.0 - fraction)
        outcome = np.zeros(severity_pre.size, dtype=int)
        outcome[np.argsort(severity_post, kind="stable")[-n_poor:]] = 1
        oracle = float(roc_auc_score(outcome, severity_pre))
        gap = abs(oracle - centre)
        if best is None or gap < best[0]:
            best = (gap, severity_post, outcome, oracle)
        if ORACLE_TARGET[0] <= oracle <= ORACLE_TARGET[1]:
            break
    assert best is not None
    return best[1], best[2], best[3]


def _sex_balanced_within_outcome(outcome: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Half of each outcome group is female, so sex carries no outcome information."""
    sex = np.empty(outcome.size, dtype=object)
    for label in (0, 1):
        members = rng.permutation(np.flatnonzero(outcome == label))
        n_female = members.size // 2 + int(rng.integers(0, 2)) * (members.size % 2)
        sex[members[:n_female]] = "F"
        sex[members[n_female:]] = "M"
    return sex


def _short_file_slots(rng: np.random.Generator, cause: np.ndarray) -> dict[int, tuple[int, ...]]:
    """Which pre-op files are deliberately shorter than the 0.3 s analysis span.

    About 2 per 43 patients (1..3), palsy patients only, the first always a vowel /a/ so the
    main model's short-clip policy is exercised.
    """
    count = min(3, max(1, round(2 * cause.size / STUDY_PATIENTS)))
    candidates = np.flatnonzero(cause == "palsy")
    if candidates.size == 0:
        return {}
    slots: dict[int, list[int]] = {}
    for k, patient in enumerate(rng.choice(candidates, size=min(count, candidates.size), replace=False)):
        slots.setdefault(int(patient), []).append(1 if k == 0 else int(rng.integers(1, 5)))
    return {p: tuple(sorted(set(v))) for p, v in slots.items()}


def _duration(rng: np.random.Generator, cause: str, phase: str) -> float:
    """A file length within the study's range for this cause and phase, near its mean.

    Palsy pre-op takes are right-skewed (lognormal: most last a few seconds, a few are
    long); the others are a beta on the study's range with the study's mean. Draws outside
    the range are redrawn.
    """
    low, high, mean = DURATIONS_S[(cause, phase)]
    skewed = (cause, phase) == ("palsy", "pre")
    if skewed:
        low = _REGULAR_MIN_S
    m = (mean - low) / (high - low)
    while True:
        if skewed:
            value = float(rng.lognormal(np.log(3.45), 0.68))
        else:
            value = low + (high - low) * float(rng.beta(4.0 * m, 4.0 * (1.0 - m)))
        if low <= value <= high:
            return value


def _recordings(
    rng: np.random.Generator,
    *,
    index: int,
    folder: str,
    hospital_id: str,
    cause: str,
    severity: tuple[float, float],
    f0_hz: float,
    visit: date,
    short_vowels: tuple[int, ...],
) -> tuple[RecordingPlan, ...]:
    recordings = []
    follow_up = visit + timedelta(days=int(rng.integers(28, 120)))
    post_f0 = f0_hz * rng.uniform(0.97, 1.05)
    for phase, letter, day, phase_severity, phase_f0 in (
        ("pre", "S", visit, severity[0], f0_hz),
        ("post", "A", follow_up, severity[1], post_f0),
    ):
        clock = datetime(day.year, day.month, day.day, int(rng.integers(8, 17)), int(rng.integers(0, 60)))
        for vowel in (1, 2, 3, 4):
            if phase == "pre" and vowel in short_vowels:
                voiced = rng.uniform(*SHORT_VOICED_S)
                lead, trail = rng.uniform(*_SHORT_SILENCE_S, size=2)
                duration = lead + voiced + trail
            else:
                duration = _duration(rng, cause, phase)
                lead, trail = rng.uniform(0.05, min(0.4, 0.25 * duration), size=2)
            clock += timedelta(seconds=int(rng.integers(40, 100)))
            recordings.append(
                RecordingPlan(
                    relpath=f"{folder}/{phase}/{hospital_id}{letter}{vowel}.wav",
                    phase=phase,
                    vowel=vowel,
                    severity=float(np.clip(phase_severity + rng.normal(0.0, 0.03), 0.0, 1.0)),
                    f0_hz=float(phase_f0 * VOWEL_F0_FACTOR[vowel] * rng.uniform(0.98, 1.02)),
                    duration_s=float(duration),
                    lead_s=float(lead),
                    trail_s=float(trail),
                    peak=float(rng.uniform(0.3, 0.9)),
                    recorded_at=clock,
                    seed=(_RECORDING_STREAM, index, len(recordings)),
                )
            )
    return tuple(recordings)


__all__ = ["CohortPlan", "PatientPlan", "RecordingPlan", "plan_cohort"]
