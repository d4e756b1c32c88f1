"""Sweeps: the grid, the sweep folder tying normal runs, the table (mean, 95 % interval, DeLong), the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import ConfigError
from core.sweep import (
    SweepSpec,
    configurations,
    list_sweeps,
    parse_setting,
    read_sweep,
    sweep_runs,
    sweep_table,
)

REPO = Path(__file__).resolve().parents[1]


def test_grid_is_the_product_of_its_axes_on_one_split() -> None:
    spec = SweepSpec(
        presets=("quick", "seed"),
        backbones=("small_cnn",),
        inputs=("dual", "mel"),
        settings={"lr3": {"train.finetune_lr": 1e-3}, "lr4": {"train.finetune_lr": 1e-4}},
        repeats=3,
        common={"split.n_folds": 4},
    )
    grid = configurations(spec)
    assert len(grid) == 2 * 1 * 2 * 2
    labels = [label for label, _ in grid]
    assert labels[0] == "quick-small_cnn-dual-lr3" and labels[-1] == "seed-small_cnn-mel-lr4"
    assert {c.split.repeats for _, c in grid} == {3} and {c.split.n_folds for _, c in grid} == {4}
    assert {c.train.finetune_lr for _, c in grid} == {1e-3, 1e-4}
    assert len({c.hash() for _, c in grid}) == len(grid)
    assert SweepSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_grid_refuses_settings_that_change_the_folds_and_bad_settings() -> None:
    with pytest.raises(ConfigError, match="same patient folds"):
        configurations(SweepSpec(settings={"a": {"split.n_folds": 3}, "b": {"split.n_folds": 4}}))
    with pytest.raises(ConfigError, match="unknown setting"):
        configurations(SweepSpec(settings={"a": {"train.nope": 1}}))
    with pytest.raises(ConfigError, match="repeats"):
        configurations(SweepSpec(repeats=0))


def test_parse_setting_reads_json_values() -> None:
    assert parse_setting("lr3:train.finetune_lr=1e-3,train.augment=true") == (
        "lr3",
        {"train.finetune_lr": 1e-3, "train.augment": True},
    )
    for bad in ("train.finetune_lr=1", "x:", "x:novalue", "a b:k=1"):
        with pytest.raises(ConfigError):
            parse_setting(bad)


@pytest.mark.slow
def test_sweep_of_two_configurations_by_two_repeats_completes(demo_sweep_root: Path) -> None:
    from core import runs
    from core.baseline.delong import delong_test

    (sweep_dir,) = list_sweeps(demo_sweep_root)
    manifest = read_sweep(sweep_dir)
    assert manifest["status"] == "complete" and manifest["reference"] == "quick-small_cnn-dual"
    entries = list(sweep_runs(sweep_dir))
    assert [e["label"] for e, _ in entries] == ["quick-small_cnn-dual", "quick-small_cnn-mel"]
    tests = []
    for _entry, run_dir in entries:
        assert run_dir is not None and runs.read_manifest(run_dir)["status"] == "complete"
        folds = pd.read_csv(run_dir / "predictions_patients.csv")
        tests.append(folds[folds["part"] == "test"])
    # same patient folds: each repeat puts the same patients in the same test fold in both runs
    a, b = (
        t.sort_values(["repeat", "patient_id"])[["repeat", "fold", "patient_id"]].reset_index(drop=True)
        for t in tests
    )
    assert a.equals(b) and a["repeat"].nunique() == 2

    table = sweep_table(sweep_dir)
    assert list(table["configuration"]) == ["quick-small_cnn-dual", "quick-small_cnn-mel"]
    assert list(table["repeats"]) == [2, 2] and list(table["folds"]) == [4, 4]
    _, mel_dir = entries[1]
    folds = runs.fold_table(mel_dir)
    test = folds[(folds["part"] == "test") & (folds["level"] == "patient")]
    per_repeat = test.groupby("repeat")["auroc"].mean().to_numpy()
    row = table.iloc[1]
    assert row["auroc_mean"] == pytest.approx(per_repeat.mean())
    assert row["auroc_low"] == pytest.approx(np.percentile(per_repeat, 2.5))
    assert row["auroc_high"] == pytest.approx(np.percentile(per_repeat, 97.5))
    assert row["auroc"] == f"{row['auroc_mean']:.3f} ({row['auroc_low']:.3f}-{row['auroc_high']:.3f})"
    assert bool(table.iloc[0]["reference"]) and np.isnan(table.iloc[0]["delong_p"])
    mean_prob = [t.groupby("patient_id").agg(label=("label", "first"), prob=("prob", "mean")) for t in tests]
    expected = delong_test(
        mean_prob[1]["label"].to_numpy(int), mean_prob[1]["prob"].to_numpy(), mean_prob[0]["prob"].to_numpy()
    )
    assert row["delong_diff"] == pytest.approx(expected.difference)
    assert row["delong_p"] == pytest.approx(expected.p_value) and 0.0 <= row["delong_p"] <= 1.0
    flipped = sweep_table(sweep_dir, reference="quick-small_cnn-mel")
    assert flipped.iloc[0]["delong_diff"] == pytest.approx(-expected.difference)

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "sweep",
            "--show",
            sweep_dir.name,
            "--runs-dir",
            str(demo_sweep_root),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    shown = json.loads(out.stdout.strip().splitlines()[-1])
    assert shown["status"] == "complete" and [r["configuration"] for r in shown["table"]] == list(
        table["configuration"]
    )
    assert shown["table"][1]["auroc_mean"] == pytest.approx(row["auroc_mean"])


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_and_trains_only_what_is_missing(demo_sweep_resumed, capsys) -> None:
    """Cancelled in its second configuration after one fold; the resume trains that run's other folds only."""
    from core import runs
    from core.__main__ import main

    root, sweep_dir = demo_sweep_resumed["root"], demo_sweep_resumed["sweep_dir"]
    stopped, resumed = demo_sweep_resumed["stopped"], demo_sweep_resumed["resumed"]
    dual, mel = "quick-small_cnn-dual", "quick-small_cnn-mel"
    assert (
        stopped[dual]["manifest"]["status"] == "complete"
        and len(stopped[dual]["manifest"]["folds_done"]) == 4
    )
    assert stopped[mel]["manifest"]["status"] == "cancelled" and stopped[mel]["manifest"]["folds_done"] == [
        "r0f0"
    ]

    # the resume announced only the unfinished configuration and trained only its missing folds
    assert resumed["configurations"] == [mel]
    assert resumed["folds"] == ["r0f1", "r1f0", "r1f1"]
    manifest = read_sweep(sweep_dir)
    assert manifest["status"] == "complete" and [e["status"] for e in manifest["configurations"]] == [
        "complete",
        "complete",
    ]
    after = {entry["label"]: run_dir for entry, run_dir in sweep_runs(sweep_dir)}
    assert {label: run_dir.name for label, run_dir in after.items()} == {
        label: record["manifest"]["run_id"] for label, record in stopped.items()
    }  # the same two runs, no new one
    assert sorted(p.name for p in root.iterdir() if (p / "manifest.json").is_file()) == sorted(
        record["manifest"]["run_id"] for record in stopped.values()
    )
    # the complete run was not touched: same manifest, same model files
    assert runs.read_manifest(after[dual]) == stopped[dual]["manifest"]
    models = {p.name: p.stat().st_mtime_ns for p in (after[dual] / "models").glob("*.keras")}
    assert models == stopped[dual]["models"]
    # the resumed run kept its finished fold's model and now holds all four folds
    mel_manifest = runs.read_manifest(after[mel])
    assert mel_manifest["status"] == "complete" and sorted(mel_manifest["folds_done"]) == [
        "r0f0",
        "r0f1",
        "r1f0",
        "r1f1",
    ]
    assert (after[mel] / "models" / "r0f0.keras").stat().st_mtime_ns == stopped[mel]["models"]["r0f0.keras"]
    assert len(list((after[mel] / "models").glob("*.keras"))) == 4

    # a complete sweep is not resumed again (the CLI names it)
    assert main(["sweep", "--resume", sweep_dir.name, "--runs-dir", str(root)]) == 2
    assert f"sweep {sweep_dir.name} is already complete" in capsys.readouterr().err
