"""Command-line interface: ``python -m core <command> ...``.

Each sub-command lives in its own module under :mod:`core.commands` and exposes
``register(subparsers)``; this file only discovers them, so adding a command never
touches a shared file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import core.commands
from core.errors import CoreError


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every discovered sub-command."""
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="Voice Outcome Explorer: cohort tools, preprocessing, training, "
        "explanations and reports for voice-outcome research.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(core.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"core.commands.{info.name}")
        if hasattr(module, "register"):  # shared option modules (parents, cohort_options) register nothing
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except CoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
