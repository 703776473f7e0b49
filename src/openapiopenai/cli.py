"""The ``openapiopenai`` command: ``serve``, ``detect``, ``eval``.

Each subcommand lives beside the code it drives and registers itself here through an
``add_parser(subparsers)`` function that sets ``func``; imports are lazy so that ``detect``
never pays for the web stack and ``serve`` never for the evaluation code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from openapiopenai import __version__
from openapiopenai.exceptions import OpenapiopenaiError

#: subcommand -> module that defines ``add_parser``
SUBCOMMANDS = {
    "serve": "openapiopenai.server.cli",
    "detect": "openapiopenai.offline_cli",
    "eval": "openapiopenai.evaluation.cli",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openapiopenai",
        description="Self-hosted server-side turn detection for the OpenAI Realtime API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in SUBCOMMANDS.values():
        module = importlib.import_module(module_name)
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except OpenapiopenaiError as exc:
        print(f"openapiopenai: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result
