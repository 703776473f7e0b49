"""Which files a command runs on, and one file's detection (the unit every runner shares).

``expand_inputs`` turns command-line paths into audio files: a folder means every audio file
under it, a ``.txt``/``.lst``/``.list`` file one path per line, a ``.csv`` or ``.parquet``
manifest its ``file`` (or ``path``, else first) column. Relative paths inside a list or manifest
are taken relative to that list's folder, so a corpus folder with its manifest can move.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Final

from openapiopenai.exceptions import ConfigError
from openapiopenai.offline import DEFAULT_CHUNK_MS, Detector, Segment, chunked
from openapiopenai.turns.config import TurnDetectionConfig

__all__ = ["AUDIO_SUFFIXES", "FileResult", "detect_file", "detect_files", "expand_inputs"]

#: what a folder contributes (whatever soundfile/libsndfile reads)
AUDIO_SUFFIXES: Final = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au"})
LIST_SUFFIXES: Final = frozenset({".txt", ".lst", ".list"})
#: manifest columns that name the audio file, in order of preference
MANIFEST_COLUMNS: Final = ("file", "path", "audio", "audio_path")
#: wire formats ``detect`` can stream a file in (``--input-format``)
WIRE_FORMATS: Final = {"pcm": "audio/pcm", "pcmu": "audio/pcmu", "pcma": "audio/pcma"}


def expand_inputs(paths: Iterable[str]) -> list[str]:
    """Audio files named by ``paths`` (files, folders, lists, manifests), in the order given."""
    files: list[str] = []
    for raw in paths:
        path = Path(raw)
        suffix = path.suffix.lower()
        if path.is_dir():
            files += sorted(
                str(p) for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
            )
        elif not path.exists():
            raise ConfigError(f"No such file or folder: {raw}")
        elif suffix in LIST_SUFFIXES:
            lines = path.read_text().splitlines()
            files += [_relative_to(path, s.strip()) for s in lines if s.strip() and not s.startswith("#")]
        elif suffix == ".csv":
            files += [_relative_to(path, name) for name in _csv_column(path)]
        elif suffix == ".parquet":
            files += [_relative_to(path, name) for name in _parquet_column(path)]
        else:
            files.append(raw)
    return files


def _relative_to(listing: Path, name: str) -> str:
    return name if os.path.isabs(name) else str(listing.parent / name)


def _pick_column(columns: Sequence[str], where: Path) -> str:
    for name in MANIFEST_COLUMNS:
        if name in columns:
            return name
    if not columns:
        raise ConfigError(f"Manifest {where} has no columns")
    return columns[0]


def _csv_column(path: Path) -> list[str]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        column = _pick_column(list(reader.fieldnames or []), path)
        return [row[column] for row in reader if row.get(column)]


def _parquet_column(path: Path) -> list[str]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ConfigError("A Parquet manifest needs pyarrow: pip install 'openapiopenai[ray]'") from exc
    table = pq.read_table(path)
    column = _pick_column(table.column_names, path)
    return [str(v) for v in table.column(column).to_pylist() if v]


@dataclass(frozen=True, slots=True)
class FileResult:
    """One file's detection: its speech segments, and its events as JSON lines if asked for."""

    file: str
    segments: list[Segment]
    duration_s: float
    events: list[str] = field(default_factory=list)


def detect_file(
    path: str,
    config: TurnDetectionConfig | None = None,
    *,
    model: str = "auto",
    input_format: str = "pcm",
    events: bool = False,
) -> FileResult:
    """Stream ``path`` through the Detector in ``input_format``, as ``openapiopenai detect`` does."""
    from openapiopenai.audio import formats
    from openapiopenai.offline import read_audio

    if input_format not in WIRE_FORMATS:
        raise ConfigError(f"Unknown input format {input_format!r}; choose one of: {', '.join(WIRE_FORMATS)}")
    fmt = formats.from_ga(WIRE_FORMATS[input_format], None)
    audio = formats.encode(fmt, read_audio(path, fmt.sample_rate))
    detector = Detector(config, model=model, input_format=fmt)
    lines: list[str] = []
    for piece in chunked(audio, DEFAULT_CHUNK_MS * fmt.bytes_per_ms):
        produced = detector.feed(piece)
        if events:
            lines += [event.to_json() for event in produced]
    produced = detector.flush()
    if events:
        lines += [event.to_json() for event in produced]
    seconds = len(audio) / (fmt.bytes_per_ms * 1000)
    return FileResult(path, detector.segments(), seconds, lines)


def _detect_one(job: tuple[str, TurnDetectionConfig, str, str, bool]) -> FileResult:
    path, config, model, input_format, events = job
    return detect_file(path, config, model=model, input_format=input_format, events=events)


def detect_files(
    paths: Sequence[str],
    config: TurnDetectionConfig | None = None,
    *,
    model: str = "auto",
    input_format: str = "pcm",
    events: bool = False,
    jobs: int = 1,
) -> Iterator[FileResult]:
    """``detect_file`` over ``paths``, results in input order; ``jobs`` > 1 scores that many files
    at once in worker processes (each loads the model once and runs it on one core)."""
    config = config or TurnDetectionConfig()
    work = [(p, config, model, input_format, events) for p in paths]
    if jobs <= 1 or len(work) <= 1:
        yield from map(_detect_one, work)
        return
    # spawn, not fork: the parent may already hold onnxruntime's threads
    with ProcessPoolExecutor(max_workers=min(jobs, len(work)), mp_context=get_context("spawn")) as pool:
        yield from pool.map(_detect_one, work)
