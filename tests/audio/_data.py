"""Test audio: the repository's own fixtures, and the shared evaluation recordings.

Every test but the evaluation ones streams ``tests/fixtures/`` (short English speech synthesised
with espeak-ng by ``tools/make_fixtures.py``, committed, labelled in ``speech_segments.csv``), so
a fresh clone runs them all. The shared recordings (``../shared/data``, or
``$OPENAPIOPENAI_SHARED_DATA``) are read in place, never copied into the repo, by the evaluation
tests only; when they are missing those tests skip, or fail when ``OPENAPIOPENAI_REQUIRE_DATA``
is set (CI sets it), so nobody mistakes a skipped evaluation for a passed one.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
import soxr

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
#: one utterance, nothing after it (the turn is still open at the end)
SPEECH = "speech_24k.wav"
#: the same utterance at telephony's rate
SPEECH_8K = "speech_8k.wav"
#: one utterance, then 1.5 s of silence (a complete turn)
SPEECH_THEN_SILENCE = "speech_then_silence_24k.wav"
#: two utterances 1.5 s apart (two turns)
TWO_TURNS = "two_turns_16k.wav"
#: 6 s of seeded background noise, no speech: pink noise, mains hum and reversed-speech babble
#: (``make_noise`` in tools/make_fixtures.py says what RNNoise and Silero make of it)
NOISE = "noise_16k.wav"
#: semantic_vad (tools/make_semantic_fixtures.py; 16 kHz, 0.3 s of silence, then speech to the end
#: of the file): a sentence the end-of-turn model finds complete, an unfinished thought it does not,
#: and what that thought goes on with
COMPLETE_SENTENCE = "complete_sentence_16k.wav"
UNFINISHED_SENTENCE = "unfinished_sentence_16k.wav"
SENTENCE_REST = "sentence_rest_16k.wav"

SHARED_DATA_ENV = "OPENAPIOPENAI_SHARED_DATA"
REQUIRE_DATA_ENV = "OPENAPIOPENAI_REQUIRE_DATA"
DATA_DIR = Path(
    os.environ.get(SHARED_DATA_ENV) or Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
).resolve()
TEN_VAD = "ten-vad-testset"
AMI = "pyannote-ami-debug"


def fixture_path(name: str) -> Path:
    path = FIXTURES / name
    assert path.is_file(), f"{path} is missing: the fixtures are committed (tools/make_fixtures.py)"
    return path


def fixture_audio(name: str) -> tuple[npt.NDArray[np.float32], int]:
    """Mono float32 samples of a fixture and their rate."""
    samples, rate = sf.read(fixture_path(name), dtype="float32")
    return np.ascontiguousarray(samples), int(rate)


def fixture_at(name: str, rate: int) -> npt.NDArray[np.float32]:
    """A fixture's samples resampled to ``rate``."""
    samples, source_rate = fixture_audio(name)
    if source_rate == rate:
        return samples
    return np.asarray(soxr.resample(samples, source_rate, rate), dtype=np.float32)


def speech_pcm(name: str = SPEECH) -> bytes:
    """A fixture as the PCM16 24 kHz bytes a Realtime client streams."""
    samples = fixture_at(name, 24_000)
    return np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2").tobytes()


def speech_segments(name: str) -> list[tuple[float, float]]:
    """Labelled speech ``(start_s, end_s)`` of one fixture."""
    with fixture_path("speech_segments.csv").open(newline="") as fh:
        segments = [
            (float(row["start_s"]), float(row["end_s"])) for row in csv.DictReader(fh) if row["file"] == name
        ]
    assert segments, f"no labels for {name}"
    return segments


def speech_mask(name: str, n_frames: int, frame_samples: int, rate: int) -> npt.NDArray[np.bool_]:
    """Per frame: is the frame's centre inside a labelled speech segment?"""
    centres = (np.arange(n_frames) + 0.5) * frame_samples / rate
    mask = np.zeros(n_frames, dtype=bool)
    for start, end in speech_segments(name):
        mask |= (centres >= start) & (centres < end)
    return mask


def shared_dataset(folder: str) -> Path:
    """A folder of the shared evaluation data; skips (or, in CI, fails) when it is missing."""
    path = DATA_DIR / folder
    if not path.is_dir():
        reason = f"shared evaluation data not found: {path} (set ${SHARED_DATA_ENV})"
        if os.environ.get(REQUIRE_DATA_ENV):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def data_file(folder: str, name: str) -> Path:
    """One recording of the shared evaluation data (skips, or fails in CI, when missing)."""
    path = shared_dataset(folder) / name
    if not path.is_file():
        pytest.fail(f"shared evaluation file missing: {path}")
    return path


def read_audio(folder: str, name: str) -> tuple[npt.NDArray[np.float32], int]:
    """Mono float32 samples and their rate of a shared recording."""
    samples, rate = sf.read(data_file(folder, name), dtype="float32", always_2d=True)
    return np.ascontiguousarray(samples[:, 0]), int(rate)


LIBRISPEECH = "librispeech-dev"


def reference_text(folder: str, name: str) -> str:
    """The human transcript of one file (``transcripts.csv``: ``file,text``)."""
    with data_file(folder, "transcripts.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["file"] == name:
                return row["text"]
    raise KeyError(name)
