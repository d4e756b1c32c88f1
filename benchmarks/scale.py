"""Scale-out cost: the same run trained sequentially and as Ray tasks on this machine.

Usage::

    python benchmarks/scale.py [--cohort DIR] [--folds 4] [--finetune 3] [--image-size 64]

On the demo cohort (the workspace's, generated when --cohort is not given), the quick
preset with the given folds, fine-tune epochs and image size. The segment dataset is
built once; then

(a) sequential: :func:`core.run_lifecycle.execute_run` with the local backend;
(b) Ray: a local cluster is started (timed apart: ``ray_start_s``), then the same run
    with the Ray backend, one task per fold, ``VOE_RAY_TASK_CPUS`` CPUs each.

Reported: wall seconds of each, ``overhead_ratio`` = Ray / sequential (below 1 means
Ray was faster), the same with the cluster start, the per-task seconds measured inside
the workers (model build, feature cache and training of one fold) against the per-fold
seconds of the sequential run, and the largest per-fold difference of test patient
AUROC between the two runs. Progress to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _run(dataset, data, config, folds, root: Path, backend: str) -> tuple[Path, float]:
    from core import runs
    from core.run_lifecycle import execute_run

    run_dir = runs.create_run(
        config.to_dict(),
        name=backend,
        config_hash=config.hash(),
        data=data,
        folds=[f.key for f in folds],
        root=root,
    )
    start = time.perf_counter()
    execute_run(run_dir, dataset, config, backend=backend)
    return run_dir, time.perf_counter() - start


def _patient_auroc(run_dir: Path) -> np.ndarray:
    from core.runs import fold_table

    folds = fold_table(run_dir)
    test = folds[(folds["part"] == "test") & (folds["level"] == "patient")]
    return test.sort_values(["repeat", "fold"])["auroc"].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", help="cohort folder (default: the workspace demo cohort)")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--finetune", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=64)
    args = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from core.backends.ray_backend import ray_session, ray_settings
    from core.config import preset, with_overrides
    from core.runs import read_manifest
    from core.splits import make_folds
    from core.training_data import load_training_data
    from core.workspace import ensure_demo_cohort

    cohort = Path(args.cohort) if args.cohort else ensure_demo_cohort()
    config = with_overrides(
        preset("quick"),
        {
            "split.n_folds": args.folds,
            "train.finetune_epochs": args.finetune,
            "preprocess.spectrogram.image_size": args.image_size,
        },
    )
    dataset, data = load_training_data(cohort, config)
    folds = make_folds(dataset.segments, config.split)
    settings = ray_settings()
    with tempfile.TemporaryDirectory() as tmp:
        log(f"sequential: {len(folds)} folds …")
        local_dir, local_s = _run(dataset, data, config, folds, Path(tmp), "local")
        log(f"sequential {local_s:.1f} s; starting a local Ray cluster ({settings.num_cpus} CPUs) …")
        tick = time.perf_counter()
        with ray_session(settings):
            start_s = time.perf_counter() - tick
            log(f"Ray up in {start_s:.1f} s; training {len(folds)} tasks …")
            ray_dir, ray_s = _run(dataset, data, config, folds, Path(tmp), "ray")
        per_local = list(read_manifest(local_dir)["timings"]["folds"].values())
        per_task = list(read_manifest(ray_dir)["timings"]["folds"].values())
        diff = float(np.max(np.abs(_patient_auroc(ray_dir) - _patient_auroc(local_dir))))
    report = {
        "benchmark": "scale",
        "cohort_patients": data["n_patients"],
        "segments": data["n_segments"],
        "folds": len(folds),
        "finetune_epochs": args.finetune,
        "image_size": args.image_size,
        "cpus": os.cpu_count(),
        "ray_num_cpus": settings.num_cpus,
        "ray_task_cpus": settings.task_cpus,
        "sequential_s": round(local_s, 2),
        "ray_s": round(ray_s, 2),
        "ray_start_s": round(start_s, 2),
        "overhead_ratio": round(ray_s / local_s, 3),
        "overhead_ratio_with_start": round((ray_s + start_s) / local_s, 3),
        "per_fold_s_sequential": round(float(np.mean(per_local)), 2),
        "per_task_s_ray": round(float(np.mean(per_task)), 2),
        "patient_auroc_max_abs_diff": diff,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
