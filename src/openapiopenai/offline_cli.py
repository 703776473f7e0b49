"""``openapiopenai detect PATH...``: Realtime events (JSON lines) or speech segments (CSV or
JSON lines), with each turn's transcript when ``--transcribe`` is given.

A PATH is an audio file, a folder (every audio file under it), a list file (``.txt``, one path a
line) or a CSV/Parquet manifest; ``--jobs N`` scores N files at once in worker processes.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields
from functools import cache
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any

from openapiopenai.asr.whisper import DEFAULT_MODEL
from openapiopenai.audio.formats import SHORT_NAMES
from openapiopenai.exceptions import ConfigError
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.vad.registry import AUTO, available_models

if TYPE_CHECKING:
    from openapiopenai.audio.formats import AudioFormat

#: ``--input-format`` names -> wire formats
FORMATS = SHORT_NAMES
#: headerless audio recognised by its extension (any file with ``--raw``): its encoding
RAW_EXTENSIONS = {".pcm": "pcm", ".raw": "pcm", ".ulaw": "pcmu", ".mulaw": "pcmu", ".alaw": "pcma"}
#: the first bytes of files with a header, which ``--raw`` would read as samples
_HEADERS = {b"RIFF": "WAV", b"fLaC": "FLAC", b"OggS": "Ogg", b"ID3": "MP3", b"FORM": "AIFF"}
#: what a closed stdout (``| head``) exits with: 128 + SIGPIPE, as a tool killed by it would
BROKEN_PIPE_EXIT = 141

_HELP = {
    "threshold": "speech probability that starts a turn",
    "prefix_padding_ms": "audio kept before the detected onset",
    "silence_duration_ms": "silence that ends a turn",
    "idle_timeout_ms": "emit timeout_triggered after this much audio without a turn",
    "exit_threshold": "hysteresis: once speaking, speech ends below this (= threshold: no hysteresis)",
    "onset_lookback_ms": "date the onset back over the frames of its rise, up to this long",
    "min_speech_duration_ms": "continuous speech needed before a turn starts",
    "warmup_ms": "after a reset (session start, clear, commit) the model state is fresh for this long",
    "warmup_min_speech_ms": "continuous speech needed before a turn starts during the warm-up",
    "max_speech_duration_ms": "force the end of a turn after this long",
    "min_level_dbfs": "frames quieter than this RMS level are never speech",
}
#: how an unset (None) default reads in the help
_UNSET = {"exit_threshold": "threshold - 0.15, at least threshold / 2"}
_METAVAR = {"threshold": "P", "exit_threshold": "P", "min_level_dbfs": "DBFS"}

DETECT_EXAMPLES = """\
examples:
  openapiopenai detect talk.wav                      Realtime events as JSON lines
  openapiopenai detect *.flac --output segments      CSV: file,start_s,end_s
  openapiopenai detect call.ulaw                     raw G.711 mu-law 8 kHz, by extension
  openapiopenai detect --rate 16000 rec.raw          headerless PCM16 LE at 16 kHz (.pcm/.raw)
  openapiopenai detect --raw --rate 16000 rec.bin    any name read as headerless PCM16 LE
  openapiopenai detect call.wav --input-format pcmu --silence-duration-ms 300
