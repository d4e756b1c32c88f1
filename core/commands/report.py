"""``python -m core report``: write a run's lab-meeting slides as one self-contained HTML file.

Cohort, method, per-fold results, ROC/confusion and cached explanations of a run, as
slides in one HTML file with no external resources.

Examples::

    python -m core report --run 20250101-120000-demo --out report.html
    python -m core report --run demo --cohort /data/voice-study --out slides/demo.html

The cohort (for the duration table and the outcome balance) defaults to the folder the
run was trained on, when it still exists. Explanations appear when ``python -m core
explain`` has cached them; nothing heavy is computed here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.commands.parents import JSON, RUN, RUNS_DIR, add_command


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` sub-command."""
    parser = add_command(subparsers, run, parents=[RUN, RUNS_DIR, JSON])
    parser.add_argument(
        "--cohort", metavar="DIR", help="the run's cohort folder (default: the one in its manifest)"
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="HTML file to write")


def run(args: argparse.Namespace) -> int:
    """Write the report; 0 on success."""
    from core.cohort import CohortSource
    from core.errors import CohortError
    from core.report import render_html, report_title, slides
    from core.runs import load_run

    loaded = load_run(args.run, root=args.runs_dir)
    data = loaded.manifest.get("data", {})
    folder = args.cohort or data.get("cohort_dir")
    cohort = None
    if folder and Path(folder).is_dir():
        # the run's own label sheet and columns, on the folder given when the cohort moved
        source = CohortSource.from_run_data(data) if data.get("cohort_dir") else CohortSource(Path(folder))
        cohort = (source.with_root(args.cohort) if args.cohort else source).load()
    elif args.cohort:
        raise CohortError(f"cohort folder {args.cohort} does not exist")
    deck = slides(loaded, cohort)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(deck, title=report_title(loaded)), encoding="utf-8")
    size = out.stat().st_size
    if args.json:
        print(
            json.dumps(
                {
                    "out": str(out),
                    "bytes": size,
                    "slides": len(deck),
                    "titles": [s.title for s in deck],
                    "cohort": cohort is not None,
                }
            )
        )
    else:
        print(f"wrote {len(deck)} slides to {out} ({size / 1e6:.1f} MB)")
    return 0
