"""Synthetic audio and a scripted speech model, for exact, deterministic tests.

Audio is built from segments of tone ("speech") and silence whose boundaries fall on model
frame boundaries, so the expected event positions can be written down by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from openapiopenai.vad.base import FloatArray, StreamState

RATE = 24_000


def tone(ms: int, rate: int = RATE, freq: float = 440.0, amplitude: float = 0.5) -> npt.NDArray[np.float32]:
    t = np.arange(ms * rate // 1000) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def silence(ms: int, rate: int = RATE) -> npt.NDArray[np.float32]:
    return np.zeros(ms * rate // 1000, dtype=np.float32)


def pcm16(*parts: npt.NDArray[np.float32]) -> bytes:
    samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2").tobytes()


@dataclass
class _State:
    frames: int = 0

    def reset(self) -> None:
        self.frames = 0


@dataclass
class LoudnessModel:
    """A stand-in speech model: a frame is "speech" (p=1) when its RMS exceeds ``level``.

    It has Silero's frame sizes and rates, so the Session's framing is the real one, but its
    verdict on tone-vs-silence audio is exact.
    """

    name: str = "loudness"
    level: float = 0.05
    calls: list[int] = field(default_factory=list)

    def supported_rates(self) -> tuple[int, ...]:
        return (16_000, 8_000)

    def frame_samples(self, sample_rate: int) -> int:
        return 512 if sample_rate == 16_000 else 256

    def new_state(self, sample_rate: int) -> StreamState:
        return _State()

    def score(self, frames: FloatArray, states: Sequence[StreamState], sample_rate: int) -> FloatArray:
        self.calls.append(len(frames))
        rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
        return (rms > self.level).astype(np.float32)
