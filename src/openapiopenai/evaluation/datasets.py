"""Labelled audio folders: audio files plus ``speech_segments.csv`` (``file,start_s,end_s``)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
LABELS = "speech_segments.csv"


@dataclass(frozen=True, slots=True)
class LabelledFile:
    path: Path
    #: labelled speech, seconds; empty for a file of non-speech only (noise, music)
    speech: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    files: tuple[LabelledFile, ...]


def load_dataset(folder: str | Path, limit_files: int | None = None) -> Dataset:
    """Every audio file of ``folder`` with its labels (files without a row are all non-speech)."""
    root = Path(folder)
    labels_path = root / LABELS
    if not labels_path.is_file():
        raise FileNotFoundError(f"{root} has no {LABELS}")
    rows: dict[str, list[tuple[float, float]]] = {}
    with labels_path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            rows.setdefault(Path(row["file"]).stem, []).append((float(row["start_s"]), float(row["end_s"])))
    paths = sorted(p for p in root.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if limit_files is not None:
        paths = paths[:limit_files]
    files = tuple(LabelledFile(p, tuple(sorted(rows.get(p.stem, [])))) for p in paths)
    return Dataset(root.name, files)


__all__ = ["Dataset", "LabelledFile", "load_dataset"]
