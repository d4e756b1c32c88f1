"""``python -m core validate``: check a cohort folder and print its validation report.

Load a cohort folder (study, notebook or class-folder layout, or any folder with a label
sheet), check every audio file and the metadata or label sheet, and print counts and one
row per problem. Exit status 0 even when problems exist; 1 when the folder cannot be
loaded at all.

Paths are shown relative to the cohort folder with names, IDs and record numbers replaced
by pseudonyms. ``--show-identifiers`` prints the raw relative paths instead: it is meant
for the data steward's own terminal, to find the file to fix; do not paste that output
into tickets, logs or run folders.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from core.cohort import LAYOUTS
from core.cohort.model import Cohort
from core.commands.cohort_options import cohort_source
from core.commands.parents import JSON, add_command, cohort
from core.errors import CohortError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``validate`` sub-command."""
    parser = add_command(subparsers, run, parents=[cohort(), JSON])
    parser.add_argument(
        "--layout", default="auto", choices=("auto", *LAYOUTS), help="folder layout (default: auto)"
    )
    parser.add_argument(
        "--metadata",
        default=None,
        metavar="FILE",
        help="metadata sheet (study) or label manifest (notebook); default: found in DIR",
    )
    parser.add_argument(
        "--min-duration",
        type=float,
        default=0.3,
        metavar="S",
        help="analysis window in seconds; shorter recordings get a warning (default 0.3)",
    )
    parser.add_argument(
        "--show-identifiers",
        action="store_true",
        help="show raw relative paths (may hold record numbers); for the data steward's own "
        "terminal only, never for tickets or logs",
    )


def report_rows(cohort: Cohort, *, show_identifiers: bool = False) -> list[dict[str, str]]:
    """Problem rows as ``{"path", "severity", "reason"}``, paths redacted unless asked otherwise."""
    rows = []
    for source, severity, reason in cohort.problems.itertuples(index=False):
        path = cohort.raw_source(str(source)) if show_identifiers else str(source)
        rows.append({"path": path, "severity": str(severity), "reason": str(reason)})
    return rows


def summary(cohort: Cohort, *, show_identifiers: bool = False) -> dict[str, Any]:
    """Counts and problems as one JSON-ready object."""
    rows = report_rows(cohort, show_identifiers=show_identifiers)
    return {
        "patients": cohort.n_patients,
        "recordings": int(len(cohort.recordings)),
        "errors": sum(r["severity"] == "error" for r in rows),
        "warnings": sum(r["severity"] == "warning" for r in rows),
        "layout": cohort.layout,
        "class_names": list(cohort.class_names),
        "patients_per_class": {
            name: int((cohort.patients["outcome"] == label).sum())
            for label, name in enumerate(cohort.class_names)
        },
        # seen = used + reported + set_aside: every file under the folder is accounted for
        "files": cohort.files.to_dict() if cohort.files is not None else {},
        "problems": rows,
    }


def files_line(files: dict[str, Any]) -> str:
    """``350 seen = 346 used + 3 reported + 1 set aside (documents: README.txt)``."""
    if not files:
        return ""
    line = (
        f"{files['seen']} seen = {files['used']} used + {files['reported']} reported + "
        f"{files['set_aside']} set aside"
    )
    if files["documents_list"]:
        line += f" (documents: {', '.join(files['documents_list'])})"
    return line


def format_table(report: dict[str, Any]) -> str:
    """Counts first, then an aligned table of problems (path, severity, reason)."""
    counts = [(key, str(report[key])) for key in ("layout", "patients", "recordings", "errors", "warnings")]
    classes = " · ".join(
        f"{name} (label {label}) {report['patients_per_class'][name]}"
        for label, name in enumerate(report["class_names"])
    )
    counts.append(("classes", classes))
    width = max(len(key) for key, _ in counts)
    counts.append(("files", files_line(report.get("files", {}))))
    lines = [f"{key:<{width}}  {value}" for key, value in counts]
    problems = report["problems"]
    if not problems:
        lines += ["", "no problems found"]
        return "\n".join(lines)
    header = {"path": "path", "severity": "severity", "reason": "reason"}
    path_w = max(len(r["path"]) for r in [header, *problems])
    sev_w = max(len(r["severity"]) for r in [header, *problems])
    lines.append("")
    for row in [header, *problems]:
        lines.append(f"{row['path']:<{path_w}}  {row['severity']:<{sev_w}}  {row['reason']}".rstrip())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Load the cohort and print the report; 0 when loaded (even with problems), 1 when not."""
    try:
        cohort = cohort_source(args).load(min_duration_s=args.min_duration)
    except CohortError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report = summary(cohort, show_identifiers=args.show_identifiers)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(format_table(report))
    return 0
