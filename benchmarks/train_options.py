"""Training options compared on the same patient folds, judged by the inner VALIDATION patients.

Usage::

    python benchmarks/train_options.py --cohort DIR [label flags] --preset voice \\
        --option off: --option mask:train.spec_augment=mask \\
        --option mix:train.spec_augment=mask+mix --folds 2 [--json]

Each ``--option NAME:KEY=VALUE,KEY=VALUE`` (empty after the colon: the preset as it is)
trains the first ``--folds`` outer folds of repeat 0 (5 folds, seed 42, patients
stratified by label) with the preset and those overrides. A list value is written
with ``/``: ``preprocess.selection.vowels=A/I/U/E``.

Reported per option: patient AUROC on each fold's inner validation patients (``val``,
the criterion; note that the best epoch was also chosen on them, so it is optimistic
for every option alike) and on its test patients (``test``, reported, never used to
choose). The last stdout line is one JSON object ``{"options": {NAME: {"val_mean",
"test_mean", "val", "test", "seconds"}}, "folds", "preset", "patients"}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_option(text: str) -> tuple[str, dict[str, Any]]:
    """``NAME:KEY=VALUE,KEY=VALUE`` → (NAME, overrides); ``/`` separates a list's items."""
    name, _, rest = text.partition(":")
    changes: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, _, raw = item.partition("=")
        if "/" in raw:
            changes[key] = raw.split("/")
            continue
        try:
            changes[key] = json.loads(raw)
        except json.JSONDecodeError:
            changes[key] = raw
    return name, changes


def patient_auroc(metrics: Any, part: str) -> float:
    row = metrics[(metrics["level"] == "patient") & (metrics["part"] == part)]
    return float(row["auroc"].iloc[0])


def main(argv: list[str] | None = None) -> int:
    from core.cohort import CohortSource
    from core.config import preset, with_overrides
    from core.splits import make_folds
    from core.train_steps import FeatureCache
    from core.training import train_fold
    from core.training_data import load_training_data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", required=True)
    for flag in ("labels", "path-column", "patient-column", "label-column", "positive"):
        parser.add_argument(f"--{flag}")
    parser.add_argument("--preset", default="voice")
    parser.add_argument("--option", action="append", required=True)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    source = CohortSource(
        root=Path(args.cohort),
        labels=Path(args.labels) if args.labels else None,
        path_column=args.path_column,
        patient_column=args.patient_column,
        label_column=args.label_column,
        positive=args.positive,
    )
    out: dict[str, Any] = {"preset": args.preset, "folds": args.folds, "options": {}}
    for text in args.option:
        name, changes = parse_option(text)
        config = with_overrides(preset(args.preset), changes)
        dataset, data = load_training_data(source, config)
        out["patients"] = data["n_patients"]
        folds = make_folds(dataset.segments, config.split)[: args.folds]
        start = time.perf_counter()
        val, test, cache = [], [], FeatureCache()
        for fold in folds:
            result = train_fold(dataset, fold, config, cache=cache)
            val.append(patient_auroc(result.metrics, "val"))
            test.append(patient_auroc(result.metrics, "test"))
            print(f"{name} {fold.key}: val {val[-1]:.3f} test {test[-1]:.3f}", file=sys.stderr, flush=True)
        out["options"][name] = {
            "changes": changes,
            "segments": int(len(dataset)),
            "val": val,
            "test": test,
            "val_mean": float(np.mean(val)),
            "test_mean": float(np.mean(test)),
            "seconds": time.perf_counter() - start,
        }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
