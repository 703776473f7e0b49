"""Client audio as the analysis models want it: one shared function for every request.

A committed item (or a turn-end query) carries its audio exactly as the client sent it, in the
session's wire format. Before any model looks at it, it is decoded, resampled to 16 kHz mono
float32 in one shot (the whole slice is known, so no streaming state), and cleaned when the
session asked for ``noise_reduction``. The shell calls this off the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt
import soxr

from openapiopenai.audio.formats import AudioFormat, decode

__all__ = ["ANALYSIS_RATE", "AudioSliceLike", "Denoise", "analysis_audio", "prepare"]

#: the rate of every analysis model (Whisper, end-of-turn models)
ANALYSIS_RATE: Final = 16_000

FloatArray = npt.NDArray[np.float32]


class AudioSliceLike(Protocol):
    """What :func:`analysis_audio` reads from ``protocol.work.AudioSlice``."""

    @property
    def data(self) -> bytes: ...

    @property
    def format(self) -> AudioFormat: ...

    @property
    def noise_reduction(self) -> str | None: ...


def _pass_through(samples: FloatArray, mode: str) -> FloatArray:
    """Noise reduction for ``near_field`` / ``far_field`` (16 kHz in and out).

    The hook where the noise-reduction model plugs in; until it does, audio passes unchanged."""
    del mode
    return samples


#: ``(samples at 16 kHz, noise_reduction type) -> cleaned samples``: the shell passes the real one
#: (``openapiopenai.denoise.analysis_denoise``); the core never imports a denoiser
Denoise = Callable[[FloatArray, str], FloatArray]


def prepare(
    data: bytes, fmt: AudioFormat, noise_reduction: str | None = None, denoise: Denoise | None = None
) -> FloatArray:
    """Wire bytes in ``fmt`` -> mono float32 at :data:`ANALYSIS_RATE`, denoised if asked
    (with ``denoise``, or the module's pass-through hook when none is given)."""
    samples = decode(fmt, data)
    if fmt.sample_rate != ANALYSIS_RATE and len(samples):
        samples = np.asarray(soxr.resample(samples, fmt.sample_rate, ANALYSIS_RATE, "HQ"), dtype=np.float32)
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if noise_reduction is not None:
        samples = (denoise or _pass_through)(samples, noise_reduction)
    return samples


def analysis_audio(audio: AudioSliceLike, denoise: Denoise | None = None) -> FloatArray:
    """An ``AudioSlice`` as the analysis models want it (see :func:`prepare`)."""
    return prepare(audio.data, audio.format, audio.noise_reduction, denoise)
