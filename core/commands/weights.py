"""``python -m core weights``: ImageNet weights of the backbones: status, fetch, import, verify.

Where each backbone's ImageNet weights stand (Keras cache, imported, missing), download
them from Keras' origin, import a file carried over from another machine, or check a
weights file against Keras' own ImageNet build.

Examples::

    python -m core weights status --json
    python -m core weights fetch --backbone efficientnetb0      # or --all
    python -m core weights import efficientnetb0_notop.h5 --backbone efficientnetb0
    python -m core weights verify --backbone efficientnetb0 --file F.weights.h5 --json

``status --json`` prints ``{"backbones": [...]}`` (one object per registered backbone:
``backbone, label, state, file, sha256, md5, keras_published, note``); ``verify --json``
prints ``{"backbone", "matches_keras_reference", "max_abs_diff", "layers", ...}`` as the
last stdout line. Downloads draw a progress bar on stderr, like ``train``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from core.commands.parents import JSON, JSON_QUIET, add_command, backbone_help
from core.errors import WeightsError
from core.models.backbones import BACKBONES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``weights`` sub-command and its actions."""
    parser = add_command(subparsers, run)
    actions = parser.add_subparsers(dest="weights_action", metavar="ACTION", required=True)
    actions.add_parser("status", parents=[JSON], help="state, file and sha256 of every backbone's weights")
    fetch = actions.add_parser(
        "fetch", parents=[JSON_QUIET], help="download from Keras' origin into the Keras cache (md5 checked)"
    )
    which = fetch.add_mutually_exclusive_group(required=True)
    which.add_argument("--backbone", help=backbone_help(None))
    which.add_argument("--all", action="store_true", help="every backbone with ImageNet weights")
    checked = _checked_file()
    imp = actions.add_parser(
        "import",
        parents=[checked, JSON],
        help="keep a carried-over weights file after checking it against Keras",
    )
    imp.add_argument("file", metavar="FILE", help="Keras .h5 or .weights.h5 file")
    verify = actions.add_parser(
        "verify",
        parents=[checked, JSON],
        help="compare a weights file in the project's backbone with Keras' build",
    )
    verify.add_argument("--file", required=True, metavar="FILE", help="Keras .h5 or .weights.h5 file")


def _checked_file() -> argparse.ArgumentParser:
    """``--backbone`` (required) and ``--image-size`` of the actions that check a file against Keras."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--backbone", required=True, help=backbone_help(None))
    parser.add_argument("--image-size", type=int, default=224, help="image side of the check (default 224)")
    return parser


class DownloadBar:
    """A download's progress on stderr, drawn in place on a terminal (first and last line otherwise)."""

    def __init__(self, label: str, *, enabled: bool = True, stream: Any = None) -> None:
        self.label, self.enabled = label, enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.shown = False

    def __call__(self, done: int, total: int | None) -> None:
        from core.models.download import download_text

        if not self.enabled:
            return
        fraction, text = download_text(self.label, done, total)
        line = f"[{'#' * int(fraction * 24):<24}] {text}"
        last = bool(total) and done >= (total or 0)
        if self.tty:
            self.stream.write("\r\033[K" + line + ("\n" if last else ""))
        elif last or not self.shown:
            self.stream.write(line + "\n")
        self.shown = True
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    """Run one action; 0 on success, 1 when a download or check failed."""
    return {"status": _status, "fetch": _fetch, "import": _import, "verify": _verify}[args.weights_action](
        args
    )


def _status(args: argparse.Namespace) -> int:
    from core.models.weights import all_status, keras_cache_dir

    states = [s.to_dict() for s in all_status()]
    if args.json:
        print(json.dumps({"keras_cache": str(keras_cache_dir()), "backbones": states}))
        return 0
    for s in states:
        digest = (s["sha256"] or "")[:16]
        print(f"{s['backbone']:18s} {s['state']:9s} {digest:16s} {s['file'] or ''}  {s['note']}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from core.models.backbones import get_backbone
    from core.models.download import fetch
    from core.models.weights import KERAS_ORIGINS, weights_status

    names = [n for n in BACKBONES if n in KERAS_ORIGINS] if args.all else [get_backbone(args.backbone).name]
    failed, states = [], []
    for name in names:
        status = weights_status(name)
        if status.state != "cached":
            try:
                status = fetch(name, progress=DownloadBar(name, enabled=not args.quiet))
            except WeightsError as exc:
                print(f"error: {exc}", file=sys.stderr)
                failed.append(name)
                continue
        states.append(status.to_dict())
        if not args.json:
            print(f"{name}: {status.state} {status.file} sha256 {status.sha256}")
    if args.json:
        print(json.dumps({"backbones": states, "failed": failed}))
    return 1 if failed else 0


def _import(args: argparse.Namespace) -> int:
    from core.models.weights import import_file

    status, check = import_file(args.file, args.backbone, image_size=args.image_size)
    if args.json:
        print(json.dumps({**status.to_dict(), "verification": check}))
    else:
        print(f"{status.backbone}: {status.state} {status.file} sha256 {status.sha256}")
        print(
            f"  matches Keras' own build (max abs diff {check['max_abs_diff']:.3g}, "
            f"{check['layers']} layers); "
            + (
                "Keras' published ImageNet file"
                if status.keras_published
                else "not Keras' published file (md5 differs): its values are what the file holds"
            )
        )
    return 0


def _verify(args: argparse.Namespace) -> int:
    from core.models.keras_reference import verify_file

    result = verify_file(args.backbone, args.file, image_size=args.image_size)
    if args.json:
        print(json.dumps(result))
    else:
        verdict = "matches" if result["matches_keras_reference"] else "DIFFERS FROM"
        print(
            f"{result['backbone']} with {result['file']} {verdict} Keras' own ImageNet build: max abs diff "
            f"{result['max_abs_diff']:.3g} (reference values up to {result['reference_max_abs']:.3g}), "
            f"{result['layers']} layers (Keras: {result['keras_layers']})"
        )
    return 0 if result["matches_keras_reference"] else 1
