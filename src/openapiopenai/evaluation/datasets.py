"""Labelled audio folders: audio files plus ``speech_segments.csv`` (``file,start_s,end_s``).

A row names a file with or without its extension. A file listed with no rows, or not listed at
all, is non-speech from start to end, so a folder of real noise or music recordings is evaluated
as it is (every ``speech_started`` there is a false start).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["AUDIO_SUFFIXES", "LABELS", "Dataset", "LabelledFile", "load_dataset", "read_mono"]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
LABELS = "speech_segments.csv"


@dataclass(frozen=True, slots=True)
class LabelledFile:
    path: Path
    #: labelled speech ``(start_s, end_s)``, sorted; empty for a file of non-speech only
    speech: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    files: tuple[LabelledFile, ...]


def _key(name: str) -> str:
    """A CSV ``file`` value or a file name, without an audio extension."""
    path = Path(name.strip())
    return path.stem if path.suffix.lower() in AUDIO_SUFFIXES else path.name


def load_dataset(folder: str | Path, limit_files: int | None = None) -> Dataset:
    """Every audio file of ``folder`` (sorted by name; the first ``limit_files`` if given)."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"no such dataset folder: {root}")
    labels_path = root / LABELS
    if not labels_path.is_file():
        raise FileNotFoundError(f"{root} has no {LABELS}")
    rows: dict[str, list[tuple[float, float]]] = {}
    with labels_path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            start, end = float(row["start_s"]), float(row["end_s"])
            if end < start:
                raise ValueError(f"{labels_path}: segment ends before it starts: {row}")
            rows.setdefault(_key(row["file"]), []).append((start, end))
    paths = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if limit_files is not None:
        paths = paths[:limit_files]
    files = tuple(LabelledFile(p, tuple(sorted(rows.get(_key(p.name), [])))) for p in paths)
    return Dataset(root.name, files)


def read_mono(path: str | Path) -> tuple[npt.NDArray[np.float32], int]:
    """A file's samples mixed to mono float32, and its sample rate (any format soundfile reads)."""
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = np.ascontiguousarray(data.mean(axis=1, dtype=np.float32), dtype=np.float32)
    return mono, int(rate)
