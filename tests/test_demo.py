"""The synthetic demo cohort: layout, sheets, determinism, outcome truth and acoustics."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import datetime
from pathlib import Path

import librosa
import numpy as np
import parselmouth
import pytest
import soundfile as sf
from openpyxl import load_workbook
from parselmouth.praat import call
from sklearn.linear_model import RidgeCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from core.__main__ import main as cli_main
from core.demo import TRUTH_FILE, generate_cohort
from core.demo.plan import plan_cohort
from core.demo.report import voice_report
from core.demo.sheet import FIXED_TIME
from core.demo.sheet_rows import AMOUNT_FORMATS, SHEET_COLUMNS
from core.demo.voice import VoiceParams, quality_for, synthesize
from core.errors import CohortError, ConfigError

FOLDER = re.compile(r"^(\d{8})(well|poor)-(\d{4})$")
EXPECTED_COLUMNS = [
    "type",
    "Date",
    "院區",
    "姓名",
    "ID",
    "病歷號",
    "Sex",
    "Age",
    "總次數",
    "次數",
    "側性",
    "Cause",
    "Injection Tech",
    "Sub/Tran",
    "Amount R",
    "Inj point R",
    "Amount L",
    "Inj point L",
]


def _folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir())


def _truth(root: Path) -> dict:
    return json.loads((root / TRUTH_FILE).read_text(encoding="utf-8"))


def _all_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def pre_a(demo_cohort_dir: Path) -> list[dict]:
    """Every pre-op /a/ file at 16 kHz, trimmed like the pipeline, with its hidden truth."""
    truth = _truth(demo_cohort_dir)
    items = []
    for folder in _folders(demo_cohort_dir):
        pid = FOLDER.match(folder.name).group(1)
        path = folder / "pre" / f"{pid}S1.wav"
        y, _ = librosa.load(path, sr=16_000)
        voiced, _ = librosa.effects.trim(y - y.mean(), top_db=40, frame_length=320, hop_length=80)
        info = truth["folders"][folder.name]
        items.append(
            {
                "path": path,
                "y": y,
                "voiced": voiced,
                "severity": info["recordings"][f"pre/{pid}S1.wav"]["severity"],
                "outcome": info["outcome"],
                "sex": info["sex"],
            }
        )
    return items


def test_layout_has_eight_wavs_with_reports_per_patient(demo_cohort_dir: Path) -> None:
    folders = _folders(demo_cohort_dir)
    assert len(folders) == 43
    assert sorted(p.name for p in demo_cohort_dir.iterdir() if p.is_file()) == sorted(
        ["metadata.xlsx", "metadata.csv", TRUTH_FILE]
    )
    for folder in folders:
        match = FOLDER.match(folder.name)
        assert match, folder.name
        pid, year = match.group(1), int(match.group(3))
        assert 2019 <= year <= 2024
        assert sorted(p.name for p in folder.iterdir()) == ["post", "pre"]
        for phase, letter in (("pre", "S"), ("post", "A")):
            expected = sorted(f"{pid}{letter}{v}.{ext}" for v in range(1, 5) for ext in ("wav", "txt"))
            assert sorted(p.name for p in (folder / phase).iterdir()) == expected
    assert len(list(demo_cohort_dir.rglob("*.wav"))) == 43 * 8
    assert len(list(demo_cohort_dir.rglob("*.txt"))) == 43 * 8


def test_outcome_split_is_17_well_26_poor_and_matches_truth(demo_cohort_dir: Path) -> None:
    truth = _truth(demo_cohort_dir)
    labels = {f.name: FOLDER.match(f.name).group(2) for f in _folders(demo_cohort_dir)}
    assert sum(v == "well" for v in labels.values()) == 17
    assert sum(v == "poor" for v in labels.values()) == 26
    assert {k: ("poor" if v["outcome"] else "well") for k, v in truth["folders"].items()} == labels


def test_sample_rates_are_mixed_and_fixed_per_patient(demo_cohort_dir: Path) -> None:
    rates = set()
    for folder in _folders(demo_cohort_dir):
        patient_rates = {sf.info(p).samplerate for p in folder.rglob("*.wav")}
        assert len(patient_rates) == 1
        rates |= patient_rates
    assert rates == {16_000, 44_100, 48_000}
    info = sf.info(next(demo_cohort_dir.rglob("*.wav")))
    assert (info.subtype, info.channels) == ("PCM_16", 1)


def test_durations_follow_the_study_with_a_few_short_pre_files(demo_cohort_dir: Path) -> None:
    truth = _truth(demo_cohort_dir)
    durations: dict[tuple[str, str], list[float]] = {}
    short = []
    for folder in _folders(demo_cohort_dir):
        cause = truth["folders"][folder.name]["cause"]
        for wav in folder.rglob("*.wav"):
            seconds = sf.info(wav).duration
            durations.setdefault((cause, wav.parent.name), []).append(seconds)
            if seconds < 0.3:
                short.append(wav)
    palsy_pre = np.array(durations[("palsy", "pre")])
    assert palsy_pre.max() <= 14.653 and palsy_pre.min() >= 0.2
    assert 3.3 < palsy_pre.mean() < 5.5
    palsy_post = np.array(durations[("palsy", "post")])
    assert palsy_post.min() >= 0.702 and palsy_post.max() <= 10.75
    assert 5.0 < palsy_post.mean() < 7.4
    atrophy = np.array(durations[("atrophy", "pre")] + durations[("atrophy", "post")])
    assert atrophy.min() >= 3.262 and atrophy.max() <= 10.256
    assert 7.8 < atrophy.mean() < 9.8
    assert len(durations[("atrophy", "pre")]) == 6 * 4
    assert 1 <= len(short) <= 3
    assert all(p.parent.name == "pre" for p in short)
    assert any(p.stem.endswith("S1") for p in short)
    for wav in short:
        y, _ = librosa.load(wav, sr=16_000)
        voiced, _ = librosa.effects.trim(y, top_db=40, frame_length=320, hop_length=80)
        assert 0.18 <= voiced.size / 16_000 < 0.3


def test_praat_reports_are_real_voice_reports_that_track_severity(demo_cohort_dir: Path) -> None:
    truth = _truth(demo_cohort_dir)
    jitter, severity = [], []
    for folder in _folders(demo_cohort_dir):
        for txt in folder.rglob("*.txt"):
            text = txt.read_text(encoding="utf-8")
            assert text.startswith(f"-- Voice report for {int(txt.stem[-1])}. Sound {txt.stem} --\nDate: ")
            for measure in (
                "Jitter (local):",
                "Shimmer (local):",
                "Mean harmonics-to-noise ratio:",
                "Median pitch:",
            ):
                assert measure in text
            value = re.search(r"Jitter \(local\): ([0-9.]+)%", text)
            if value:
                jitter.append(float(value.group(1)))
                severity.append(
                    truth["folders"][folder.name]["recordings"][f"{txt.parent.name}/{txt.stem}.wav"][
                        "severity"
                    ]
                )
    assert len(jitter) >= 0.95 * 43 * 8
    rho = np.corrcoef(np.argsort(np.argsort(jitter)), np.argsort(np.argsort(severity)))[0, 1]
    assert rho > 0.7


def test_voice_report_on_silence_reads_undefined() -> None:
    text = voice_report(
        np.zeros(8000, dtype=np.int16),
        sample_rate=16_000,
        name="silent",
        selection=(0.1, 0.4),
        when=datetime(2022, 4, 15, 15, 40, 12),
    )
    assert "Jitter (local): --undefined--" in text
    assert "Date: Fri Apr 15 15:40:12 2022" in text


def _read_sheets(root: Path) -> tuple[list[str], list[list], list[list[str]]]:
    sheet = load_workbook(root / "metadata.xlsx").active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    with (root / "metadata.csv").open(encoding="utf-8-sig", newline="") as handle:
        csv_rows = list(csv.reader(handle))
    return values[0], values[1:], csv_rows


def test_metadata_sheets_have_the_study_columns_and_fake_people(demo_cohort_dir: Path) -> None:
    header, rows, csv_rows = _read_sheets(demo_cohort_dir)
    assert header == EXPECTED_COLUMNS == list(SHEET_COLUMNS)
    assert csv_rows[0] == EXPECTED_COLUMNS and len(rows) == len(csv_rows) - 1 == 43
    col = {name: i for i, name in enumerate(header)}
    years = {
        FOLDER.match(f.name).group(1): int(FOLDER.match(f.name).group(3)) for f in _folders(demo_cohort_dir)
    }
    assert {str(r[col["ID"]]) for r in rows} == set(years)
    for row, text in zip(rows, csv_rows[1:], strict=True):
        assert [
            ("" if v is None else v.date().isoformat() if isinstance(v, datetime) else str(v)) for v in row
        ] == text
        assert row[col["Date"]].year == years[str(row[col["ID"]])]
        assert str(row[col["病歷號"]]) != str(row[col["ID"]])
        assert re.fullmatch(r"[\u4e00-\u9fff]{3}", row[col["姓名"]])
        assert row[col["Sex"]] in ("F", "M") and 25 <= row[col["Age"]] <= 85
        assert 1 <= row[col["次數"]] <= row[col["總次數"]] <= 3
        right = row[col["側性"]] in ("R", "right")
        injected, empty = ("R", "L") if right else ("L", "R")
        assert row[col[f"Amount {injected}"]] is not None and row[col[f"Inj point {injected}"]] in (1, 2, 3)
        assert row[col[f"Amount {empty}"]] is None and row[col[f"Inj point {empty}"]] is None
    column = {name: [r[i] for r in csv_rows[1:]] for i, name in enumerate(header)}
    assert set(column["側性"]) == {"L", "R", "left", "right"}
    assert {"VP", "palsy"} <= set(column["Cause"]) and set(column["Cause"]) & {"atrophy", "atro"}
    assert set(column["Injection Tech"]) == {"CTm", "CT"}
    assert set(column["Sub/Tran"]) == {"tran", "Tran", "Sub"}
    assert set(AMOUNT_FORMATS) <= set(column["Amount R"]) | set(column["Amount L"])


def test_oracle_auroc_is_study_like_and_sex_predicts_nothing(demo_cohort_dir: Path) -> None:
    truth = _truth(demo_cohort_dir)
    folders = truth["folders"].values()
    outcome = [f["outcome"] for f in folders]
    oracle = roc_auc_score(outcome, [f["severity_pre"] for f in folders])
    assert 0.80 <= oracle <= 0.90
    assert oracle == pytest.approx(truth["oracle_patient_auroc"], abs=1e-6)
    assert (truth["generator"], truth["seed"], truth["patients"]) == ("core.demo", 0, 43)
    assert abs(roc_auc_score(outcome, [f["sex"] == "F" for f in folders]) - 0.5) < 0.1


def test_hnr_is_lower_for_the_most_severe_third(pre_a: list[dict]) -> None:
    hnr = np.array(
        [
            call(
                parselmouth.Sound(item["voiced"][:24_000].astype(np.float64), 16_000).to_harmonicity_cc(),
                "Get mean",
                0,
                0,
            )
            for item in pre_a
        ]
    )
    order = np.argsort([item["severity"] for item in pre_a])
    third = len(order) // 3
    assert hnr[order[:third]].mean() - hnr[order[-third:]].mean() > 6.0


def test_female_voices_have_higher_f0(pre_a: list[dict]) -> None:
    f0 = np.array(
        [
            call(
                parselmouth.Sound(item["y"].astype(np.float64), 16_000).to_pitch_ac(),
                "Get quantile",
                0,
                0,
                0.5,
                "Hertz",
            )
            for item in pre_a
        ]
    )
    female = np.array([item["sex"] == "F" for item in pre_a])
    assert np.median(f0[female]) > 170 and np.median(f0[~female]) < 150
    assert np.median(f0[female]) - np.median(f0[~female]) > 50


def test_severity_is_visible_in_50ms_spectra_of_the_first_300ms(pre_a: list[dict]) -> None:
    """The model's view (n_fft 128 STFT of ten 50 ms windows in the first 0.3 s) carries severity."""
    features = []
    for item in pre_a:
        span = np.pad(item["voiced"][:4800], (0, max(0, 4800 - item["voiced"].size)))
        windows = np.stack([span[k * 444 : k * 444 + 800] for k in range(10)])
        power = np.abs(librosa.stft(windows, n_fft=128, hop_length=16, center=False)) ** 2
        db = librosa.power_to_db(power, ref=np.max, top_db=80)
        features.append(np.concatenate([db.mean(axis=(0, 2)), db.std(axis=2).mean(axis=0)]))
    severity = np.array([item["severity"] for item in pre_a])
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 4, 20)))
    predicted = cross_val_predict(model, np.array(features), severity, cv=5)
    assert np.corrcoef(predicted, severity)[0, 1] > 0.5


