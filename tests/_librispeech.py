"""The shared LibriSpeech dev sentences (one per file), for the tests that need real read speech
(the end-of-turn model judges language, which the synthesised fixtures do not carry)."""

from __future__ import annotations

import csv

import numpy as np
import numpy.typing as npt
import soundfile as sf

from tests.audio._data import shared_dataset

FOLDER = "librispeech-dev"


def libri_audio(name: str) -> tuple[npt.NDArray[np.float32], int]:
    samples, rate = sf.read(shared_dataset(FOLDER) / name, dtype="float32", always_2d=True)
    return np.ascontiguousarray(samples[:, 0]), int(rate)


def libri_span(name: str) -> tuple[float, float]:
    """First and last speech of the file (``speech_segments.csv``, seconds)."""
    with (shared_dataset(FOLDER) / "speech_segments.csv").open(newline="") as fh:
        (row,) = [r for r in csv.DictReader(fh) if r["file"] == name]
    return float(row["start_s"]), float(row["end_s"])
