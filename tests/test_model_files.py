"""Fold model files hashed at save time: a damaged one is named, and explain goes on without it."""

from __future__ import annotations

import json
import shutil

import pytest

from core import runs
from core.errors import RunError
from tests.run_configs import tiny_config


def test_damaged_fold_models_are_named_and_refused_on_load(tmp_path, synthetic_dataset) -> None:
    from core.model_files import file_sha256
    from core.run_lifecycle import execute_run
    from core.splits import make_folds

    dataset = synthetic_dataset(patients=8, per_patient=3)
    config = tiny_config()
    folds = [f.key for f in make_folds(dataset.segments, config.split)]
    run_dir = runs.create_run(
        config.to_dict(),
        name="hashed",
        config_hash=config.hash(),
        data={"fingerprint": "f"},
        folds=folds,
        root=tmp_path,
    )
    execute_run(run_dir, dataset, config)
    records = runs.read_manifest(run_dir)["model_files"]
    for key in folds:
        path = run_dir / "models" / f"{key}.keras"
        assert records[key] == {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
    assert runs.run_summary(run_dir, verify_models=True)["damaged_folds"] == {}

    # one byte changed, size kept: only the full hash sees it
    path = run_dir / "models" / "r0f0.keras"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert runs.run_summary(run_dir)["damaged_folds"] == {}
    assert runs.run_summary(run_dir, verify_models=True)["damaged_folds"] == {
        "r0f0": "model file content changed since it was saved (SHA-256 differs)"
    }
    with pytest.raises(RunError, match=f"run {run_dir.name}: the model of fold r0f0 is damaged"):
        runs.load_fold_model(run_dir, "r0f0")

    # truncated: the cheap size check of listings sees it
    path = run_dir / "models" / "r0f1.keras"
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:1000])
    summary = runs.run_summary(run_dir)
    assert summary["status"] == "complete"
    assert summary["damaged_folds"]["r0f1"] == f"model file has 1000 bytes, {size} were saved"
    listed = runs.list_runs(tmp_path).iloc[0]
    assert set(listed["damaged_folds"]) == {"r0f1"}
    with pytest.raises(RunError, match="fold r0f1 is damaged") as caught:
        runs.load_fold_model(run_dir, 1)
    assert str(tmp_path) not in str(caught.value)


@pytest.mark.slow
def test_runs_show_names_a_truncated_fold_and_explain_goes_on_with_the_others(
    demo_runs_root, tmp_path, capsys
):
    from core.__main__ import main

    source = next(d for d in demo_runs_root.iterdir() if (d / runs.MANIFEST).is_file())
    root = tmp_path / "runs"
    run_dir = shutil.copytree(source, root / source.name)
    shutil.rmtree(run_dir / "explain", ignore_errors=True)  # other tests may have explained the shared run
    model = run_dir / "models" / "r0f1.keras"
    model.write_bytes(model.read_bytes()[:4096])

    assert main(["runs", "show", run_dir.name, "--runs-dir", str(root)]) == 0
    shown = capsys.readouterr().out
    assert "complete (damaged: fold r0f1: model file has 4096 bytes" in shown

    code = main(
        [
            "explain",
            "--run",
            run_dir.name,
            "--runs-dir",
            str(root),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--k",
            "1",
            "--json",
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    out = json.loads(captured.out.strip().splitlines()[-1])
    assert code == 1
    assert [f["fold"] for f in out["folds"]] == ["r0f0", "r0f2"]
    assert [d["fold"] for d in out["damaged"]] == ["r0f1"] and "damaged" in out["damaged"][0]["error"]
    assert "skipped fold r0f1" in captured.err
    assert (run_dir / "explain" / "fold2").is_dir() and not (run_dir / "explain" / "fold1").exists()
