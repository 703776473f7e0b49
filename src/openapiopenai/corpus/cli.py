"""``openapiopenai segment PATH... --output segments.parquet [--ray-address ADDR]``."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any


def add_parser(subparsers: Any) -> None:
    from openapiopenai.corpus.files import WIRE_FORMATS
    from openapiopenai.offline_cli import add_turn_options

    parser = subparsers.add_parser(
        "segment",
        help="segment an audio corpus on Ray Data into a Parquet file",
        description="Speech segments (file, start_s, end_s) of every audio file under PATH... (files, "
        "folders, list files, CSV/Parquet manifests), computed on Ray Data: a local Ray by default, a "
        "cluster with --ray-address. Needs the 'ray' extra: pip install 'openapiopenai[ray]'.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="audio file, folder, list file or manifest")
    parser.add_argument("--output", required=True, help="Parquet file to write")
    parser.add_argument(
        "--ray-address", default=None, help="Ray cluster to join (default: start a local one)"
    )
    parser.add_argument("--actors", type=int, default=None, help="scoring actors (default: one per CPU)")
    parser.add_argument("--batch-size", type=int, default=4, help="files per actor call (default: 4)")
    parser.add_argument(
        "--skip-unreadable",
        action="store_true",
        help="go on past files that cannot be read and list them in OUTPUT.errors.csv (default: fail)",
    )
    parser.add_argument("--input-format", choices=sorted(WIRE_FORMATS), default="pcm")
    parser.add_argument("--backend", default="auto", help="speech model: silero (auto), webrtc, energy")
    add_turn_options(parser)
    parser.set_defaults(func=run)


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
