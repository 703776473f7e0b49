"""Which files a command runs on, and one file's detection (the unit every runner shares).

``expand_inputs`` turns command-line paths into audio files: a folder means every audio file
under it, a ``.txt``/``.lst``/``.list`` file one path per line, a ``.csv`` or ``.parquet``
manifest its ``file`` (or ``path``, else first) column. Relative paths inside a list or manifest
are taken relative to that list's folder, so a corpus folder with its manifest can move.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Final

from openapiopenai.audio.formats import SHORT_NAMES
from openapiopenai.exceptions import ConfigError
from openapiopenai.offline import DEFAULT_CHUNK_MS, Detector, Segment, chunked
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.vad.registry import AUTO

__all__ = [
    "AUDIO_SUFFIXES",
    "FileResult",
    "InputListError",
    "detect_file",
    "detect_files",
    "expand_inputs",
]

#: what a folder contributes (whatever soundfile/libsndfile reads)
AUDIO_SUFFIXES: Final = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au"})
LIST_SUFFIXES: Final = frozenset({".txt", ".lst", ".list"})
#: manifest columns that name the audio file, in order of preference
MANIFEST_COLUMNS: Final = ("file", "path", "audio", "audio_path")
#: wire formats ``detect`` can stream a file in (``--input-format``)
WIRE_FORMATS: Final = SHORT_NAMES


class InputListError(ConfigError):
    """A path, folder, list file or manifest that names no usable files: ``path`` and the
    ``reason`` apart, so that a command can print them as ``PATH: reason``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def expand_inputs(paths: Iterable[str]) -> list[str]:
    """Audio files named by ``paths`` (files, folders, lists, manifests), in the order given;
    raises :class:`InputListError` for a missing path or a list/manifest that cannot be read."""
    files: list[str] = []
    for raw in paths:
        path = Path(raw)
        suffix = path.suffix.lower()
        if path.is_dir():
            files += sorted(
                str(p) for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
            )
        elif not path.exists():
            raise InputListError(raw, "no such file or folder")
        elif suffix in LIST_SUFFIXES:
            lines = _text(path, "a list of paths, one a line").splitlines()
            files += [_relative_to(path, s.strip()) for s in lines if s.strip() and not s.startswith("#")]
        elif suffix == ".csv":
            files += [_relative_to(path, name) for name in _csv_column(path)]
        elif suffix == ".parquet":
            files += [_relative_to(path, name) for name in _parquet_column(path)]
        else:
            files.append(raw)
    return files


def _text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputListError(str(path), f"not UTF-8 text, so not {what}") from None
    except OSError as exc:
        raise InputListError(str(path), (exc.strerror or str(exc)).lower()) from None


def _relative_to(listing: Path, name: str) -> str:
    return name if os.path.isabs(name) else str(listing.parent / name)


def _manifest_files(path: Path, columns: Sequence[str], values: Callable[[str], list[str]]) -> list[str]:
    """The audio files of a manifest: its ``file``/``path``/``audio``/``audio_path`` column, else
    its first column, but only if that names at least one existing file (a manifest without a
    file column otherwise fails as "no such file" on every cell of a column of numbers)."""
    for name in MANIFEST_COLUMNS:
        if name in columns:
            return values(name)
    if not columns:
        raise InputListError(str(path), "manifest has no columns (an empty file?)")
    first = values(columns[0])
    if first and not any(os.path.exists(_relative_to(path, name)) for name in first):
        raise InputListError(
            str(path),
            f"manifest has no {'/'.join(MANIFEST_COLUMNS)} column, and its first column "
            f"({columns[0]!r}) names no existing file (its columns: {', '.join(columns)})",
        )
    return first


def _csv_column(path: Path) -> list[str]:
    text = _text(path, "a CSV manifest")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = list(reader)
        columns = [c for c in reader.fieldnames or [] if c]
    except csv.Error as exc:
        raise InputListError(str(path), f"not a CSV manifest ({exc})") from None
    return _manifest_files(path, columns, lambda name: [row[name] for row in rows if row.get(name)])


def _parquet_column(path: Path) -> list[str]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ConfigError("A Parquet manifest needs pyarrow: pip install -e '.[ray]' in a checkout") from exc
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        reason = str(exc).split("': ", 1)[-1].rstrip(".")  # past "Could not open ... 'PATH'"
        raise InputListError(str(path), f"not a Parquet manifest ({reason})") from None
    return _manifest_files(
        path, table.column_names, lambda name: [str(v) for v in table.column(name).to_pylist() if v]
    )


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
    model: str = AUTO,
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
    model: str = AUTO,
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
