"""Out-of-distribution check of Predict, on real files: pd_vowels (8 kHz) against the 16 kHz demo cohort."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import ood
from core.cohort import load_cohort
from core.config import preset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(demo_cohort_dir):
    return load_cohort(demo_cohort_dir)


@pytest.fixture(scope="module")
def config():
    return preset("quick").preprocess


@pytest.fixture(scope="module")
def reference_without_p01(demo, config, tmp_path_factory):
    """The demo's training range, with patient P01 held out so that P01 is a new recording."""
    held = demo.recordings["patient_id"] == "P01"
    rest = demo.recordings[~held]
    cut = type(demo)(
        root=demo.root,
        layout=demo.layout,
        recordings=rest,
        patients=demo.patients,
        problems=demo.problems,
        class_names=demo.class_names,
        _paths=demo._paths,
    )
    return ood.training_reference(cut, config, cache_dir=None)


def test_reference_describes_every_selected_training_recording(demo, config, reference_without_p01):
    selected = demo.recordings[(demo.recordings["phase"] == "pre") & (demo.recordings["vowel"] == "A")]
    assert len(reference_without_p01) == len(selected) - 1
    rates = set(reference_without_p01["sample_rate"])
    assert 16000.0 in rates and 8000.0 not in rates  # the demo mixes 16, 44.1 and 48 kHz files
    assert reference_without_p01["level_dbfs"].between(-80, 0).all()


def test_a_held_out_demo_recording_is_like_the_training_data(demo, config, reference_without_p01):
    rid = demo.recordings.query("patient_id == 'P01' and phase == 'pre' and vowel == 'A'")[
        "recording_id"
    ].iloc[0]
    report = ood.compare(ood.recording_features(demo.audio_path(rid), config=config), reference_without_p01)
    assert report.ok, report.unlike
    assert not report.table["outside"].any()


def test_a_real_8khz_pd_vowels_file_is_flagged(config, reference_without_p01, pd_root):
    files = sorted((pd_root / "HC").glob("*.wav"))
    features = ood.recording_features(files[0], config=config)
    assert features["sample_rate"] == 8000
    report = ood.compare(features, reference_without_p01)
    assert not report.ok
    assert any(u.startswith("sample rate 8000 Hz (training: 16000 or ") for u in report.unlike)
    verdict = ood.tempered_verdict("The models lean towards a poor outcome.", report=report, synthetic=True)
    assert verdict.startswith("This recording is unlike the training data: sample rate 8000 Hz")
    assert "not reliable here" in verdict and "synthetic recordings" in verdict
    assert verdict.endswith("The models lean towards a poor outcome.")


def test_reference_is_cached_per_cohort_fingerprint(demo, config, tmp_path):
    small = demo.recordings[demo.recordings["patient_id"].isin(["P02", "P03"])]
    cut = type(demo)(
        root=demo.root,
        layout=demo.layout,
        recordings=small,
        patients=demo.patients,
        problems=demo.problems,
        class_names=demo.class_names,
        _paths={r: demo._paths[r] for r in small["recording_id"]},
    )
    first = ood.training_reference(cut, config, cache_dir=tmp_path)
    assert len(list((tmp_path / "ood").glob("*.json"))) == 1
    again = ood.training_reference(cut, config, cache_dir=tmp_path)
    assert again.round(9).equals(first.round(9))
