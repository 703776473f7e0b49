"""``openapiopenai detect FILE...``: Realtime events (JSON lines) or speech segments (CSV)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from typing import Any

from openapiopenai.turns.config import TurnDetectionConfig

FORMATS = {"pcm": "audio/pcm", "pcmu": "audio/pcmu", "pcma": "audio/pcma"}

_HELP = {
    "threshold": "speech probability that starts a turn",
    "prefix_padding_ms": "audio kept before the detected onset",
    "silence_duration_ms": "silence that ends a turn",
    "idle_timeout_ms": "emit timeout_triggered after this much audio without a turn",
    "exit_threshold": "speech ends below this; None: threshold - 0.15, at least threshold / 2",
    "onset_lookback_ms": "date the onset back over rising frames (above the exit threshold) up to this long",
    "min_speech_duration_ms": "continuous speech needed before a turn starts",
    "warmup_ms": "after a reset (session start, clear, commit) the model state is fresh for this long",
    "warmup_min_speech_ms": "continuous speech needed before a turn starts during the warm-up",
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
    parser.add_argument("files", nargs="+", metavar="FILE", help="wav/flac/ogg at any sample rate")
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
        "--segment-pad-ms",
        type=int,
        default=None,
        help="padding each side of a segment (--output segments); default: 30 (Silero's speech_pad_ms)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_turn_options(parser)
    parser.set_defaults(func=run)


def encode_for_wire(path: str, input_format: str) -> tuple[Any, bytes]:
    """A file as the bytes a client would stream in ``input_format``."""
    from openapiopenai.audio import formats
    from openapiopenai.offline import read_audio

    fmt = formats.from_ga(FORMATS[input_format], None)
    return fmt, formats.encode(fmt, read_audio(path, fmt.sample_rate))


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from openapiopenai.offline import DEFAULT_CHUNK_MS, DEFAULT_SEGMENT_PAD_MS, Detector, chunked

    config = turn_config_from_args(args)
    if args.output == "segments":
        print("file,start_s,end_s")
    for path in args.files:
        fmt, audio = encode_for_wire(path, args.input_format)
        detector = Detector(config, model=args.backend, input_format=fmt)
        chunk = DEFAULT_CHUNK_MS * fmt.bytes_per_ms
        with tqdm(
            total=len(audio) // fmt.bytes_per_ms,
            unit="ms",
            desc=path,
            file=sys.stderr,
            disable=args.no_progress or None,
            leave=False,
        ) as bar:
            for piece in chunked(audio, chunk):
                for event in detector.feed(piece):
                    if args.output == "events":
                        print(event.to_json())
                bar.update(len(piece) // fmt.bytes_per_ms)
        for event in detector.flush():
            if args.output == "events":
                print(event.to_json())
        if args.output == "segments":
            pad = DEFAULT_SEGMENT_PAD_MS if args.segment_pad_ms is None else args.segment_pad_ms
            for segment in detector.segments(pad):
                print(f"{path},{segment.start_s:.3f},{segment.end_s:.3f}")
    return 0
