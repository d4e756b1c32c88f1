"""CohortSource: JSON round trip, CLI options, and the run manifest readers that rebuild a run's data."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from core.cohort import CohortSource
from core.commands.cohort_options import add_cohort_arguments, cohort_argv, cohort_source
from core.errors import CohortError, ConfigError

RATE = 16_000


def sheet_cohort(root: Path, *, patients: int = 8) -> Path:
    """``patients`` speakers with two 1 s real WAVs each (harmonic tones), labels.csv beside them."""
    rows = []
    for p in range(patients):
        for take in (1, 2):
            t = np.arange(RATE) / RATE
            f0 = 110.0 + 15 * p + 3 * take
            y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
            y = y + 0.01 * np.random.default_rng(10 * p + take).standard_normal(t.size)
            rel = f"Aufnahmen/Sprecher {p:02d} ü/take {take}.wav"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            sf.write(root / rel, (0.4 * y / np.abs(y).max()).astype(np.float32), RATE, subtype="PCM_16")
            rows.append({"file": rel, "speaker": f"S-{p:02d}", "diagnosis": "PD" if p % 2 else "HC"})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    return root / "labels.csv"


def test_to_dict_is_json_and_round_trips(tmp_path: Path) -> None:
    sheet = sheet_cohort(tmp_path / "c", patients=2)
    source = CohortSource(tmp_path / "c", labels="labels.csv", label_column="diagnosis", positive="PD")
    assert source.labels == sheet.resolve()  # a sheet named relative to the cohort folder
    data = json.loads(json.dumps(source.to_dict()))
    assert data["root"] == str((tmp_path / "c").resolve()) and data["label_column"] == "diagnosis"
    assert CohortSource.from_dict(data) == source
    assert CohortSource.from_dict({**data, "future_key": 1}) == source
    with pytest.raises(CohortError, match="without a root"):
        CohortSource.from_dict({"labels": str(sheet)})


def test_old_manifests_give_a_plain_folder_source(tmp_path: Path) -> None:
    assert CohortSource.from_run_data({"cohort_dir": str(tmp_path)}) == CohortSource(tmp_path)
    source = CohortSource(tmp_path, labels=tmp_path / "x.csv", positive="1")
    assert (
        CohortSource.from_run_data({"cohort_dir": "/elsewhere", "cohort_source": source.to_dict()}) == source
    )
    moved = source.with_root(tmp_path / "moved")
    assert (
        moved.root == tmp_path / "moved"
        and moved.labels == tmp_path / "moved" / "x.csv"
        and moved.positive == "1"
    )


def test_cli_options_build_the_source_and_back(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_cohort_arguments(parser)
    args = parser.parse_args(
        [
            "--cohort",
            str(tmp_path),
            "--labels",
            str(tmp_path / "l.csv"),
            "--path-column",
            "wav",
            "--patient-column",
            "speaker",
            "--label-column",
            "group",
            "--positive",
            "PD",
        ]
    )
    source = cohort_source(args)
    assert (source.path_column, source.patient_column, source.label_column, source.positive) == (
        "wav",
        "speaker",
        "group",
        "PD",
    )
    assert cohort_source(parser.parse_args(cohort_argv(source))) == source
    with pytest.raises(ConfigError, match="--label-column need --labels FILE"):
        cohort_source(parser.parse_args(["--cohort", str(tmp_path), "--label-column", "group"]))
    optional = argparse.ArgumentParser()
    add_cohort_arguments(optional, required=False)
    assert optional.parse_args([]).cohort is None
    assert "detected" in optional.format_help()


def test_training_data_and_run_readers_use_the_stored_source(tmp_path: Path) -> None:
    from core import runs
    from core.config import preset
    from core.run import load_run
    from core.training_data import load_training_data

    sheet_cohort(tmp_path / "c")
    source = CohortSource(tmp_path / "c", labels=tmp_path / "c" / "labels.csv")
    config = preset("quick")
    dataset, data = load_training_data(source, config, cache_dir=tmp_path / "cache")
    assert data["cohort_source"] == source.to_dict() and data["class_names"] == ["HC", "PD"]
    assert (data["n_patients"], data["patients_well"], data["patients_poor"]) == (8, 4, 4)
    assert set(dataset.segments["recording_id"].str.slice(0, 3)) == {f"P0{i}" for i in range(1, 9)}
    # without the sheet the same folder is a different cohort: the readers must use the stored source
    assert CohortSource(tmp_path / "c").load().fingerprint() != data["fingerprint"]
    run_dir = runs.create_run(
        config.to_dict(),
        name="sheet",
        config_hash=config.hash(),
        data=data,
        folds=["r0f0"],
        root=tmp_path / "runs",
    )
    rebuilt = load_run(run_dir).dataset(cache_dir=tmp_path / "cache")
    pd.testing.assert_frame_equal(rebuilt.segments, dataset.segments)
    np.testing.assert_array_equal(rebuilt.mel, dataset.mel)


@pytest.mark.slow
def test_a_failed_label_sheet_run_resumes_from_its_manifest(tmp_path: Path) -> None:
    from core import runs
    from core.config import preset, with_overrides
    from core.errors import TrainingError
    from core.run_lifecycle import resume_run, start_run

    sheet_cohort(tmp_path / "c")
    source = CohortSource(tmp_path / "c", labels=tmp_path / "c" / "labels.csv", positive="PD")
    config = with_overrides(
        preset("quick"), {"split.n_folds": 2, "train.warmup_epochs": 1, "train.finetune_epochs": 1}
    )
    with pytest.raises(TrainingError, match="stopped on purpose"):
        start_run(
            source, config, name="sheet", root=tmp_path / "runs", cache_dir=tmp_path / "cache", fail_after=1
        )
    (run_dir,) = list((tmp_path / "runs").iterdir())
    manifest = runs.read_manifest(run_dir)
    assert manifest["status"] == "failed" and len(manifest["folds_done"]) == 1
    assert manifest["data"]["cohort_source"]["labels"] == str(source.labels)
    assert manifest["data"]["class_names"] == ["HC", "PD"]
    resume_run(run_dir, root=tmp_path / "runs", cache_dir=tmp_path / "cache")
    done = runs.read_manifest(run_dir)
    assert done["status"] == "complete" and len(done["folds_done"]) == 2