"""


def add_turn_options(parser: argparse.ArgumentParser) -> None:
    """One flag per TurnDetectionConfig field; defaults come from the config type itself."""
    group = parser.add_argument_group("turn detection (server_vad)")
    defaults = TurnDetectionConfig()
    for field in fields(TurnDetectionConfig):
        default = getattr(defaults, field.name)
        kind = float if field.name in ("threshold", "exit_threshold", "min_level_dbfs") else int
        shown = _UNSET.get(field.name, "off") if default is None else default
        group.add_argument(
            "--" + field.name.replace("_", "-"),
            type=kind,
            default=default,
            metavar=_METAVAR.get(field.name, "MS"),
            help=f"{_HELP[field.name]} (default: {shown})",
        )


def turn_config_from_args(args: argparse.Namespace) -> TurnDetectionConfig:
    return TurnDetectionConfig(**{f.name: getattr(args, f.name) for f in fields(TurnDetectionConfig)})


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="run turn detection on audio files",
        description="Stream audio files through the server_vad engine, as a Realtime client would,\n"
        "and print the server events as JSON lines or the speech segments as CSV.\n"
        "A file that cannot be read gets one line on stderr and the others are still\n"
        "processed; the exit code is then 1.",
        epilog=DETECT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="PATH",
        help="wav/flac/ogg/mp3 at any sample rate, headerless .pcm/.raw (PCM16 LE)/.ulaw/.alaw, a "
        "folder, a list file (.txt) or a manifest (.csv/.parquet)",
    )
    parser.add_argument(
        "--output",
        choices=("events", "segments", "json"),
        default="events",
        help="events: JSON lines of Realtime server events; segments: CSV file,start_s,end_s (+ text "
        "with --transcribe); json: the segments as JSON lines (default: events)",
    )
    parser.add_argument(
        "--transcribe",
        action="store_true",
        help="transcribe every turn (needs the [transcribe] extra); events then include "
        "conversation.item.input_audio_transcription.*",
    )
    parser.add_argument(
        "--transcription-model",
        default=DEFAULT_MODEL,
        metavar="NAME_OR_PATH",
        help=f"faster-whisper model name or local directory (default: {DEFAULT_MODEL}, the bundled copy)",
    )
    parser.add_argument(
        "--language",
        default=None,
        metavar="CODE",
        help="language of the speech for the transcriber, ISO-639-1 such as en or de "
        "(default: the model detects it)",
    )
    parser.add_argument(
        "--input-format",
        choices=sorted(FORMATS),
        default=None,
        help="wire format the audio is streamed in: pcm (PCM16 24 kHz), pcmu or pcma (G.711 8 kHz); "
        "with --raw also the files' encoding (default: pcm; for .ulaw/.alaw files their own)",
    )
    parser.add_argument(
        "--raw",
        action="store_true",
        help="every FILE is headerless audio in --input-format's encoding at --rate",
    )
    parser.add_argument(
        "--rate",
        type=int,
        default=None,
        metavar="HZ",
        help="sample rate of headerless files (default: 24000 for pcm, 8000 for pcmu/pcma)",
    )
    parser.add_argument(
        "--backend",
        choices=[AUTO, *available_models()],
        default=AUTO,
        help=f"speech model; auto = {available_models()[0]} (default: {AUTO})",
    )
    parser.add_argument(
        "--segment-pad-ms",
        type=int,
        default=None,
        metavar="MS",
        help="padding each side of a segment (--output segments) (default: 30, Silero's speech_pad_ms)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="files scored at once, each in its own process (default: 1; 0 = one per core)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar on stderr")
    add_turn_options(parser)
    parser.set_defaults(func=run)


class InputError(Exception):
    """A file that cannot be used; the message is the reason, without the file's name."""


@dataclass(frozen=True, slots=True)
class WireAudio:
    """One file as a client would stream it."""

    fmt: AudioFormat
    data: bytes
    warnings: tuple[str, ...] = ()


def _raw_encoding(path: str, args: argparse.Namespace) -> str | None:
    """The encoding of a headerless file (``pcm``/``pcmu``/``pcma``), or None for a headered one."""
    by_extension = RAW_EXTENSIONS.get(os.path.splitext(path)[1].lower())
    if by_extension is not None:
        return by_extension
    if args.raw:
        return str(args.input_format or "pcm")
    return None


