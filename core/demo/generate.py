"""Write a planned demo cohort to disk: wavs, Praat reports, metadata sheets and the truth file.

Each patient is written by one task from its own random streams, so the bytes do not depend
on how many processes run or in which order they finish. The cohort is assembled in a
staging folder beside ``out`` and moved into place at the end, so an interrupted run never
leaves a half-written cohort behind.
"""

from __future__ import annotations

import json
import os
import pickle
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from core.demo.plan import CohortPlan, PatientPlan, RecordingPlan, plan_cohort
from core.demo.report import voice_report
from core.demo.sheet import write_sheets
from core.demo.sheet_rows import SHEET_COLUMNS
from core.demo.voice import VoiceParams, synthesize
from core.errors import CohortError, ConfigError

GENERATOR = "core.demo"
GENERATOR_VERSION = "1"
TRUTH_FILE = "demo_truth.json"
_SHEET_FILES = ("metadata.xlsx", "metadata.csv")

#: The report covers the stable middle of the phonation: 10 % trimmed at each end, at most 2 s.
_REPORT_TRIM = 0.1
_REPORT_MAX_S = 2.0


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`generate_cohort` wrote.

    Attributes
    ----------
    root : Path
        The cohort folder.
    patients, well, poor, recordings : int
        Counts (recordings = wav files).
    oracle_patient_auroc : float
        AUROC of the hidden pre-op severity as a predictor of the outcome: the best any
        model can hope for on this cohort.
    seconds : float
        Wall time of the generation.
    """

    root: Path
    patients: int
    well: int
    poor: int
    recordings: int
    oracle_patient_auroc: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON object printed by ``python -m core demo --json``."""
        return {
            "patients": self.patients,
            "well": self.well,
            "poor": self.poor,
            "recordings": self.recordings,
            "oracle_patient_auroc": round(self.oracle_patient_auroc, 4),
            "seconds": round(self.seconds, 2),
        }


