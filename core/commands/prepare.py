"""``python -m core prepare``: build (and cache) the segment spectrogram arrays of a cohort.

Load a cohort, trim and window the selected recordings, compute Mel and STFT images for
every segment and store them in the disk cache. Prints counts and seconds.

The cache goes to ``--cache-dir`` or, by default, the workspace cache
(``./.cache/voe``, moved with ``VOE_CACHE_DIR``; see :mod:`core.workspace`), the same
folder the dashboard reads, so a later training run or page finds the arrays ready.
Entries are keyed by the preprocessing settings and each audio file's content hash, so
one cache folder serves any number of cohorts and presets.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from core.commands.cohort_options import cohort_source
from core.commands.parents import CACHE_DIR, JSON, add_command, cohort
from core.config import PHASES, PRESETS, VOWELS, preset

if TYPE_CHECKING:
    import pandas as pd


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``prepare`` sub-command."""
    parser = add_command(subparsers, run, parents=[cohort(), CACHE_DIR, JSON])
    parser.add_argument("--preset", default="seed", choices=PRESETS, help="settings preset (default: seed)")
    parser.add_argument(
        "--phases",
        default=None,
        metavar="LIST",
        help=f"comma-separated phases from {','.join(PHASES)} (default: the preset's, pre)",
    )
    parser.add_argument(
        "--vowels",
        default=None,
        metavar="LIST",
        help=f"comma-separated vowels from {','.join(VOWELS)} (default: the preset's, A)",
    )


def run(args: argparse.Namespace) -> int:
    """Build the dataset; 0 on success (even with problem rows)."""
    from core.dataset import build_dataset
    from core.workspace import cache_dir

    config = preset(args.preset).preprocess
    selection = config.selection
    if args.phases:
        selection = replace(selection, phases=_split(args.phases))
    if args.vowels:
        selection = replace(selection, vowels=_split(args.vowels, upper=True))
    config = replace(config, selection=selection)
    config.validate()
    cache = Path(args.cache_dir) if args.cache_dir else cache_dir()

    started = time.perf_counter()
    cohort = cohort_source(args).load()
    loaded = time.perf_counter()
    dataset = build_dataset(cohort, config, cache_dir=cache, progress=None if args.json else _progress)
    built = time.perf_counter()

    segments = dataset.segments
    report = {
        "preset": args.preset,
        "config_hash": config.hash(),
        "phases": list(config.selection.phases),
        "vowels": list(config.selection.vowels),
        "patients": int(segments["patient_id"].nunique()),
        "recordings": int(segments["recording_id"].nunique()),
        "segments": len(dataset),
        "padded_segments": int(segments["padded"].sum()),
        "problems": int(len(dataset.problems)),
        "cohort_s": round(loaded - started, 3),
        "prepare_s": round(built - loaded, 3),
        "cache_dir": str(cache),
        "files": cohort.files.to_dict() if cohort.files is not None else {},
        # what never reached preprocessing (validation errors), then what preprocessing dropped
        "excluded": _rows(cohort.problems[cohort.problems["severity"] == "error"]),
        "dropped": _rows(dataset.problems),
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    if sys.stderr.isatty():
        print(file=sys.stderr)
    for key, value in report.items():
        if key not in ("files", "excluded", "dropped"):
            print(f"{key:<16} {value}")
    for label in ("excluded", "dropped"):
        for row in report[label]:
            print(f"{label}: {row['path']}: {row['reason']}")
    return 0


def _rows(problems: pd.DataFrame) -> list[dict[str, str]]:
    """Problem rows as ``{"path", "severity", "reason"}`` (paths already redacted)."""
    return [
        {"path": str(source), "severity": str(severity), "reason": str(reason)}
        for source, severity, reason in problems.itertuples(index=False)
    ]


def _split(text: str, *, upper: bool = False) -> tuple[str, ...]:
    items = tuple(part.strip() for part in text.split(",") if part.strip())
    return tuple(item.upper() for item in items) if upper else items


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\rrecordings {done}/{total}", end="", file=sys.stderr, flush=True)