def test_quality_worsens_monotonically_with_severity() -> None:
    mild, severe = quality_for(0.1), quality_for(0.9)
    assert severe.jitter > mild.jitter and severe.shimmer > mild.shimmer
    assert severe.hnr_db < mild.hnr_db and severe.tilt_hz < mild.tilt_hz
    assert severe.break_rate_hz > 0 == mild.break_rate_hz


def test_synthesize_writes_exact_length_and_peak() -> None:
    params = VoiceParams(
        sample_rate=44_100,
        vowel=3,
        female=False,
        f0_hz=120.0,
        tract_scale=1.0,
        severity=0.4,
        duration_s=1.25,
        lead_s=0.1,
        trail_s=0.2,
        peak=0.5,
    )
    y = synthesize(params, rng=np.random.default_rng(1))
    assert y.dtype == np.int16 and y.size == round(1.25 * 44_100)
    assert np.abs(y).max() == round(0.5 * 32767)
    # Leading silence is room noise far below the vowel.
    assert np.abs(y[: int(0.09 * 44_100)]).max() < 0.02 * np.abs(y).max()


def test_invalid_settings_are_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="patients=2"):
        plan_cohort(patients=2, seed=0)
    with pytest.raises(ConfigError, match="seed=-1"):
        generate_cohort(tmp_path / "x", patients=4, seed=-1)
    assert not (tmp_path / "x").exists()


