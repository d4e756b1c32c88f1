"""``python -m core prepare`` on the real Saarbruecken subset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.__main__ import main


def test_prepare_builds_and_reuses_the_cache(svd_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["prepare", "--cohort", str(svd_root), "--cache-dir", str(tmp_path / "cache"), "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["segments"] == 540 and first["recordings"] == 54 and first["problems"] == 0
    assert any((tmp_path / "cache").rglob("*.npy"))

    assert main([*args, "--vowels", "a,i"]) == 0
    both = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert both["vowels"] == ["A", "I"] and both["segments"] == 1080


def test_prepare_prints_counts_as_text(svd_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prepare", "--cohort", str(svd_root), "--cache-dir", str(tmp_path / "c"), "--vowels", "U"]) == 0
    out = capsys.readouterr().out
    assert "segments         540" in out and "prepare_s" in out
