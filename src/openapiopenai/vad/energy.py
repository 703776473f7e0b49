"""A plain energy detector: loudness above a per-stream adaptive noise floor.

No model file, no native code: a baseline for the evaluation and a fallback where nothing else
installs. Per frame it measures the RMS level in dBFS and compares it with the stream's noise
floor; the score is a logistic of ``level - floor - margin_db`` so that it behaves like a
probability (0.5 exactly ``margin_db`` above the floor) and the same thresholds apply as for a
neural model.

The floor follows quiet audio down at once and creeps up slowly (``rise_db_per_s``), so steady
background noise is absorbed within seconds while a sentence (which keeps dipping to the floor
between words) is not. It never goes below ``min_floor_dbfs``, so near-digital silence does not
make faint hiss look like speech.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from openapiopenai.audio.pipeline import frame_levels_dbfs
from openapiopenai.vad.base import FloatArray, StreamState

__all__ = ["EnergyModel", "EnergyState"]

_RATES: Final = (16_000, 8_000, 24_000, 48_000)


class EnergyState:
    """One stream's noise floor estimate (dBFS)."""

    __slots__ = ("floor_dbfs", "initial_floor_dbfs", "sample_rate")

    def __init__(self, sample_rate: int, initial_floor_dbfs: float) -> None:
        self.sample_rate = sample_rate
        self.initial_floor_dbfs = initial_floor_dbfs
        self.floor_dbfs = initial_floor_dbfs

    def reset(self) -> None:
        self.floor_dbfs = self.initial_floor_dbfs


class EnergyModel:
    """Energy-over-noise-floor detector with documented, conservative defaults.

    ``frame_ms``: 10 ms frames (fine time resolution; the cost is negligible).
    ``margin_db``: 12 dB above the floor scores 0.5; speech is typically 15-40 dB above room noise.
    ``slope_db``: 3 dB per logistic unit, so 0.05..0.95 spans about +-9 dB around the margin.
    ``rise_db_per_s``: the floor climbs at most 3 dB per second towards louder audio.
    ``initial_floor_dbfs``: -60 dBFS, a quiet room; ``min_floor_dbfs``: -70 dBFS.
    """

    name = "energy"

    def __init__(
        self,
        frame_ms: int = 10,
        margin_db: float = 12.0,
        slope_db: float = 3.0,
        rise_db_per_s: float = 3.0,
        initial_floor_dbfs: float = -60.0,
        min_floor_dbfs: float = -70.0,
    ) -> None:
        if frame_ms not in (10, 20, 30):
            raise ValueError(f"frame_ms must be 10, 20 or 30, got {frame_ms}")
        if slope_db <= 0:
            raise ValueError(f"slope_db must be positive, got {slope_db}")
        self.frame_ms = frame_ms
        self.margin_db = margin_db
        self.slope_db = slope_db
        self.rise_db_per_s = rise_db_per_s
        self.initial_floor_dbfs = max(initial_floor_dbfs, min_floor_dbfs)
        self.min_floor_dbfs = min_floor_dbfs

    def supported_rates(self) -> tuple[int, ...]:
        return _RATES

    def frame_samples(self, sample_rate: int) -> int:
        if sample_rate not in _RATES:
            raise ValueError(f"energy supports {_RATES} Hz, not {sample_rate}")
        return sample_rate * self.frame_ms // 1000

    def new_state(self, sample_rate: int) -> EnergyState:
        self.frame_samples(sample_rate)  # validates the rate
        return EnergyState(sample_rate, self.initial_floor_dbfs)

    def score(self, frames: FloatArray, states: Sequence[StreamState], sample_rate: int) -> FloatArray:
        frame = self.frame_samples(sample_rate)
        x = np.asarray(frames, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != frame:
            raise ValueError(f"expected frames of shape [batch, {frame}], got {x.shape}")
        if len(states) != x.shape[0]:
            raise ValueError(f"{x.shape[0]} frames but {len(states)} states")
        streams: list[EnergyState] = []
        for state in states:
            if not isinstance(state, EnergyState) or state.sample_rate != sample_rate:
                raise TypeError(f"expected an EnergyState at {sample_rate} Hz, got {state!r}")
            streams.append(state)
        levels = frame_levels_dbfs(x)
        floors = np.fromiter((s.floor_dbfs for s in streams), dtype=np.float64, count=len(streams))
        margin = (levels - floors - self.margin_db) / self.slope_db
        probs = (1.0 / (1.0 + np.exp(-np.clip(margin, -60.0, 60.0)))).astype(np.float32)
        rise = self.rise_db_per_s * self.frame_ms / 1000.0
        new_floors = np.maximum(np.minimum(levels, floors + rise), self.min_floor_dbfs)
        for s, floor in zip(streams, new_floors.tolist(), strict=True):
            s.floor_dbfs = floor
        return probs
