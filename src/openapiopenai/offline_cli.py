"""``openapiopenai detect FILE...``: Realtime events (JSON lines) or speech segments (CSV or
JSON lines), with each turn's transcript when ``--transcribe`` is given."""

from __future__ import annotations

import argparse
import csv
import json
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
    parser.add_argument("files", nargs="+", metavar="FILE", help="wav/flac/ogg at any sample rate")
    parser.add_argument(
        "--output",
        choices=("events", "segments", "json"),
        default="events",
        help="JSON lines of Realtime events; segments as CSV file,start_s,end_s (+ text with "
        "--transcribe); or segments as JSON lines (default: events)",
    )
    parser.add_argument(
        "--transcribe",
        action="store_true",
        help="transcribe every turn (needs the [transcribe] extra); events then include "
        "conversation.item.input_audio_transcription.*",
    )
    parser.add_argument(
        "--transcription-model",
        default="tiny.en",
        metavar="NAME_OR_PATH",
        help="faster-whisper model name or local model directory (default: tiny.en, the bundled copy)",
    )
    parser.add_argument("--language", default=None, help="language hint for the transcriber (ISO-639-1)")
    parser.add_argument(
        "--input-format",
        choices=sorted(FORMATS),
        default="pcm",
        help="wire format the audio is streamed in: pcm (24 kHz PCM16), pcmu, pcma (8 kHz G.711)",
    )
    parser.add_argument("--backend", default="auto", help="speech model: silero (auto), webrtc, energy")
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

    from openapiopenai.offline import DEFAULT_CHUNK_MS, Detector, chunked

    config = turn_config_from_args(args)
    transcriber = None
    transcription: dict[str, object] | None = None
    if args.transcribe:
        from openapiopenai.asr import load_transcriber

        transcriber = load_transcriber(args.transcription_model)
        transcription = {"model": args.transcription_model}
        if args.language:
            transcription["language"] = args.language
    rows = csv.writer(sys.stdout, lineterminator="\n")
    if args.output == "segments":
        rows.writerow(["file", "start_s", "end_s", *(["text"] if transcriber else [])])
    for path in args.files:
        fmt, audio = encode_for_wire(path, args.input_format)
        detector = Detector(
            config, model=args.backend, input_format=fmt, transcriber=transcriber, transcription=transcription
        )
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
        for segment in detector.segments():
            start, end = f"{segment.start_s:.3f}", f"{segment.end_s:.3f}"
            if args.output == "segments":
                rows.writerow([path, start, end, *([segment.text or ""] if transcriber else [])])
            elif args.output == "json":
                row: dict[str, object] = {"file": path, "start_s": float(start), "end_s": float(end)}
                if transcriber is not None:
                    row["text"] = segment.text or ""
                print(json.dumps(row))
    return 0
