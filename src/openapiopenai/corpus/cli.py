"""``openapiopenai segment PATH... --output segments.parquet [--ray-address ADDR]``."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

EXAMPLES = """\
examples:
  openapiopenai segment corpus/ --output segments.parquet                   a local Ray, every CPU
  openapiopenai segment manifest.csv --output s.parquet --actors 4 --batch-size 8
  openapiopenai segment corpus/ --output s.parquet --ray-address ray://head:10001 --skip-unreadable
"""


def add_parser(subparsers: Any) -> None:
    from openapiopenai.corpus.files import WIRE_FORMATS
    from openapiopenai.offline_cli import add_turn_options
    from openapiopenai.vad.registry import AUTO

    parser = subparsers.add_parser(
        "segment",
        help="segment an audio corpus on Ray Data into a Parquet file",
        description="Speech segments (file, start_s, end_s) of every audio file under PATH... (files,\n"
        "folders, list files, CSV/Parquet manifests), computed on Ray Data: a local Ray by default,\n"
        "a cluster with --ray-address. Needs the 'ray' extra (pip install -e '.[ray]' in a checkout).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="audio file, folder, list file or manifest")
    parser.add_argument(
        "--output", required=True, metavar="PARQUET", help="Parquet file to write (file, start_s, end_s)"
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="Ray cluster to join, e.g. ray://head:10001 or auto (default: start a local one)",
    )
    parser.add_argument(
        "--actors", type=int, default=None, metavar="N", help="scoring actors (default: one per CPU)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=4, metavar="N", help="files per actor call (default: 4)"
    )
    parser.add_argument(
        "--skip-unreadable",
        action="store_true",
        help="go on past files that cannot be read and list them in PARQUET.errors.csv "
        "(default: stop at the first)",
    )
    parser.add_argument(
        "--input-format",
        choices=sorted(WIRE_FORMATS),
        default="pcm",
        help="wire format the audio is scored in, as a client would stream it: pcm (PCM16 24 kHz), "
        "pcmu or pcma (G.711 8 kHz) (default: pcm)",
    )
    parser.add_argument("--backend", default=AUTO, help="speech model: silero (auto), webrtc, energy")
    _list_backends(parser)
    add_turn_options(parser)
    parser.set_defaults(func=run)


def _list_backends(parser: argparse.ArgumentParser) -> None:
    """``--backend``'s choices and help, as ``detect`` shows them."""
    from openapiopenai.vad.registry import AUTO, available_models

    backend = next(a for a in parser._actions if a.dest == "backend")
    backend.choices = [AUTO, *available_models()]
    backend.help = f"speech model; {AUTO} = {available_models()[0]} (default: {AUTO})"


def run(args: argparse.Namespace) -> int:
    from openapiopenai.corpus.files import expand_inputs
    from openapiopenai.corpus.ray_segment import segment_corpus
    from openapiopenai.offline_cli import turn_config_from_args

    paths = expand_inputs(args.paths)
    rows, failed = segment_corpus(
        paths,
        args.output,
        turn_config_from_args(args),
        model=args.backend,
        input_format=args.input_format,
        address=args.ray_address,
        actors=args.actors,
        batch_size=args.batch_size,
        skip_errors=args.skip_unreadable,
    )
    print(f"{rows} segments from {len(paths) - len(failed)} files -> {args.output}", file=sys.stderr)
    if failed:
        errors = f"{args.output}.errors.csv"
        with open(errors, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file", "error"])
            writer.writerows(failed)
        print(f"{len(failed)} files could not be read: {errors}", file=sys.stderr)
        return 1
    return 0
