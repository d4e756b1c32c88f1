"""Config hashes stay stable when a setting is added with a default: old runs still resume."""

from __future__ import annotations

import pytest

from core import runs
from core.config import HASH_NEUTRAL_DEFAULTS, ExperimentConfig, config_hash, preset, with_overrides
from core.run import Manifest
from tests.run_configs import tiny_config

#: config.hash() of the presets as computed before split.patients existed (commit 155b236).
HASHES_BEFORE_SPLIT_PATIENTS = {"seed": "4a2571615ea1", "quick": "97ce6898b50f", "voice": "67031765d4c2"}


def without_split_patients(config: ExperimentConfig) -> dict:
    """The config as a run stored it before ``split.patients`` existed."""
    data = config.to_dict()
    del data["split"]["patients"]
    return data


def test_presets_hash_as_before_the_split_patients_setting_and_cohort_folds_hash_apart() -> None:
    assert {
        name: preset(name).hash() for name in HASHES_BEFORE_SPLIT_PATIENTS
    } == HASHES_BEFORE_SPLIT_PATIENTS
    assert HASH_NEUTRAL_DEFAULTS == {"split.patients": "with_segments"}
    quick = preset("quick")
    assert quick.to_dict()["split"]["patients"] == "with_segments"  # stored, shown, but not hashed
    assert quick.hash() == config_hash(without_split_patients(quick))
    assert ExperimentConfig.from_dict(without_split_patients(quick)).hash() == quick.hash()
    cohort = with_overrides(quick, {"split.patients": "cohort"})
    assert cohort.split.patients == "cohort" and cohort.hash() != quick.hash()
    assert cohort.hash() == config_hash(cohort.to_dict())  # a set value is hashed like any other
    assert ExperimentConfig.from_dict(cohort.to_dict()).hash() == cohort.hash()


@pytest.mark.slow
def test_a_run_stored_before_split_patients_resumes_with_the_same_folds(tmp_path, synthetic_dataset) -> None:
    from core.errors import TrainingError
    from core.run_lifecycle import execute_run
    from core.splits import make_folds

    dataset = synthetic_dataset(patients=8, per_patient=3)
    config = tiny_config()
    old = without_split_patients(config)
    folds = [f.key for f in make_folds(dataset.segments, config.split)]
    run_dir = runs.create_run(
        old, name="old", config_hash=config_hash(old), data={"fingerprint": "f"}, folds=folds, root=tmp_path
    )
    stored = Manifest.from_dict(runs.read_manifest(run_dir))  # what resume_run reads back
    assert stored.config.split.patients == "with_segments" and stored.config.hash() == stored.config_hash
    with pytest.raises(TrainingError, match="stopped on purpose after 1 fold"):
        execute_run(run_dir, dataset, stored.config, fail_after=1)
    assert runs.read_manifest(run_dir)["folds_done"] == ["r0f0"]
    manifest = execute_run(run_dir, dataset, stored.config)  # the resume: no "config hash differs"
    assert manifest["status"] == "complete" and sorted(manifest["folds_done"]) == folds
    assert manifest["config_hash"] == config_hash(old) and "patients" not in manifest["config"]["split"]
