"""A cohort turned into the segment dataset a run trains on, with the manifest's description of it.

Training, resuming and every reader of a stored run (:meth:`core.run.Run.dataset`) build
the dataset here, so they cut and draw the same segments from the same cohort.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from core.cohort import CohortSource, as_source
from core.config import ExperimentConfig
from core.dataset import SegmentDataset, build_dataset
from core.errors import TrainingError
from core.pairing import is_synthetic_cohort
from core.splits import labelled_patients
from core.workspace import cache_dir as default_cache_dir


def load_training_data(
    cohort_dir: str | Path | CohortSource, config: ExperimentConfig, *, cache_dir: Path | None = None
) -> tuple[SegmentDataset, dict[str, Any]]:
    """Load a cohort and build its segment dataset; return it with a manifest description.

    Parameters
    ----------
    cohort_dir : path or CohortSource
        The cohort folder, or a source (folder + label sheet, columns, positive value).

    Returns
    -------
    dataset : SegmentDataset
        With ``split.patients="cohort"``, its ``cohort_patients`` is the table the folds
        are drawn over (:func:`cohort_patients`).
    data : dict
        ``fingerprint`` (cohort audio + labels), ``preprocess_hash``, ``cohort_dir``
        (the folder, never an audio path), ``cohort_source`` (how to load it again),
        ``class_names`` (label 0, label 1), counts of segments, patients and classes,
        and the number of recordings that gave no segment.
    """
    source = as_source(cohort_dir)
    cohort_dir = source.root
    cohort = source.load()
    dataset = build_dataset(cohort, config.preprocess, cache_dir=cache_dir or default_cache_dir())
    if config.split.patients == "cohort":  # the folds are drawn over these (core.splits)
        dataset = replace(dataset, cohort_patients=cohort_patients(cohort.recordings, config))
    segments = dataset.segments
    labelled = segments[segments["label"].notna()]
    per_patient = labelled.groupby("patient_id")["label"].first()
    data = {
        "fingerprint": cohort.fingerprint(),
        "preprocess_hash": config.preprocess.hash(),
        "cohort_dir": str(Path(cohort_dir).resolve()),
        "cohort_source": source.to_dict(),
        "class_names": list(cohort.class_names),
        "synthetic": is_synthetic_cohort(cohort_dir),
        "n_segments": int(len(labelled)),
        "n_patients": int(per_patient.size),
        "patients_well": int((per_patient == 0).sum()),
        "patients_poor": int((per_patient == 1).sum()),
        "segments_well": int((labelled["label"] == 0).sum()),
        "segments_poor": int((labelled["label"] == 1).sum()),
        "problems": int(len(dataset.problems)),
    }
    if data["n_segments"] == 0:
        raise TrainingError(f"cohort {Path(cohort_dir).name!r} gave no labelled segments to train on")
    return dataset, data


def cohort_patients(recordings: pd.DataFrame, config: ExperimentConfig) -> pd.DataFrame:
    """The cohort's labelled patients under the selected phases, whatever vowels they recorded.

    Parameters
    ----------
    recordings : pd.DataFrame
        ``Cohort.recordings`` (``patient_id, phase, vowel, label``).

    Returns
    -------
    patients : pd.DataFrame
        ``patient_id, label`` (0/1), one row per patient with a labelled recording of one
        of ``config.preprocess.selection.phases``, sorted by ``patient_id``.
    """
    chosen = recordings[recordings["phase"].isin(config.preprocess.selection.phases)]
    return labelled_patients(chosen)[["patient_id", "label"]]


__all__ = ["cohort_patients", "load_training_data"]