def generate_cohort(
    out: Path,
    *,
    patients: int = 43,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> DemoSummary:
    """Write a synthetic cohort in the study's folder layout.

    Parameters
    ----------
    out : Path
        Destination folder: new, empty, or a previous demo cohort (which is replaced).
    patients : int
        Number of patients (4..500); 26/43 of them, rounded, have a poor outcome.
    seed : int
        Non-negative seed; the same seed gives byte-identical files.
    progress : callable, optional
        Called as ``progress(done, total)`` with finished patients, starting at 0.
    workers : int, optional
        Processes to use (default: up to 2); does not change the output.

    Returns
    -------
    summary : DemoSummary

    Raises
    ------
    ConfigError
        ``patients``, ``seed`` or ``workers`` out of range.
    CohortError
        ``out`` holds something other than a previous demo cohort.
    """
    started = time.perf_counter()
    out = Path(out)
    plan = plan_cohort(patients=patients, seed=seed)
    n_workers = min(2, os.cpu_count() or 1) if workers is None else workers
    if n_workers < 1:
        raise ConfigError(f"demo workers={workers}; expected >= 1")
    _check_destination(out)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _write_patients(plan, staging, workers=n_workers, progress=progress)
        rows = sorted((p.sheet_row for p in plan.patients), key=lambda r: (r["Date"], r["ID"]))
        write_sheets(rows, columns=SHEET_COLUMNS, folder=staging)
        (staging / TRUTH_FILE).write_bytes(_truth_json(plan).encode("utf-8"))
        _move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    poor = sum(p.outcome for p in plan.patients)
    return DemoSummary(
        root=out,
        patients=patients,
        well=patients - poor,
        poor=poor,
        recordings=sum(len(p.recordings) for p in plan.patients),
        oracle_patient_auroc=plan.oracle_patient_auroc,
        seconds=time.perf_counter() - started,
    )


def _check_destination(out: Path) -> None:
    """Refuse any existing content except a previous demo cohort."""
    if not out.exists():
        return
    if not out.is_dir():
        raise CohortError(
            f"demo output {out} is a file; expected a new or empty folder or a previous demo cohort"
        )
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    folders = _previous_demo_folders(out)
    if folders is None:
        raise CohortError(
            f"demo output {out} is not empty and holds no {TRUTH_FILE} from {GENERATOR}; "
            "expected a new or empty folder or a previous demo cohort"
        )
    unexpected = [name for name in entries if name not in folders and name not in (*_SHEET_FILES, TRUTH_FILE)]
    if unexpected:
        raise CohortError(
            f"demo output {out} is a previous demo cohort but also holds {unexpected[:3]}; "
            "refusing to delete files the generator did not write"
        )


def _previous_demo_folders(out: Path) -> set[str] | None:
    try:
        truth = json.loads((out / TRUTH_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(truth, dict) or truth.get("generator") != GENERATOR:
        return None
    return set(truth.get("folders", {}))


def _move_into_place(staging: Path, out: Path) -> None:
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old)
    else:
        staging.rename(out)


def _write_patients(
    plan: CohortPlan, root: Path, *, workers: int, progress: Callable[[int, int], None] | None
) -> None:
    total = len(plan.patients)
    if progress:
        progress(0, total)
    shards = _balanced_shards(plan.patients, min(workers, total))
    if len(shards) == 1:
        for done, patient in enumerate(shards[0], start=1):
            write_patient(patient, root=root, seed=plan.seed)
            if progress:
                progress(done, total)
        return
    _run_worker_processes(shards, root=root, seed=plan.seed, total=total, progress=progress)


def _balanced_shards(patients: tuple[PatientPlan, ...], count: int) -> list[list[PatientPlan]]:
    """Split patients into ``count`` shards of similar audio length (longest first, greedy)."""
    shards: list[list[PatientPlan]] = [[] for _ in range(max(1, count))]
    loads = [0.0] * len(shards)
    for patient in sorted(patients, key=lambda p: (-_cost(p), p.index)):
        lightest = loads.index(min(loads))
        shards[lightest].append(patient)
        loads[lightest] += _cost(patient)
    return [shard for shard in shards if shard]


def _cost(patient: PatientPlan) -> float:
    return patient.sample_rate * sum(r.duration_s for r in patient.recordings)


def _run_worker_processes(
    shards: list[list[PatientPlan]],
    *,
    root: Path,
    seed: int,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Write each shard in its own ``python -m core.demo.worker`` process.

    Subprocesses rather than a multiprocessing pool: nothing is forked from a caller that may
    run TensorFlow threads, and the caller's ``__main__`` (a script, a Streamlit page) is
    never re-executed.
    """
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    processes: list[tuple[subprocess.Popen[bytes], Any]] = []
    done = 0
    try:
        with selectors.DefaultSelector() as selector:
            for shard in shards:
                log = tempfile.TemporaryFile()
                process = subprocess.Popen(
                    [sys.executable, "-m", "core.demo.worker"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    env=env,
                )
                processes.append((process, log))
                assert process.stdin is not None and process.stdout is not None
                process.stdin.write(pickle.dumps({"root": str(root), "seed": seed, "patients": shard}))
                process.stdin.close()
                selector.register(process.stdout, selectors.EVENT_READ)
            while selector.get_map():
                for key, _ in selector.select():
                    line = key.fileobj.readline()  # type: ignore[union-attr]
                    if not line:
                        selector.unregister(key.fileobj)
                        continue
                    done += 1
                    if progress:
                        progress(done, total)
        for process, log in processes:
            if process.wait() != 0:
                log.seek(0)
                tail = log.read().decode("utf-8", "replace")[-2000:]
                raise CohortError(
                    f"demo worker exited with code {process.returncode} while writing {root}:\n{tail}"
                )
    finally:
        for process, log in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()


def write_patient(patient: PatientPlan, *, root: Path, seed: int) -> None:
    """Write one patient's eight wavs and their Praat reports under ``root``.

    Parameters
    ----------
    patient : PatientPlan
    root : Path
        Cohort (or staging) folder.
    seed : int
        The cohort seed; each recording draws from its own stream under it.
    """
    for phase in ("pre", "post"):
        (root / patient.folder / phase).mkdir(parents=True, exist_ok=True)
    for recording in patient.recordings:
        params = VoiceParams(
            sample_rate=patient.sample_rate,
            vowel=recording.vowel,
            female=patient.sex == "F",
            f0_hz=recording.f0_hz,
            tract_scale=patient.tract_scale,
            severity=recording.severity,
            duration_s=recording.duration_s,
            lead_s=recording.lead_s,
            trail_s=recording.trail_s,
            peak=recording.peak,
        )
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=recording.seed))
        samples = synthesize(params, rng=rng)
        wav = root / recording.relpath
        sf.write(wav, samples, patient.sample_rate, subtype="PCM_16", format="WAV")
        report = voice_report(
            samples,
            sample_rate=patient.sample_rate,
            name=wav.stem,
            selection=report_selection(recording),
            when=recording.recorded_at + timedelta(minutes=3, seconds=17 * recording.vowel),
            object_number=recording.vowel,
        )
        wav.with_suffix(".txt").write_bytes(report.encode("utf-8"))


def report_selection(recording: RecordingPlan) -> tuple[float, float]:
    """The span a clinician selects for the voice report: the stable middle of the phonation.

    Returns
    -------
    start, end : float
        Seconds from the file start; inside the voiced part, never at 0.
    """
    start, length = recording.lead_s, recording.voiced_s
    if length >= 1.0:
        start, length = start + _REPORT_TRIM * length, (1.0 - 2 * _REPORT_TRIM) * length
    if length > _REPORT_MAX_S:
        start, length = start + (length - _REPORT_MAX_S) / 2, _REPORT_MAX_S
    return round(start, 3), round(start + length, 3)


def _truth_json(plan: CohortPlan) -> str:
    """The hidden truth the loader ignores: severities, outcomes and the oracle AUROC."""
    folders = {}
    for patient in plan.patients:
        folders[patient.folder] = {
            "outcome": patient.outcome,
            "severity_pre": round(patient.severity_pre, 6),
            "severity_post": round(patient.severity_post, 6),
            "cause": patient.cause,
            "sex": patient.sex,
            "sample_rate": patient.sample_rate,
            "recordings": {
                Path(r.relpath).relative_to(patient.folder).as_posix(): {
                    "severity": round(r.severity, 6),
                    "f0_hz": round(r.f0_hz, 3),
                    "duration_s": round(r.duration_s, 6),
                    "lead_s": round(r.lead_s, 6),
                    "voiced_s": round(r.voiced_s, 6),
                }
                for r in patient.recordings
            },
        }
    truth = {
        "generator": GENERATOR,
        "version": GENERATOR_VERSION,
        "seed": plan.seed,
        "patients": len(plan.patients),
        "oracle_patient_auroc": round(plan.oracle_patient_auroc, 6),
        "folders": folders,
    }
    return json.dumps(truth, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