def test_refuses_a_folder_that_is_not_a_demo_cohort(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    target = tmp_path / "study"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(CohortError, match="not empty"):
        generate_cohort(target, patients=4, seed=0)
    assert cli_main(["demo", "--out", str(target), "--patients", "4"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["study"]
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


@pytest.mark.slow
def test_same_seed_gives_identical_bytes_and_another_seed_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    calls: list[tuple[int, int]] = []
    first = generate_cohort(
        tmp_path / "a", patients=4, seed=1, workers=2, progress=lambda d, t: calls.append((d, t))
    )
    generate_cohort(tmp_path / "b", patients=4, seed=1, workers=1)
    a, b = _all_bytes(tmp_path / "a"), _all_bytes(tmp_path / "b")
    assert len(a) == 4 * 16 + 3 and a == b
    assert calls[0] == (0, 4) and calls[-1] == (4, 4) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert (first.patients, first.well + first.poor, first.recordings) == (4, 4, 32)
    # openpyxl's save time is replaced, so bytes cannot depend on the clock.
    with zipfile.ZipFile(io.BytesIO(a["metadata.xlsx"])) as xlsx:
        assert {i.date_time for i in xlsx.infolist()} == {FIXED_TIME.timetuple()[:6]}
        core_xml = xlsx.read("docProps/core.xml").decode()
    assert core_xml.count(FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")) == 2

    # Overwriting a previous demo is allowed; a new seed changes every recording.
    argv = [
        "demo",
        "--out",
        str(tmp_path / "a"),
        "--patients",
        "4",
        "--seed",
        "2",
        "--workers",
        "1",
        "--json",
    ]
    assert cli_main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(summary) == {"patients", "well", "poor", "recordings", "oracle_patient_auroc", "seconds"}
    assert (summary["patients"], summary["recordings"]) == (4, 32)
    c = _all_bytes(tmp_path / "a")
    assert _truth(tmp_path / "a")["seed"] == 2
    assert not set(v for k, v in c.items() if k.endswith(".wav")) & set(
        v for k, v in b.items() if k.endswith(".wav")
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
