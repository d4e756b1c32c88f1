"""Arguments several commands share, as argparse parent parsers, and the one way a command is added.

A command module builds its parser with :func:`add_command`, naming the shared parents
it takes (``parents=[RUN, RUNS_DIR, JSON]``) and adding only its own arguments; every
shared flag then reads the same in every command's ``--help``, and the module's
docstring is the command's help text. Parents built by a
function (:func:`runs_dir`, :func:`cohort`, :func:`output`, ...) take the variants some
commands need.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from core.commands.cohort_options import add_cohort_arguments
from core.errors import ConfigError

Handler = Callable[[argparse.Namespace], int]


def add_command(
    subparsers: argparse._SubParsersAction,
    handler: Handler,
    *,
    parents: Sequence[argparse.ArgumentParser] = (),
) -> argparse.ArgumentParser:
    """Add the sub-command of ``handler``'s module, which runs ``handler(args)``.

    The module's name is the command's name and its docstring is its documentation:
    the first line, after ``python -m core NAME:``, is the one-line help; the rest (what
    it does, examples) is the description of ``python -m core NAME --help``.
    """
    module = sys.modules[handler.__module__]
    summary, _, rest = (module.__doc__ or "").strip().partition("\n")
    parser = subparsers.add_parser(
        handler.__module__.rsplit(".", 1)[-1],
        parents=list(parents),
        help=summary.partition(": ")[2].rstrip(".") or summary,
        description=rest.strip().replace("``", "").replace("::", ":"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=handler)
    return parser


def _parent(*parents: argparse.ArgumentParser, **options: dict[str, Any]) -> argparse.ArgumentParser:
    """A parent parser with the options of ``parents``, then one per keyword.

    ``runs_dir={...}`` adds ``--runs-dir`` with those ``add_argument`` settings.
    """
    parser = argparse.ArgumentParser(add_help=False, parents=list(parents))
    for name, spec in options.items():
        parser.add_argument("--" + name.replace("_", "-"), **spec)
    return parser


_JSON = "print one JSON object as the last stdout line"
_CACHE = "cache of segment arrays and acoustic features (default: $VOE_CACHE_DIR or ./.cache/voe)"
_SET = "any setting, for every run, e.g. --set train.finetune_epochs=10 (JSON values)"
_BACKEND = (
    "local: folds (and repeats) one after another here (default); ray: one Ray task per fold, "
    "on a local cluster or the one named by $RAY_ADDRESS"
)


def run_option() -> argparse.ArgumentParser:
    """``--run RUN`` (required): the run a command reads."""
    return _parent(run=dict(required=True, metavar="RUN", help="run id, folder, or unique name"))


def runs_dir(*, default: Any = None) -> argparse.ArgumentParser:
    """``--runs-dir DIR``; ``default=argparse.SUPPRESS`` on a nested action keeps its parent's value."""
    return _parent(
        runs_dir=dict(metavar="DIR", default=default, help="run store (default: $VOE_RUNS_DIR or ./runs)")
    )


def cache_dir() -> argparse.ArgumentParser:
    """``--cache-dir DIR``: where arrays and features are cached."""
    return _parent(cache_dir=dict(metavar="DIR", help=_CACHE))


def output(*, quiet: bool = False, default: Any = False) -> argparse.ArgumentParser:
    """``--json`` (one JSON object as the last stdout line) and, with ``quiet``, ``--quiet``."""
    options = {"json": dict(action="store_true", default=default, help=_JSON)}
    if quiet:
        options["quiet"] = dict(action="store_true", help="no progress bar or progress lines")
    return _parent(**options)


def cohort(*, required: bool = True) -> argparse.ArgumentParser:
    """``--cohort DIR`` with the label-sheet options (:mod:`core.commands.cohort_options`)."""
    parser = _parent()
    add_cohort_arguments(parser, required=required)
    return parser


def jobs() -> argparse.ArgumentParser:
    """``--jobs N``: worker processes (default: up to 4, never more than the CPUs)."""
    default = min(4, os.cpu_count() or 1)
    return _parent(jobs=dict(type=int, default=default, help="worker processes (default: up to 4)"))


def training() -> argparse.ArgumentParser:
    """What every training command takes (``train``, ``sweep``).

    ``--cohort`` (optional) with the label-sheet options, ``--runs-dir``, ``--cache-dir``,
    ``--set KEY=VALUE`` (repeatable, read by :func:`overrides`) and ``--backend {local,ray}``.
    """
    return _parent(
        cohort(required=False),
        runs_dir(),
        cache_dir(),
        set=dict(action="append", default=[], metavar="KEY=VALUE", help=_SET),
        backend=dict(choices=("local", "ray"), default="local", help=_BACKEND),
    )


def overrides(items: Sequence[str]) -> dict[str, Any]:
    """``--set`` values as ``{"train.finetune_epochs": 10}``: JSON values, plain text otherwise.

    Raises
    ------
    ConfigError
        An item without ``=``.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}; expected KEY=VALUE")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def backbone_help(default: str | None = "the preset's") -> str:
    """Help of ``--backbone``: every registered backbone, from the registry itself."""
    from core.models.backbones import BACKBONES

    return f"backbone: {', '.join(BACKBONES)}" + (f" (default: {default})" if default else "")


RUN = run_option()
RUNS_DIR = runs_dir()
CACHE_DIR = cache_dir()
JSON = output()
JSON_QUIET = output(quiet=True)
TRAINING = training()

__all__ = [
    "CACHE_DIR",
    "JSON",
    "JSON_QUIET",
    "RUN",
    "RUNS_DIR",
    "TRAINING",
    "add_command",
    "backbone_help",
    "cache_dir",
    "cohort",
    "jobs",
    "output",
    "overrides",
    "run_option",
    "runs_dir",
    "training",
]
