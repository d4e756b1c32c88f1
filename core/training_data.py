"""A cohort turned into the segment dataset a run trains on, with the manifest's description of it.

Training, resuming and every reader of a stored run (:meth:`core.run.Run.dataset`) build
the dataset here, so they cut and draw the same segments from the same cohort.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.cohort import CohortSource, as_source
from core.config import ExperimentConfig
from core.dataset import SegmentDataset, build_dataset
from core.errors import TrainingError
from core.pairing import is_synthetic_cohort
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


__all__ = ["load_training_data"]
