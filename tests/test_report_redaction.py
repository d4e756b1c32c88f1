"""Names typed into a Praat report never reach a run folder or the acoustics cache."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import parselmouth  # noqa: F401  (a hard requirement: imported plainly, never skipped)
import pytest


@pytest.fixture(scope="module")
def named_cohort(tmp_path_factory) -> tuple[Path, list[str]]:
    """A 4-patient demo cohort; its first report holds the patient's name, record number and other names."""
    from core.demo import generate_cohort

    root = tmp_path_factory.mktemp("named") / "cohort"
    generate_cohort(root, patients=4, seed=1)
    sheet = pd.read_csv(root / "metadata.csv", dtype=str, encoding="utf-8-sig")
    row = sheet.iloc[0]
    name, record, pid = row["姓名"], row["病歷號"], row["ID"]
    report = next(root.glob(f"{pid}*/pre/{pid}S1.txt"))
    lines = report.read_text(encoding="utf-8").splitlines()
    body = next(i for i, line in enumerate(lines) if line.strip().startswith("Pitch:"))
    lines[body + 1 : body + 1] = [
        f"   Patient: {name} ({record})",
        "   Examined by Dr Lin Meihua",
        f"   Note: {sheet.iloc[1]['姓名']} came along",
    ]
    lines = [f"   Jitter (local): {name}" if "Jitter (local):" in line else line for line in lines]
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root, [name, record, pid, "Meihua", sheet.iloc[1]["姓名"]]


def test_report_text_is_redacted_in_report_problems_and_the_acoustics_cache(named_cohort, tmp_path) -> None:
    from core.cohort import load_cohort
    from core.commands.baseline import _agreement

    root, secrets = named_cohort
    cohort = load_cohort(root)
    run_dir, cache = tmp_path / "run", tmp_path / "cache"
    run_dir.mkdir()
    headline = _agreement(run_dir, cohort, cache, 1, None)
    problems = pd.read_csv(run_dir / "baseline" / "report_problems.csv")
    assert headline["report_problems"] == len(problems) >= 4  # three foreign lines and one unreadable value
    assert problems["reason"].str.contains("is not a voice-report line").sum() == 3
    assert problems["reason"].str.contains(r"'Jitter \(local\)' has value '\[text\]'").any()
    written = [p for folder in (run_dir, cache) for p in folder.rglob("*") if p.is_file()]
    assert any(p.suffix == ".csv" and "acoustics" in p.parts for p in written)
    for path in written:
        text = path.read_bytes().decode("utf-8", errors="replace")
        for secret in secrets:
            assert secret not in text, (path.name, secret)
