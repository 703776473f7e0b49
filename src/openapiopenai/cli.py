"""The ``openapiopenai`` command: ``serve``, ``detect``, ``eval``.

Each subcommand lives beside the code it drives and registers itself here through an
``add_parser(subparsers)`` function that sets ``func``; imports are lazy so that ``detect``
never pays for the web stack and ``serve`` never for the evaluation code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from openapiopenai import __version__
from openapiopenai.exceptions import OpenapiopenaiError

#: subcommand -> (module that defines ``add_parser``, one-line help)
SUBCOMMANDS = {
    "serve": ("openapiopenai.server.cli", "run the Realtime WebSocket server"),
    "detect": ("openapiopenai.offline_cli", "run turn detection on audio files"),
    "eval": ("openapiopenai.evaluation.cli", "measure accuracy against labelled audio"),
    "segment": ("openapiopenai.corpus.cli", "segment an audio corpus on Ray Data into Parquet"),
}


EXAMPLES = """\
examples:
  openapiopenai serve                            ws://127.0.0.1:8000/v1/realtime, live page at /
  openapiopenai detect talk.wav                  turn events of a file as JSON lines
  openapiopenai detect *.wav --output segments   speech segments as CSV
  openapiopenai COMMAND --help                   the options of one command
"""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser for ``command``; the others are listed by name only, so that running one
    subcommand never imports the code of another (``detect`` never loads the web stack)."""
    parser = argparse.ArgumentParser(
        prog="openapiopenai",
        description="Self-hosted server-side turn detection for the OpenAI Realtime API.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if name == command:
            importlib.import_module(module_name).add_parser(sub)
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    command = next((w for w in words if not w.startswith("-")), None)
    args = build_parser(command if command in SUBCOMMANDS else None).parse_args(words)
    try:
        result: int = args.func(args)
    except OpenapiopenaiError as exc:
        print(f"openapiopenai: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (``| head``): stop quietly, like any Unix filter; stdout now points
        # at /dev/null so the interpreter's final flush cannot complain either
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        from openapiopenai.offline_cli import BROKEN_PIPE_EXIT

        return BROKEN_PIPE_EXIT
    return result