def load_for_wire(path: str, args: argparse.Namespace) -> WireAudio:
    """A file as the bytes a client would stream; raises InputError with the reason it cannot."""
    import numpy as np

    from openapiopenai.audio import formats
    from openapiopenai.offline import read_audio

    if os.path.isdir(path):
        raise InputError("is a directory")
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise InputError(_reason(exc)) from None
    encoding = _raw_encoding(path, args)
    wire = formats.from_ga(FORMATS[args.input_format or encoding or "pcm"])
    warnings: list[str] = []
    if size == 0:
        return WireAudio(wire, b"", ("empty file (0 bytes): no audio to detect turns in",))
    if encoding is not None:
        source = formats.from_ga(FORMATS[encoding])
        rate = args.rate or source.sample_rate
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise InputError(_reason(exc)) from None
        header = next((kind for magic, kind in _HEADERS.items() if data.startswith(magic)), None)
        if header is not None:
            warnings.append(f"looks like a {header} file, but --raw reads its header as samples too")
        extra = len(data) % source.bytes_per_sample
        if extra:
            warnings.append(f"ignored the last {extra} byte(s): not a whole {source.beta_name} sample")
            data = data[: len(data) - extra]
        if source is wire and rate == wire.sample_rate:
            audio = data  # streamed exactly as stored
        else:
            import soxr

            samples = formats.decode(source, data)
            if rate != wire.sample_rate:
                samples = soxr.resample(samples, rate, wire.sample_rate).astype(np.float32)
            audio = formats.encode(wire, samples)
    else:
        if args.rate is not None:
            warnings.append(f"--rate {args.rate} ignored: the file's header gives its rate")
        try:
            with _quiet_stderr():  # libmpg123 prints "Note: ... resync" while it probes non-MP3s
                samples = read_audio(path, wire.sample_rate)
        except OSError as exc:
            raise InputError(_reason(exc)) from None
        except (RuntimeError, TypeError, ValueError) as exc:  # LibsndfileError: not audio, damaged
            raise InputError(_unreadable(exc)) from None
        audio = formats.encode(wire, samples)
    if not audio:
        warnings.append("0 seconds of audio: no turns to detect")
    return WireAudio(wire, audio, tuple(warnings))


#: libsndfile's words for a file it found but could not recognise (said as if it were missing)
_MISLEADING = ("does not exist", "not a regular file")
HEADERLESS_HINT = "headerless audio needs --raw (and --rate HZ), or a .pcm/.raw/.ulaw/.alaw name"


def _unreadable(exc: Exception) -> str:
    """Why soundfile could not read an existing file, in one line."""
    if isinstance(exc, TypeError):  # soundfile treats some names (.raw) as headerless, rateless audio
        return f"headerless audio: {HEADERLESS_HINT}"
    detail = str(getattr(exc, "error_string", "") or exc).strip().rstrip(".")
    if not detail or any(words in detail.lower() for words in _MISLEADING):
        return f"not a readable audio file; {HEADERLESS_HINT}"
    return f"not a readable audio file ({detail}); {HEADERLESS_HINT}"


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 points at /dev/null inside: C libraries that print straight to it
    (libmpg123 inside libsndfile) stay quiet. Python's own writes wait until after."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no fd 2 to save: nothing to silence either
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _reason(exc: OSError) -> str:
    """``No such file or directory`` -> ``no such file or directory`` (the name is said already)."""
    return exc.strerror.lower() if exc.strerror else str(exc)


