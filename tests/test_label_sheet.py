"""Label-sheet layout and free-named class folders on real WAV files (and the real pd_vowels set)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from core.__main__ import main as cli_main
from core.cohort import CohortSource, LabelSheet, SheetColumns, load_cohort
from core.cohort.sheet_columns import detect_columns, infer_positive
from core.errors import CohortError

RATE = 16_000
REPO = Path(__file__).resolve().parents[1]

# Speaker ids that must never reach a table: a name with umlauts, Chinese characters, a uuid.
UUID = "7ab034c9-72e4-438b-a9b3-ad7fda1596c5"
SPEAKERS = ["Jürgen Müller", "李小明", UUID]
COLUMNS = {"path_column": "Datei", "patient_column": "Sprecher", "label_column": "Diagnose"}


def tone(seconds: float, *, f0: float, seed: int) -> np.ndarray:
    """Six harmonics of ``f0`` plus a little noise [shape=(round(seconds * RATE),), float32]."""
    t = np.arange(int(round(seconds * RATE))) / RATE
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 7))
    y = y + 0.01 * np.random.default_rng(seed).standard_normal(t.size)
    return (0.4 * y / np.max(np.abs(y))).astype(np.float32)


def write_wav(path: Path, seconds: float, *, f0: float = 130.0, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds, f0=f0, seed=seed), RATE, subtype="PCM_16")
    return path


def odd_cohort(root: Path, suffix: str = ".csv") -> tuple[Path, pd.DataFrame]:
    """Four real WAVs with unicode, space and uuid names, and a sheet naming them.

    Returns the sheet path and the rows written (columns: Datei, Sprecher, Diagnose, age, sex).
    """
    files = [
        ("gesund/Jürgen Müller – Vokal a.wav", SPEAKERS[0], "gesund", 1.10, "61", "M"),
        ("gesund/Jürgen Müller – Vokal a (2).wav", SPEAKERS[0], "gesund", 1.30, "61", "M"),
        ("krank/李小明 的 錄音.wav", SPEAKERS[1], "krank", 1.50, "47", "女"),
        (f"krank/{UUID}.WAV", SPEAKERS[2], "krank", 1.70, "", "F"),
    ]
    for seed, (rel, *_rest) in enumerate(files):
        write_wav(root / rel, files[seed][3], f0=120 + 10 * seed, seed=seed)
    rows = pd.DataFrame(
        [
            {"Datei": rel, "Sprecher": who, "Diagnose": label, "age": age, "sex": sex}
            for rel, who, label, _, age, sex in files
        ]
    )
    sheet = root / f"Etiketten {suffix[1:]}{suffix}"
    if suffix == ".xlsx":
        rows.to_excel(sheet, index=False)
    else:
        rows.to_csv(sheet, index=False)
    return sheet, rows


def all_text(cohort) -> str:
    return "\n".join(frame.to_csv() for frame in (cohort.recordings, cohort.patients, cohort.problems))


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_odd_names_load_from_csv_and_xlsx_with_pseudonyms(tmp_path: Path, suffix: str) -> None:
    sheet, rows = odd_cohort(tmp_path / "Stimmen ü", suffix)
    source = CohortSource(
        tmp_path / "Stimmen ü",
        labels=sheet,
        path_column="Datei",
        patient_column="Sprecher",
        label_column="Diagnose",
        positive="krank",
    )
    cohort = source.load()
    assert cohort.layout == "label_sheet" and cohort.source == source
    assert cohort.problems["severity"].tolist() == ["warning"]  # no vowel column: /a/ assumed, said once
    assert cohort.problems["reason"].iloc[0].startswith("no vowel column")
    assert cohort.n_patients == 3 and len(cohort.recordings) == 4
    assert cohort.class_names == ("gesund", "krank")
    rec = cohort.recordings.set_index("recording_id")
    # pseudonyms in natural order of the raw ids: the uuid (digit first), the German name, the Chinese name
    assert list(rec.index) == ["P01-pre-A", "P02-pre-A", "P02-pre-A-t2", "P03-pre-A"]
    assert rec["label"].tolist() == [1, 0, 0, 1]
    np.testing.assert_allclose(rec["duration_s"], [1.70, 1.10, 1.30, 1.50], atol=1e-4)
    assert cohort.audio_path("P02-pre-A-t2") == (tmp_path / "Stimmen ü" / rows["Datei"][1]).resolve()
    assert rec.loc["P02-pre-A", "source"] == "gesund/P02 – Vokal a.wav"
    assert rec.loc["P01-pre-A", "source"] == "krank/P01.WAV"
    patients = cohort.patients.set_index("patient_id")
    assert patients["outcome"].tolist() == [1, 0, 1]
    assert patients["sex"].tolist() == ["F", "M", "F"] and patients["age"].iloc[1:].tolist() == [61.0, 47.0]
    text = all_text(cohort)
    for raw in [*SPEAKERS, "Jürgen", "李小明", UUID.upper()]:
        assert raw not in text
    assert cohort.redact(f"speaker {SPEAKERS[1]}") == "speaker P03"


def test_detected_columns_and_inferred_positive_give_the_same_cohort(tmp_path: Path) -> None:
    root = tmp_path / "c"
    sheet, rows = odd_cohort(root)
    rows.rename(columns={"Datei": "file name", "Sprecher": "Speaker", "Diagnose": "Diagnosis"}).assign(
        Diagnosis=lambda d: d["Diagnosis"].map({"gesund": "control", "krank": "case"})
    ).to_csv(sheet, index=False)
    cohort = CohortSource(root, labels=sheet).load()
    assert cohort.class_names == ("control", "case")
    assert cohort.recordings["label"].tolist() == [1, 0, 0, 1]
    assert (cohort.problems["severity"] == "error").sum() == 0


def test_semicolon_separated_sheet_reads(tmp_path: Path) -> None:
    root = tmp_path / "c"
    sheet, rows = odd_cohort(root)
    rows.to_csv(sheet, sep=";", index=False)
    cohort = CohortSource(root, labels=sheet, **COLUMNS, positive="krank").load()
    assert len(cohort.recordings) == 4 and (cohort.problems["severity"] == "error").sum() == 0


def test_missing_and_unlisted_files_are_reported_not_ignored(tmp_path: Path) -> None:
    root = tmp_path / "c"
    sheet, rows = odd_cohort(root)
    extra = pd.DataFrame(
        [
            {"Datei": "krank/gone.wav", "Sprecher": "X9", "Diagnose": "krank"},
            {"Datei": "", "Sprecher": "X10", "Diagnose": "gesund"},
            {"Datei": rows["Datei"][0], "Sprecher": SPEAKERS[0], "Diagnose": "gesund"},
        ]
    )
    pd.concat([rows, extra]).to_csv(sheet, index=False)
    write_wav(root / "gesund" / "not in the sheet 123456789.wav", 1.2)
    cohort = CohortSource(root, labels=sheet, **COLUMNS, positive="krank").load()
    errors = cohort.problems[cohort.problems["severity"] == "error"]
    assert errors[["source", "reason"]].values.tolist() == [
        [
            "Etiketten csv.csv row 6",
            "listed in the label sheet but no such file (looked beside the sheet and under "
            "the cohort folder); skipped",
        ],
        ["Etiketten csv.csv row 7", "row has no file path; skipped"],
        ["Etiketten csv.csv row 8", "the same file is already listed in row 2; this row is ignored"],
        ["gesund/not in the sheet [number].wav", "not listed in the label sheet Etiketten csv.csv; skipped"],
    ]
    assert cohort.n_patients == 3 and len(cohort.recordings) == 4


def test_ambiguous_positive_value_asks_for_positive(tmp_path: Path) -> None:
    root = tmp_path / "c"
    sheet, rows = odd_cohort(root)
    rows.assign(Diagnose=rows["Diagnose"].map({"gesund": "A", "krank": "B"})).to_csv(sheet, index=False)
    with pytest.raises(CohortError, match=r"values 'A', 'B'; give it with --positive"):
        CohortSource(root, labels=sheet, **COLUMNS).load()
    with pytest.raises(
        CohortError, match=r"positive value 'C' is not a value of column 'Diagnose' \(values: 'A', 'B'\)"
    ):
        CohortSource(root, labels=sheet, **COLUMNS, positive="C").load()
    cohort = CohortSource(root, labels=sheet, **COLUMNS, positive="b").load()  # case-insensitive
    assert cohort.class_names == ("A", "B") and cohort.recordings["label"].tolist() == [1, 0, 0, 1]


@pytest.mark.parametrize(
    ("values", "positive"),
    [
        (["0", "1"], "1"),
        (["no", "yes"], "yes"),
        (["False", "True"], "True"),
        (["poor", "well"], "poor"),
        (["HC", "PD"], "PD"),
        (["control", "ALS"], "ALS"),
        (["negative", "positive"], "positive"),
    ],
)
def test_positive_is_inferred_only_when_unambiguous(values: list[str], positive: str) -> None:
    assert infer_positive(values) == positive


@pytest.mark.parametrize("values", [["A", "B"], ["0", "1", "2"], ["PD"], ["healthy", "normal"], []])
def test_ambiguous_values_raise(values: list[str]) -> None:
    with pytest.raises(CohortError, match="--positive"):
        infer_positive(values, column="group")


def test_column_detection_and_its_errors() -> None:
    columns = detect_columns(["sound.files", "Speaker ID", "Diagnosis", "Vowel", "Age"])
    assert (columns.path, columns.patient, columns.label, columns.vowel, columns.age) == (
        "sound.files",
        "Speaker ID",
        "Diagnosis",
        "Vowel",
        "Age",
    )
    assert detect_columns(["wav", "participant_id", "id", "group"]).patient == "participant_id"
    assert detect_columns(["wav", "group"], SheetColumns(label="GROUP")).label == "group"
    with pytest.raises(
        CohortError, match=r"column 'grp' \(label\) is not in the label sheet; its columns are 'wav'"
    ):
        detect_columns(["wav", "group"], SheetColumns(label="grp"))
    with pytest.raises(CohortError, match="no label column found.*--label-column"):
        detect_columns(["wav", "speaker"])
    with pytest.raises(CohortError, match="no path column found.*--path-column"):
        detect_columns(["speaker", "label"])


def test_vowel_phase_take_columns_and_bad_cells(tmp_path: Path) -> None:
    root = tmp_path / "c"
    rows = []
    for i, (vowel, phase, take) in enumerate(
        [
            ("a", "pre", "1"),
            ("/i/", "S", "1"),
            ("3", "post", "2"),
            ("x", "pre", "1"),
            ("E", "later", "1"),
            ("A", "pre", "zwei"),
        ]
    ):
        write_wav(root / f"s1 {i}.wav", 1.0, seed=i)
        rows.append(
            {
                "path": f"s1 {i}.wav",
                "speaker": "s1",
                "label": "1",
                "vowel": vowel,
                "phase": phase,
                "take": take,
            }
        )
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    cohort = CohortSource(root, labels=root / "labels.csv").load()
    assert cohort.recordings["recording_id"].tolist() == ["P01-pre-A", "P01-pre-I", "P01-post-U-t2"]
    errors = cohort.problems[cohort.problems["severity"] == "error"]["reason"].tolist()
    assert errors == [
        "labels.csv row 5: vowel 'x' not understood; expected A, I, U, E or 1..4; skipped",
        "labels.csv row 6: phase 'later' not understood; expected pre/post (or S/A); skipped",
        "labels.csv row 7: take 'zwei' not understood; expected a whole number from 1; skipped",
    ]


def test_conflicting_labels_of_one_speaker_leave_the_outcome_unknown(tmp_path: Path) -> None:
    root = tmp_path / "c"
    sheet, rows = odd_cohort(root)
    rows.loc[1, "Diagnose"] = "krank"
    rows.to_csv(sheet, index=False)
    cohort = CohortSource(root, labels=sheet, **COLUMNS, positive="krank").load()
    patients = cohort.patients.set_index("patient_id")
    assert pd.isna(patients.loc["P02", "outcome"])
    conflict = cohort.problems[
        cohort.problems["reason"].str.startswith("conflicting outcomes for patient P02")
    ]
    assert conflict["severity"].tolist() == ["error"] and "sheet rows" in conflict["reason"].iloc[0]


def test_without_a_patient_column_each_file_is_a_speaker(tmp_path: Path) -> None:
    root = tmp_path / "c"
    sheet, rows = odd_cohort(root)
    rows.drop(columns="Sprecher").to_csv(sheet, index=False)
    cohort = CohortSource(
        root, labels=sheet, path_column="Datei", label_column="Diagnose", positive="krank"
    ).load()
    assert cohort.n_patients == 4
    assert cohort.problems["reason"].str.startswith("no patient/speaker column").sum() == 1


def test_free_named_class_folders_one_speaker_per_file_and_positive_folder(tmp_path: Path) -> None:
    root = tmp_path / "db"
    for i, rel in enumerate(["Gesunde/Aufnahme 1.wav", "Gesunde/Ω ü 2.wav", "Dysphonie/x-y_z 3.wav"]):
        write_wav(root / rel, 1.0 + 0.1 * i, seed=i)
    cohort = CohortSource(root, positive="gesunde").load()
    assert cohort.layout == "class_folders" and cohort.n_patients == 3
    assert cohort.class_names == ("Dysphonie", "Gesunde")
    by_source = dict(zip(cohort.recordings["source"], cohort.recordings["label"], strict=True))
    assert by_source == {"Dysphonie/P02.wav": 0, "Gesunde/P01.wav": 1, "Gesunde/P03.wav": 1}
    assert cohort.problems[["source", "severity"]].values.tolist() == [["./", "warning"]]
    assert load_cohort(root).class_names == (
        "healthy",
        "Dysphonie + Gesunde",
    )  # default map: no healthy folder
    with pytest.raises(
        CohortError,
        match="positive='Kranke' is not a class folder; the class folders are 'Dysphonie', 'Gesunde'",
    ):
        CohortSource(root, positive="Kranke").load()


# --------------------------------------------------------------------------- the real pd_vowels set


def _validate_json(capsys, argv: list[str]) -> dict:
    assert cli_main(["validate", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_done_when_pd_vowels_validates_with_its_labels(pd_root: Path, capsys) -> None:
    flags = [
        "--cohort",
        str(pd_root),
        "--labels",
        str(pd_root / "labels.csv"),
        "--path-column",
        "path",
        "--patient-column",
        "participant_id",
        "--label-column",
        "group",
        "--positive",
        "PD",
    ]
    explicit = _validate_json(capsys, flags)
    assert (explicit["patients"], explicit["recordings"], explicit["errors"]) == (81, 81, 0)
    assert explicit["layout"] == "label_sheet" and explicit["class_names"] == ["HC", "PD"]
    assert explicit["patients_per_class"] == {"HC": 41, "PD": 40}
    detected = _validate_json(capsys, ["--cohort", str(pd_root), "--labels", str(pd_root / "labels.csv")])
    assert {k: detected[k] for k in ("patients", "errors", "patients_per_class")} == {
        "patients": 81,
        "errors": 0,
        "patients_per_class": {"HC": 41, "PD": 40},
    }
    folders = _validate_json(capsys, ["--cohort", str(pd_root), "--positive", "PD"])
    assert (folders["layout"], folders["patients"], folders["errors"]) == ("class_folders", 81, 0)
    assert folders["patients_per_class"] == {"HC": 41, "PD": 40}


def test_pd_vowels_labels_match_the_sheet_and_ids_stay_private(pd_root: Path) -> None:
    sheet = pd.read_csv(pd_root / "labels.csv", dtype=str)
    cohort = CohortSource(pd_root, labels=pd_root / "labels.csv", positive="PD").load()
    truth = dict(zip(sheet["path"], (sheet["group"] == "PD").astype(int), strict=True))
    loaded = {
        cohort.audio_path(r).resolve().relative_to(pd_root.resolve()).as_posix(): int(lab)
        for r, lab in zip(cohort.recordings["recording_id"], cohort.recordings["label"], strict=True)
    }
    assert loaded == truth
    np.testing.assert_allclose(
        cohort.recordings.set_index("source")["duration_s"].sort_values().to_numpy(),
        np.sort(sheet["duration_s"].astype(float).to_numpy()),
        atol=1e-3,
    )
    text = all_text(cohort)
    assert not [pid for pid in sheet["participant_id"] if f"_{pid}_" in text or f",{pid}," in text]
    assert set(cohort.recordings["sample_rate"]) == {8000}
    sheet_loaded = LabelSheet(pd_root / "labels.csv", positive="PD").preview(pd_root)
    assert sheet_loaded[["value", "label", "rows", "patients", "files_found"]].values.tolist() == [
        ["HC", 0, 41, 41, 41],
        ["PD", 1, 40, 40, 40],
    ]
