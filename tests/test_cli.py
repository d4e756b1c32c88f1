"""The command line's shared options: ``train --config FILE``, parents, the backbone registry in --help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import jobs
from core.__main__ import build_parser, main
from core.commands.train import build_config
from core.config import ExperimentConfig, preset, with_overrides
from core.errors import ConfigError
from core.models.backbones import BACKBONES


def _config_file(tmp_path: Path, config: ExperimentConfig) -> Path:
    path = tmp_path / "settings.json"
    path.write_text(config.to_json(), encoding="utf-8")
    return path


def test_a_config_file_is_the_base_and_explicit_flags_override_it(tmp_path: Path) -> None:
    saved = with_overrides(preset("quick"), {"split.n_folds": 3, "train.finetune_epochs": 7})
    path = _config_file(tmp_path, saved)
    parser = build_parser()
    plain = build_config(parser.parse_args(["train", "--cohort", "c", "--name", "n", "--config", str(path)]))
    assert plain == saved and plain.split.n_folds == 3 and plain.train.finetune_epochs == 7
    flagged = build_config(
        parser.parse_args(
            ["train", "--config", str(path), "--folds", "4", "--backbone", "MobileNetV3Small"]
            + ["--set", "train.patience=3", "--augment"]
        )
    )
    assert flagged.split.n_folds == 4 and flagged.train.patience == 3 and flagged.train.augment
    assert flagged.model.backbone == "mobilenetv3small"
    assert flagged.train.finetune_epochs == 7 and flagged.preset == "quick"  # the rest is the file's
    assert build_config(parser.parse_args(["train"])) == preset("seed")  # no file, no preset: seed


def test_a_bad_config_file_is_refused_naming_the_file(tmp_path: Path, capsys) -> None:
    parser = build_parser()
    path = _config_file(tmp_path, preset("quick"))
    with pytest.raises(ConfigError, match="--config or --preset, not both"):
        build_config(parser.parse_args(["train", "--config", str(path), "--preset", "seed"]))
    data = json.loads(path.read_text())
    data["train"]["learning_speed"] = 3
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=rf"config file {path}: .*learning_speed"):
        build_config(parser.parse_args(["train", "--config", str(path)]))
    path.write_text("{not json")
    code = main(["train", "--cohort", str(tmp_path), "--name", "x", "--config", str(path)])
    assert code == 2 and f"config file {path}" in capsys.readouterr().err
    data["train"].pop("learning_speed")
    data["split"]["n_folds"] = 1
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=f"config file {path}"):
        build_config(parser.parse_args(["train", "--config", str(path)]))


def test_a_launch_with_a_config_hands_the_cli_that_config_as_a_file(tmp_path: Path) -> None:
    config = with_overrides(preset("voice"), {"split.n_folds": 2, "model.inputs": "mel"})
    job = jobs.launch(
        cohort=tmp_path / "missing",
        name="from the page",
        runs_dir=tmp_path / "runs",
        config=config.to_dict(),
        options=["--backend", "local"],
    )
    state = jobs.wait(job, timeout=120)
    assert "missing" in state["log_tail"] and "config file" not in state["log_tail"]  # read, then no cohort
    assert job.argv[:3] == ["-m", "core", "train"] and "--preset" not in job.argv
    args = build_parser().parse_args(job.argv[2:])
    assert Path(args.config).is_file() and Path(args.config).parent == (tmp_path / "runs").resolve()
    assert build_config(args) == config
    with pytest.raises(jobs.JobError, match="handed to train only"):
        jobs.launch(cohort=tmp_path, name="s", runs_dir=tmp_path, command="sweep", config=config.to_dict())


def test_shared_options_read_the_same_before_and_after_a_nested_action() -> None:
    parser = build_parser()
    for argv in (["runs", "--json", "show", "r1"], ["runs", "show", "r1", "--json"]):
        args = parser.parse_args(argv)
        assert args.json and args.run == "r1" and args.runs_dir is None
    args = parser.parse_args(["runs", "--runs-dir", "/tmp/a", "show", "r1"])
    assert args.runs_dir == "/tmp/a" and not args.json
    for command in (
        ["explain", "--run", "r"],
        ["report", "--run", "r", "--out", "o"],
        ["baseline", "--run", "r"],
    ):
        args = parser.parse_args([*command, "--runs-dir", "d", "--json"])
        assert args.runs_dir == "d" and args.json and args.run == "r"


def test_backbone_help_lists_the_registry() -> None:
    parser = build_parser()
    actions = {a.dest: a for a in parser._subparsers._group_actions[0].choices["train"]._actions}
    for name in BACKBONES:
        assert name in actions["backbone"].help


def test_train_takes_vowels_and_spectrogram_augmentation_flags() -> None:
    parser = build_parser()
    config = build_config(
        parser.parse_args(["train", "--preset", "quick", "--vowels", "a,I, u,E", "--spec-augment", "mask"])
    )
    assert config.preprocess.selection.vowels == ("A", "I", "U", "E") and config.train.spec_augment == "mask"
    listed = build_config(parser.parse_args(["train", "--set", 'preprocess.selection.vowels=["A","E"]']))
    assert listed.preprocess.selection.vowels == ("A", "E")
    plain = build_config(parser.parse_args(["train", "--set", "preprocess.selection.vowels=A, I,U"]))
    assert plain.preprocess.selection.vowels == ("A", "I", "U")  # text for a list setting: split at commas
    with pytest.raises(ConfigError, match="selection.vowels"):
        build_config(parser.parse_args(["train", "--vowels", "A,O"]))
    assert build_config(parser.parse_args(["train", "--preset", "quick"])).train.spec_augment == "off"
