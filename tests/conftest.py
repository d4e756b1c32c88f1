"""Shared fixtures: the real Saarbruecken subset and the generated demo cohort."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# tests never reach the internet: any ImageNet download goes to a closed loopback port and fails fast
os.environ["VOE_WEIGHTS_URL"] = "http://127.0.0.1:9/"

REPO = Path(__file__).resolve().parents[1]
SVD_ROOT = Path(os.environ.get("VOE_SVD_ROOT", REPO.parent / "shared" / "data" / "svd_subset"))
PD_ROOT = Path(os.environ.get("VOE_PD_ROOT", REPO.parent / "shared" / "data" / "pd_vowels"))


def require_shared(present: bool, what: str) -> None:
    """Skip when the real data sets are absent on a developer's machine; fail under CI.

    ``.ci/run`` sets ``VOE_REQUIRE_SHARED=1``: there a missing data set is a failure, not a
    quiet skip of every test that meets real voices.
    """
    if present:
        return
    if os.environ.get("VOE_REQUIRE_SHARED") == "1":
        pytest.fail(f"{what} not found; CI must provide ../shared/data")
    pytest.skip(f"{what} not found")


#: Test files that keep one worker busy longest (minutes: model trainings, a Ray cluster, a browser,
#: occlusion of whole folds), handed out first. xdist's ``--dist loadfile`` gives each worker the next
#: file in collection order (``--no-loadscope-reorder`` in pyproject keeps that order instead of
#: sorting by test count); a long file handed out last would leave the other worker idle at the end.
#: Longest first (from ``--durations``); the remaining files follow in their usual order.
LONGEST_FILES: tuple[str, ...] = (
    "tests/test_ray_backend.py",  # first: it also trains the shared demo run
    "tests/test_weights.py",  # second: the other worker starts without waiting for the demo run
    "tests/e2e/test_browser.py",
    "tests/test_explain_run.py",
    "tests/test_locking.py",
    "tests/test_sweep.py",
    "tests/test_runs.py",
    "tests/app/test_model_pages.py",
    "tests/test_report.py",
    "tests/test_baseline.py",
    "tests/test_training.py",
    "tests/test_predict.py",
    "tests/app/test_share_pages.py",
    "tests/test_cohort.py",
    "tests/test_cohort_source.py",
    "tests/app/test_cohort_form.py",
    "tests/app/test_pairing_pages.py",
    "tests/test_augment.py",
    "tests/test_demo.py",
    "tests/test_jobs.py",
    "tests/test_vowel_fusion.py",
    "tests/app/test_sweep_pages.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the longest test files first; a file's tests stay together and in their order."""
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder that ``build(folder)`` fills once per test session, shared by the xdist workers.

    Under xdist the first worker to ask builds it in the session's common temp folder
    (the parent of each worker's own) while holding a file lock; the others wait for it
    and reuse it, so a session fixture that costs a training is paid once, not once per
    worker. Without xdist it is an ordinary ``tmp_path_factory`` folder.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    import fcntl

    folder = tmp_path_factory.getbasetemp().parent / f"shared-{name}"
    with open(folder.parent / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (folder / ".built").is_file():
            shutil.rmtree(folder, ignore_errors=True)  # a worker that failed half-way
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder


@pytest.fixture(scope="session")
def svd_root() -> Path:
    """Folder of 162 real SVD recordings (``Datasets/<class>/<session>-<vowel>_<pitch>.wav``)."""
    require_shared((SVD_ROOT / "Datasets").is_dir(), f"Saarbruecken subset at {SVD_ROOT}")
    return SVD_ROOT


@pytest.fixture(scope="session")
def pd_root() -> Path:
    """Folder of 81 real sustained /a/ (8 kHz, PD vs healthy) with ``labels.csv``."""
    require_shared((PD_ROOT / "labels.csv").is_file(), f"pd_vowels at {PD_ROOT}")
    return PD_ROOT


@pytest.fixture(scope="session")
def demo_cohort_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo cohort (43 patients, seed 0), generated once per test session.

    Shared by the xdist workers (:func:`built_once`): no test writes into it.
    """
    from core.demo import generate_cohort

    def build(folder: Path) -> None:
        generate_cohort(folder / "cohort", patients=43, seed=0)

    return built_once(tmp_path_factory, "demo", build) / "cohort"


def _synthetic_dataset(
    *, patients: int = 12, per_patient: int = 4, size: int = 32, seed: int = 0, strength: float = 60.0
):
    """A SegmentDataset whose poor patients (odd index) have a brighter band in both images."""
    import numpy as np
    import pandas as pd

    from core.config import PreprocessConfig
    from core.dataset import SegmentDataset

    rng = np.random.default_rng(seed)
    rows, mel, stft = [], [], []
    for p in range(patients):
        label = p % 2
        for s in range(per_patient):
            grey = rng.integers(0, 120, (size, size)).astype(np.float32)
            if label:
                grey[size // 4 : size // 2, :] += strength
            image = np.clip(grey, 0, 255).astype(np.uint8)
            mel.append(np.repeat(image[..., None], 3, axis=2))
            stft.append(np.repeat(np.flipud(image)[..., None], 3, axis=2))
            rows.append(
                {
                    "segment_id": len(rows),
                    "recording_id": f"P{p:02d}-pre-A",
                    "patient_id": f"P{p:02d}",
                    "phase": "pre",
                    "vowel": "A",
                    "take": 1,
                    "segment_index": s,
                    "start_s": 0.05 * s,
                    "end_s": 0.05 * s + 0.05,
                    "padded": False,
                    "label": label,
                }
            )
    segments = pd.DataFrame(rows)
    segments["label"] = segments["label"].astype("Int64")
    n = len(segments)
    return SegmentDataset(
        segments=segments,
        mel=np.stack(mel),
        stft=np.stack(stft),
        mel_db=np.zeros((n, 8, 8), np.float32),
        stft_db=np.zeros((n, 8, 8), np.float32),
        config=PreprocessConfig(),
        problems=pd.DataFrame(columns=["source", "severity", "reason"]),
    )


@pytest.fixture
def synthetic_dataset():
    """Factory of small synthetic SegmentDatasets (training tests; no audio, no TensorFlow)."""
    return _synthetic_dataset


@pytest.fixture(scope="session")
def demo_run_built(tmp_path_factory: pytest.TempPathFactory, demo_cohort_dir: Path) -> Path:
    """One small finished run on the demo cohort (``runs/``) and its segment cache (``cache/``).

    Small CNN, 64 px images, 3 patient folds, 3 epochs: real training on real demo
    spectrograms, done once per test session (:func:`built_once`, shared by the xdist
    workers). Tests use their worker's copies: :func:`demo_runs_root`, :func:`demo_cache_dir`.
    """
    from core.config import preset, with_overrides
    from core.run_lifecycle import start_run

    config = with_overrides(
        preset("quick"),
        {
            "split.n_folds": 3,
            "train.finetune_epochs": 3,
            "preprocess.spectrogram.image_size": 64,
        },
    )

    def build(folder: Path) -> None:
        start_run(demo_cohort_dir, config, name="fixture", root=folder / "runs", cache_dir=folder / "cache")

    return built_once(tmp_path_factory, "demo_run", build)


@pytest.fixture(scope="session")
def demo_cache_dir(tmp_path_factory: pytest.TempPathFactory, demo_run_built: Path) -> Path:
    """The segment cache of :func:`demo_runs_root` (other runs of its config reuse its dataset).

    This worker's own copy: tests may add entries.
    """
    return Path(shutil.copytree(demo_run_built / "cache", tmp_path_factory.mktemp("cache") / "cache"))


@pytest.fixture(scope="session")
def demo_runs_root(tmp_path_factory: pytest.TempPathFactory, demo_run_built: Path) -> Path:
    """A run store holding one small finished run on the demo cohort (:func:`demo_run_built`).

    Small CNN, 64 px images, 3 patient folds, 3 epochs, for the pages and the explainers
    to read (and the sequential run the Ray backend's run must equal,
    tests/test_ray_backend.py). This worker's own copy: tests may add explanations to it.
    """
    return Path(shutil.copytree(demo_run_built / "runs", tmp_path_factory.mktemp("runs") / "runs"))


@pytest.fixture(scope="session")
def demo_sweep_resumed(tmp_path_factory: pytest.TempPathFactory, demo_cohort_dir: Path) -> dict:
    """A finished sweep that was cancelled in its second configuration and then resumed.

    Quick preset, dual vs mel inputs, 2 repeats × 2 folds, 32 px images, 2 fine-tune
    epochs: real training of 8 small folds on the demo cohort. The sweep is cancelled
    (as SIGTERM would) when the second configuration's run starts its second fold, then
    :func:`core.sweep_training.resume_sweep` finishes it. Returns ``root`` (the run
    store), ``stopped`` (each run's manifest and model files' mtimes when it stopped)
    and ``resumed`` (the configurations announced and the folds started by the resume).
    Trained once per test session (:func:`built_once`); ``root`` is this worker's copy
    (file times kept).
    """
    import json

    def build(folder: Path) -> None:
        (folder / "runs").mkdir()
        (folder / "cache").mkdir()
        record = _sweep_cancelled_and_resumed(folder / "runs", folder / "cache", demo_cohort_dir)
        (folder / "record.json").write_text(json.dumps(record))

    built = built_once(tmp_path_factory, "demo_sweep", build)
    record = json.loads((built / "record.json").read_text())
    root = Path(shutil.copytree(built / "runs", tmp_path_factory.mktemp("sweep_runs") / "runs"))
    return {"root": root, "sweep_dir": root / "_sweeps" / record["sweep"], **record["result"]}


def _sweep_cancelled_and_resumed(root: Path, cache: Path, demo_cohort_dir: Path) -> dict:
    """The training of :func:`demo_sweep_resumed` into ``root``: its sweep's name and what it saw."""
    from core import runs
    from core.run_lifecycle import RunCancelled
    from core.sweep import SweepSpec, list_sweeps, sweep_runs
    from core.sweep_training import resume_sweep, run_sweep

    spec = SweepSpec(
        presets=("quick",),
        inputs=("dual", "mel"),
        repeats=2,
        common={"split.n_folds": 2, "train.finetune_epochs": 2, "preprocess.spectrogram.image_size": 32},
    )
    current: list[int] = []

    def cancel_in_second(event) -> None:
        if current == [0, 1] and event.kind == "fold_start" and event.fold_index == 1:
            raise RunCancelled("cancelled")

    with pytest.raises(RunCancelled):
        run_sweep(
            demo_cohort_dir,
            spec,
            name="grid",
            root=root,
            cache_dir=cache,
            progress=cancel_in_second,
            on_config=lambda index, total, label: current.append(index),
        )
    (sweep_dir,) = list_sweeps(root)
    stopped = {
        entry["label"]: {
            "manifest": runs.read_manifest(run_dir),
            "models": {p.name: p.stat().st_mtime_ns for p in (run_dir / "models").glob("*.keras")},
        }
        for entry, run_dir in sweep_runs(sweep_dir)
        if run_dir is not None
    }
    resumed: dict[str, list] = {"configurations": [], "folds": []}

    def record(event) -> None:
        if event.kind == "fold_start":
            resumed["folds"].append(event.fold)

    resume_sweep(
        sweep_dir.name,
        root=root,
        cache_dir=cache,
        progress=record,
        on_config=lambda index, total, label: resumed["configurations"].append(label),
    )
    return {"sweep": sweep_dir.name, "result": {"stopped": stopped, "resumed": resumed}}


@pytest.fixture(scope="session")
def demo_sweep_root(demo_sweep_resumed: dict) -> Path:
    """A run store holding one finished sweep (:func:`demo_sweep_resumed`'s)."""
    return demo_sweep_resumed["root"]


@pytest.fixture(scope="session")
def demo_vowel_sweep(tmp_path_factory: pytest.TempPathFactory, demo_cohort_dir: Path) -> dict:
    """``python -m core sweep --per-vowel A,I`` on the demo cohort: 3 configurations, 2 folds, 32 px.

    Returns ``root`` (the run store), ``sweep_dir`` and ``shown`` (the command's ``--json`` object).
    Trained once per test session (:func:`built_once`); ``root`` is this worker's copy.
    """
    import json

    from core.sweep import list_sweeps

    def build(folder: Path) -> None:
        shown = _per_vowel_sweep(folder / "runs", folder / "cache", demo_cohort_dir)
        (folder / "shown.json").write_text(json.dumps(shown))

    built = built_once(tmp_path_factory, "vowel_sweep", build)
    root = Path(shutil.copytree(built / "runs", tmp_path_factory.mktemp("vowel_runs") / "runs"))
    (sweep_dir,) = list_sweeps(root)
    return {"root": root, "sweep_dir": sweep_dir, "shown": json.loads((built / "shown.json").read_text())}


def _per_vowel_sweep(root: Path, cache: Path, demo_cohort_dir: Path) -> dict:
    """Run :func:`demo_vowel_sweep`'s command into ``root``; its ``--json`` object."""
    import json
    import subprocess
    import sys

    root.mkdir()
    cache.mkdir()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "sweep",
            "--cohort",
            str(demo_cohort_dir),
            "--name",
            "vf",
            "--preset",
            "quick",
            "--per-vowel",
            "A,I",
            "--folds",
            "2",
            "--repeats",
            "1",
            "--set",
            "preprocess.spectrogram.image_size=32",
            "--set",
            "train.finetune_epochs=2",
            "--set",
            "train.curves=fast",
            "--runs-dir",
            str(root),
            "--cache-dir",
            str(cache),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=1200,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])