def _say(kind: str, path: str, reason: str) -> None:
    print(f"openapiopenai detect: {kind}: {path}: {reason}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from openapiopenai.corpus.files import InputListError, expand_inputs

    if args.rate is not None and args.rate <= 0:
        raise ConfigError(f"--rate must be a positive number of Hz, got {args.rate}")
    config = turn_config_from_args(args)  # a bad value stops before any file is read
    paths: list[str] = []
    failed = 0
    for raw in args.files:
        if os.path.isdir(raw) or os.path.splitext(raw)[1].lower() in LISTINGS:
            try:
                found = expand_inputs([raw])
            except InputListError as exc:
                _say("error", exc.path, exc.reason)
                failed += 1
                continue
            except (ConfigError, OSError) as exc:
                _say("error", raw, str(exc))
                failed += 1
                continue
            if not found:
                _say("error", raw, "no audio files in it")
                failed += 1
            paths += found
        else:
            paths.append(raw)  # a file: read (and its errors reported) in order below
    rows = csv.writer(sys.stdout, lineterminator="\n")
    if args.output == "segments":
        rows.writerow(["file", "start_s", "end_s", *(["text"] if args.transcribe else [])])
    jobs = args.jobs if args.jobs > 0 else (os.cpu_count() or 1)
    outcomes: Iterator[_Outcome]
    pool = None
    if jobs > 1 and len(paths) > 1:
        # spawn, not fork: this process may already hold onnxruntime's threads
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(paths)), mp_context=get_context("spawn"))
        outcomes = pool.map(_detect_path, paths, [args] * len(paths), [config] * len(paths))
    else:
        outcomes = (_detect_path(path, args, config) for path in paths)
    bar = tqdm(total=len(paths), unit="file", file=sys.stderr, disable=args.no_progress or None, leave=False)
    try:
        with bar:
            for outcome in outcomes:
                for kind, message in outcome.notes:
                    _say(kind, outcome.path, message)
                failed += not outcome.ok
                for line in outcome.lines:
                    print(line)
                for row in outcome.rows:
                    rows.writerow(row)
                sys.stdout.flush()  # a closed pipe shows here, not at exit
                bar.update(1)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return 1 if failed else 0


#: argument suffixes that name several files (``corpus.files.expand_inputs`` reads them)
LISTINGS = frozenset({".txt", ".lst", ".list", ".csv", ".parquet"})


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One file's output, made where it was scored (possibly another process)."""

    path: str
    ok: bool
    notes: tuple[tuple[str, str], ...] = ()
    lines: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()


@cache
def _engines(backend: str, transcribe: bool, transcription_model: str) -> tuple[Any, Any]:
    """The speech model (and recogniser) of this process, loaded once."""
    from openapiopenai.vad.registry import load_model

    transcriber = None
    if transcribe:
        from openapiopenai.asr import load_transcriber

        transcriber = load_transcriber(transcription_model)
    return load_model(backend), transcriber


def _detect_path(path: str, args: argparse.Namespace, config: TurnDetectionConfig) -> _Outcome:
    from openapiopenai.offline import DEFAULT_CHUNK_MS, DEFAULT_SEGMENT_PAD_MS, Detector, chunked

    try:
        loaded = load_for_wire(path, args)
    except InputError as exc:
        return _Outcome(path, False, (("error", str(exc)),))
    notes = tuple(("warning", w) for w in loaded.warnings)
    model, transcriber = _engines(args.backend, args.transcribe, args.transcription_model)
    transcription: dict[str, object] | None = None
    if transcriber is not None:
        transcription = {"model": args.transcription_model}
        if args.language:
            transcription["language"] = args.language
    fmt, audio = loaded.fmt, loaded.data
    detector = Detector(
        config, model=model, input_format=fmt, transcriber=transcriber, transcription=transcription
    )
    lines: list[str] = []
    for piece in chunked(audio, DEFAULT_CHUNK_MS * fmt.bytes_per_ms):
        lines += [event.to_json() for event in detector.feed(piece)]
    lines += [event.to_json() for event in detector.flush()]
    if args.output != "events":
        lines = []
    rows: list[tuple[str, ...]] = []
    pad = DEFAULT_SEGMENT_PAD_MS if args.segment_pad_ms is None else args.segment_pad_ms
    for segment in detector.segments(pad):
        start, end = f"{segment.start_s:.3f}", f"{segment.end_s:.3f}"
        if args.output == "segments":
            rows.append((path, start, end, *([segment.text or ""] if transcriber else [])))
        elif args.output == "json":
            row: dict[str, object] = {"file": path, "start_s": float(start), "end_s": float(end)}
            if transcriber is not None:
                row["text"] = segment.text or ""
            lines.append(json.dumps(row))
    return _Outcome(path, True, notes, tuple(lines), tuple(rows))
