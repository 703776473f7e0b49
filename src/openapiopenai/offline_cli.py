"""``openapiopenai detect PATH...``: Realtime events (JSON lines) or speech segments (CSV).

A PATH is an audio file, a folder (every audio file under it), a list file (``.txt``, one path a
line) or a CSV/Parquet manifest; ``--jobs N`` scores N files at once in worker processes.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from typing import Any

from openapiopenai.corpus.files import WIRE_FORMATS as FORMATS
from openapiopenai.turns.config import TurnDetectionConfig

_HELP = {
    "threshold": "speech probability that starts a turn",
    "prefix_padding_ms": "audio kept before the detected onset",
    "silence_duration_ms": "silence that ends a turn",
    "idle_timeout_ms": "emit timeout_triggered after this much audio without a turn",
    "exit_threshold": "hysteresis: probability below which speech ends (default: = threshold)",
    "min_speech_duration_ms": "continuous speech needed before a turn starts",
    "max_speech_duration_ms": "force the end of a turn after this long",
    "min_level_dbfs": "frames quieter than this RMS level are never speech",
}


def add_turn_options(parser: argparse.ArgumentParser) -> None:
    """One flag per TurnDetectionConfig field; defaults come from the config type itself."""
    group = parser.add_argument_group("turn detection (server_vad)")
    defaults = TurnDetectionConfig()
    for field in fields(TurnDetectionConfig):
        default = getattr(defaults, field.name)
        kind = float if field.name in ("threshold", "exit_threshold", "min_level_dbfs") else int
        group.add_argument(
            "--" + field.name.replace("_", "-"),
            type=kind,
            default=default,
            help=f"{_HELP[field.name]} (default: {default})",
        )


def turn_config_from_args(args: argparse.Namespace) -> TurnDetectionConfig:
    return TurnDetectionConfig(**{f.name: getattr(args, f.name) for f in fields(TurnDetectionConfig)})


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="run turn detection on audio files",
        description="Stream audio files through the server_vad engine, as a Realtime client would, and "
        "print the server events as JSON lines or the speech segments as CSV.",
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="PATH",
        help="audio file (wav/flac/ogg, any rate), folder, list file (.txt) or manifest (.csv/.parquet)",
    )
    parser.add_argument(
        "--output",
        choices=("events", "segments"),
        default="events",
        help="JSON lines of Realtime events, or CSV file,start_s,end_s (default: events)",
    )
    parser.add_argument(
        "--input-format",
        choices=sorted(FORMATS),
        default="pcm",
        help="wire format the audio is streamed in: pcm (24 kHz PCM16), pcmu, pcma (8 kHz G.711)",
    )
    parser.add_argument("--backend", default="auto", help="speech model: silero (auto), webrtc, energy")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="files scored at once, each in its own process on one core (default: 1; 0 = all cores)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_turn_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from tqdm import tqdm

    from openapiopenai.corpus.files import detect_files, expand_inputs

    config = turn_config_from_args(args)
    paths = expand_inputs(args.files)
    jobs = args.jobs if args.jobs > 0 else (os.cpu_count() or 1)
    events = args.output == "events"
    if not events:
        print("file,start_s,end_s")
    results = detect_files(
        paths, config, model=args.backend, input_format=args.input_format, events=events, jobs=jobs
    )
    bar = tqdm(total=len(paths), unit="file", file=sys.stderr, disable=args.no_progress or None, leave=False)
    with bar:
        for result in results:
            if events:
                for line in result.events:
                    print(line)
            else:
                for segment in result.segments:
                    print(f"{result.file},{segment.start_s:.3f},{segment.end_s:.3f}")
            bar.update(1)
    return 0
