"""``python -m core prepare`` on the real Saarbruecken subset."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.__main__ import main


def test_prepare_builds_and_reuses_the_cache(
    svd_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["prepare", "--cohort", str(svd_root), "--cache-dir", str(tmp_path / "cache"), "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["segments"] == 540 and first["recordings"] == 54 and first["problems"] == 0
    assert any((tmp_path / "cache").rglob("*.npy"))

    assert main([*args, "--vowels", "a,i"]) == 0
    both = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert both["vowels"] == ["A", "I"] and both["segments"] == 1080


def test_prepare_prints_counts_as_text(
    svd_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["prepare", "--cohort", str(svd_root), "--cache-dir", str(tmp_path / "c"), "--vowels", "U"]) == 0
    )
    out = capsys.readouterr().out
    assert "segments         540" in out and "prepare_s" in out


def test_prepare_json_names_what_validation_excluded_and_what_it_dropped(
    svd_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.cohort.source

    root = tmp_path / "svd"
    shutil.copytree(svd_root, root)
    (root / "Datasets" / "Healthy" / "1-a_n.wav").write_bytes(b"")  # excluded by validation
    load_cohort = core.cohort.source.load_cohort
    emptied: list[str] = []

    def load_then_empty_one(*args, **kwargs):  # a file emptied after validation, before preprocessing
        cohort = load_cohort(*args, **kwargs)
        row = cohort.recordings.query("vowel == 'A'").iloc[-1]
        cohort.audio_path(row["recording_id"]).write_bytes(b"")
        emptied.append(str(row["source"]))
        return cohort

    monkeypatch.setattr(core.cohort.source, "load_cohort", load_then_empty_one)
    args = ["prepare", "--cohort", str(root), "--cache-dir", str(tmp_path / "cache"), "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["excluded"] == [
        {
            "path": "Datasets/Healthy/P01-a_n.wav",
            "severity": "error",
            "reason": "zero length: the file is empty (0 bytes)",
        }
    ]
    assert report["dropped"] == [
        {"path": emptied[0], "severity": "error", "reason": "zero length: the file is empty (0 bytes)"}
    ]
    assert (report["recordings"], report["segments"], report["problems"]) == (52, 520, 1)
    files = report["files"]
    assert files["seen"] == 164 == files["used"] + files["reported"] + files["set_aside"]
    assert files["documents_list"] == ["README.txt", "labels.csv"]

    assert main(args[:-1]) == 0
    out = capsys.readouterr().out
    assert "excluded: Datasets/Healthy/P01-a_n.wav: zero length" in out
    assert f"dropped: {emptied[-1]}: zero" in out
