"""WebRTC's GMM voice activity detector (``webrtcvad-wheels``), as a lightweight baseline.

It answers yes/no per 30 ms frame, so its "probability" is 1.0 or 0.0. The detector adapts its
noise model as it runs, so each stream gets its own ``webrtcvad.Vad`` instance in its state; the
shared model object only holds the aggressiveness mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from openapiopenai.exceptions import ModelLoadError
from openapiopenai.vad.base import FloatArray, StreamState

__all__ = ["WebRtcModel", "WebRtcState"]

_RATES: Final = (16_000, 8_000, 32_000, 48_000)
_FRAME_MS: Final = 30


class WebRtcState:
    """One stream's detector (it carries adaptive noise statistics)."""

    __slots__ = ("_factory", "mode", "sample_rate", "vad")

    def __init__(self, factory: Any, mode: int, sample_rate: int) -> None:
        self._factory = factory
        self.mode = mode
        self.sample_rate = sample_rate
        self.vad: Any = factory(mode)

    def reset(self) -> None:
        self.vad = self._factory(self.mode)


class WebRtcModel:
    """WebRTC VAD, 30 ms frames; ``mode`` 0 (least) .. 3 (most aggressive at rejecting non-speech)."""

    name = "webrtc"

    def __init__(self, mode: int = 3) -> None:
        if mode not in (0, 1, 2, 3):
            raise ValueError(f"webrtc mode must be 0, 1, 2 or 3, got {mode}")
        try:
            import webrtcvad
        except ImportError as exc:
            raise ModelLoadError("The webrtc model needs the 'webrtcvad-wheels' package.") from exc
        self.mode = mode
        self._factory = webrtcvad.Vad

    def supported_rates(self) -> tuple[int, ...]:
        return _RATES

    def frame_samples(self, sample_rate: int) -> int:
        if sample_rate not in _RATES:
            raise ValueError(f"webrtc supports {_RATES} Hz, not {sample_rate}")
        return sample_rate * _FRAME_MS // 1000

    def new_state(self, sample_rate: int) -> WebRtcState:
        self.frame_samples(sample_rate)  # validates the rate
        return WebRtcState(self._factory, self.mode, sample_rate)

    def score(self, frames: FloatArray, states: Sequence[StreamState], sample_rate: int) -> FloatArray:
        frame = self.frame_samples(sample_rate)
        x = np.asarray(frames, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != frame:
            raise ValueError(f"expected frames of shape [batch, {frame}], got {x.shape}")
        if len(states) != x.shape[0]:
            raise ValueError(f"{x.shape[0]} frames but {len(states)} states")
        pcm = np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2")
        out = np.empty(x.shape[0], dtype=np.float32)
        for i, state in enumerate(states):
            if not isinstance(state, WebRtcState) or state.sample_rate != sample_rate:
                raise TypeError(f"expected a WebRtcState at {sample_rate} Hz, got {state!r}")
            out[i] = 1.0 if state.vad.is_speech(pcm[i].tobytes(), sample_rate) else 0.0
        return out
