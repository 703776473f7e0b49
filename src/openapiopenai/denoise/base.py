"""The one interface every denoiser implements, and the stream that runs one on a pipeline.

A denoiser is loaded once and shared; everything that belongs to one audio stream (the
network's recurrent state, the resampler's history, partial blocks) lives in a per-stream state
the caller owns, as for the speech models (``vad/base.py``). ``process`` takes mono float32 at
the stream's rate and returns exactly as many samples, delayed by a fixed ``delay`` samples
(the network's own look-ahead, the resampling filters and one 10 ms block of hold-back), so
the first ``delay`` samples after ``new_state`` or ``reset`` hold no input, only the filters'
start-up. A fixed delay is what
lets the audio pipeline keep frames on the input timeline: it drops that many samples once.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["MODES", "DenoiseState", "DenoiseStream", "Denoiser", "FloatArray", "Mode"]

FloatArray = npt.NDArray[np.float32]

#: the client's ``noise_reduction.type`` (the same literals as ``protocol.work.NoiseReduction``)
Mode = Literal["near_field", "far_field"]
MODES: tuple[Mode, ...] = ("near_field", "far_field")


@runtime_checkable
class DenoiseState(Protocol):
    """Per-stream denoiser state. Opaque to callers except for ``reset``."""

    def reset(self) -> None:
        """Forget the stream's history, as a fresh ``new_state``."""


@runtime_checkable
class Denoiser(Protocol):
    """Cleans speech of noise, one stream at a time."""

    #: registry name ("rnnoise", "deepfilternet")
    name: str

    def supported_rates(self) -> tuple[int, ...]:
        """Stream rates ``new_state`` accepts."""
        ...

    def delay(self, sample_rate: int) -> int:
        """Fixed delay of ``process`` output behind its input, in samples at ``sample_rate``."""
        ...

    def new_state(self, sample_rate: int, mode: Mode) -> DenoiseState:
        """A fresh stream at ``sample_rate`` with the settings of ``mode``."""
        ...

    def process(self, state: DenoiseState, samples: FloatArray) -> FloatArray:
        """Denoise the next piece of the stream: ``len(samples)`` samples out, ``delay`` behind."""
        ...


class DenoiseStream:
    """One stream's denoiser and state bound together: the stage an ``AudioPipeline`` runs.

    It has the shape ``audio.pipeline.DenoiseStage`` asks for, so the core can run it without
    importing this package (the shell makes it and hands it in)."""

    __slots__ = ("delay", "denoiser", "mode", "sample_rate", "state")

    def __init__(self, denoiser: Denoiser, sample_rate: int, mode: Mode) -> None:
        self.denoiser = denoiser
        self.sample_rate = sample_rate
        self.mode = mode
        self.state = denoiser.new_state(sample_rate, mode)
        #: output lags input by this many samples (at ``sample_rate``)
        self.delay = denoiser.delay(sample_rate)

    def process(self, samples: FloatArray) -> FloatArray:
        return self.denoiser.process(self.state, samples)

    def reset(self) -> None:
        self.state.reset()
