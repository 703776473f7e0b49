"""The shared evaluation audio, read in place from ``../shared/data`` (never copied into the repo)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

DATA_DIR = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()
TEN_VAD = "ten-vad-testset"
AMI = "pyannote-ami-debug"


def data_file(folder: str, name: str) -> Path:
    path = DATA_DIR / folder / name
    if not path.is_file():
        pytest.skip(f"shared test audio not found: {path}")
    return path


def read_audio(folder: str, name: str) -> tuple[npt.NDArray[np.float32], int]:
    """Mono float32 samples and their rate (PCM16 and float WAVs alike)."""
    samples, rate = sf.read(data_file(folder, name), dtype="float32", always_2d=True)
    return np.ascontiguousarray(samples[:, 0]), int(rate)


def speech_segments(folder: str, name: str) -> list[tuple[float, float]]:
    """Labelled speech ``(start_s, end_s)`` of one file."""
    with data_file(folder, "speech_segments.csv").open(newline="") as fh:
        return [
            (float(row["start_s"]), float(row["end_s"])) for row in csv.DictReader(fh) if row["file"] == name
        ]


def speech_mask(
    folder: str, name: str, n_frames: int, frame_samples: int, rate: int
) -> npt.NDArray[np.bool_]:
    """Per frame: is the frame's centre inside a labelled speech segment?"""
    centres = (np.arange(n_frames) + 0.5) * frame_samples / rate
    mask = np.zeros(n_frames, dtype=bool)
    for start, end in speech_segments(folder, name):
        mask |= (centres >= start) & (centres < end)
    return mask


LIBRISPEECH = "librispeech-dev"


def reference_text(folder: str, name: str) -> str:
    """The human transcript of one file (``transcripts.csv``: ``file,text``)."""
    with data_file(folder, "transcripts.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["file"] == name:
                return row["text"]
    raise KeyError(name)
