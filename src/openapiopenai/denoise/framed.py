"""What the 48 kHz frame networks share: resampling, 10 ms blocks, and one fixed delay.

A stream at 16 (or 8) kHz is cut into 10 ms blocks; each block becomes one 480-sample frame at
48 kHz (``denoise.resample``), the network cleans the frame, and the result goes back to the
stream's rate. The output queue starts with one block of silence, so ``process`` can always
return as many samples as it was given; the output is therefore exactly
``block + 2 * TAPS_PER_SIDE + network delay`` samples behind the input, however the input is
chunked (blocks and filters carry their remainders between calls).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Final

import numpy as np

from openapiopenai.denoise.base import FloatArray, Mode
from openapiopenai.denoise.resample import HIGH_RATE, TAPS_PER_SIDE, Decimator, Interpolator, factor

__all__ = ["FRAME_48K", "FramedDenoiser", "FramedState"]

#: both networks' frame: 10 ms at 48 kHz
FRAME_48K: Final = 480
_EMPTY = np.zeros(0, dtype=np.float32)


class FramedState:
    """One stream: the network's own state, the filters, the partial block and the output queue."""

    __slots__ = ("_owner", "block", "carry", "down", "mode", "native", "queue", "up")

    def __init__(self, owner: FramedDenoiser, sample_rate: int, mode: Mode) -> None:
        self._owner = owner
        self.mode = mode
        self.block = sample_rate // 100
        self.up = Interpolator(sample_rate)
        self.down = Decimator(sample_rate)
        self.native: Any = owner._new_native(mode)
        self.carry: FloatArray = _EMPTY
        self.queue: FloatArray = np.zeros(self.block, dtype=np.float32)

    def reset(self) -> None:
        self.up.reset()
        self.down.reset()
        self._owner._reset_native(self)
        self.carry = _EMPTY
        self.queue = np.zeros(self.block, dtype=np.float32)

    def __del__(self) -> None:
        native, self.native = getattr(self, "native", None), None
        if native is not None:
            self._owner._free_native(native)


class FramedDenoiser(ABC):
    """Base of the 48 kHz, 480-sample-frame denoisers; subclasses run one network frame."""

    name: str
    #: the network's own delay at 48 kHz, a multiple of 6 so every supported rate gets whole samples
    native_delay: int

    def supported_rates(self) -> tuple[int, ...]:
        return (16_000, 8_000, 24_000, 48_000)

    def delay(self, sample_rate: int) -> int:
        return sample_rate // 100 + 2 * TAPS_PER_SIDE + self.native_delay // factor(sample_rate)

    def new_state(self, sample_rate: int, mode: Mode) -> FramedState:
        if sample_rate not in self.supported_rates():
            raise ValueError(f"{self.name} denoises at {self.supported_rates()} Hz, not {sample_rate}")
        return FramedState(self, sample_rate, mode)

    def process(self, state: Any, samples: FloatArray) -> FloatArray:
        if not isinstance(state, FramedState) or state._owner is not self:
            raise TypeError(f"expected a {self.name} state, got {state!r}")
        x = np.ascontiguousarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"expected mono 1-D samples, got shape {x.shape}")
        buf = np.concatenate((state.carry, x)) if len(state.carry) else x
        used = len(buf) - len(buf) % state.block
        state.carry = buf[used:].copy()
        if used:
            high = state.up.push(buf[:used])
            cleaned = self._run(state, high.reshape(-1, FRAME_48K))
            state.queue = np.concatenate((state.queue, state.down.push(cleaned.reshape(-1))))
        out, state.queue = state.queue[: len(x)], state.queue[len(x) :]
        return np.ascontiguousarray(out)

    @abstractmethod
    def _new_native(self, mode: Mode) -> Any: ...

    @abstractmethod
    def _reset_native(self, state: FramedState) -> None: ...

    @abstractmethod
    def _free_native(self, native: Any) -> None: ...

    @abstractmethod
    def _run(self, state: FramedState, frames: FloatArray) -> FloatArray:
        """Clean ``frames`` (``[n, 480]`` at 48 kHz, full scale 1.0) in order; same shape out."""


assert HIGH_RATE % FRAME_48K == 0
