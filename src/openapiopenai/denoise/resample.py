"""Exact 16/8 kHz <-> 48 kHz conversion for the 48 kHz denoising networks.

Both candidate networks (RNNoise, DeepFilterNet3) run on 48 kHz frames of 480 samples. The
pipeline's ``soxr`` resampler holds back a variable amount (tens of ms, more at 8 kHz); a
denoiser must report ONE fixed delay, so this uses plain Kaiser-windowed-sinc FIR filters with
an integer factor (3 or 6): every 10 ms block in gives exactly one 480-sample frame, and the
group delay is exactly ``TAPS_PER_SIDE`` low-rate samples each way. Nothing above the low
rate's Nyquist exists in the input, so a short filter is enough for what the detectors hear.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from openapiopenai.denoise.base import FloatArray

__all__ = ["HIGH_RATE", "TAPS_PER_SIDE", "Decimator", "Interpolator", "factor"]

HIGH_RATE: Final = 48_000
#: filter half-length in low-rate samples; each filter delays by this many low-rate samples
TAPS_PER_SIDE: Final = 16
_BETA: Final = 8.0
#: pass band edge as a fraction of the low rate's Nyquist frequency
_PASS: Final = 0.9


def factor(sample_rate: int) -> int:
    """48 kHz / ``sample_rate``, which must be a whole number."""
    m, rest = divmod(HIGH_RATE, sample_rate)
    if rest or m < 1:
        raise ValueError(f"denoising needs a rate that divides 48000, not {sample_rate}")
    return m


def _lowpass(m: int) -> FloatArray:
    half = TAPS_PER_SIDE * m
    n = np.arange(-half, half + 1, dtype=np.float64)
    cutoff = _PASS / (2 * m)  # cycles per high-rate sample
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(len(n), _BETA)
    h /= h.sum()
    return h.astype(np.float32)


class Interpolator:
    """Low rate -> 48 kHz, exactly ``m`` samples out per sample in."""

    __slots__ = ("_h", "_history", "m")

    def __init__(self, sample_rate: int) -> None:
        self.m = factor(sample_rate)
        self._h = _lowpass(self.m) * self.m
        self._history = np.zeros(len(self._h) - 1, dtype=np.float32)

    def push(self, x: FloatArray) -> FloatArray:
        up = np.zeros(len(x) * self.m, dtype=np.float32)
        up[:: self.m] = x
        buf = np.concatenate((self._history, up))
        self._history = buf[len(buf) - len(self._history) :]
        return np.convolve(buf, self._h, mode="valid").astype(np.float32, copy=False)

    def reset(self) -> None:
        self._history.fill(0.0)


class Decimator:
    """48 kHz -> low rate; input comes in multiples of ``m`` samples, ``1/m`` of them go out."""

    __slots__ = ("_h", "_history", "m")

    def __init__(self, sample_rate: int) -> None:
        self.m = factor(sample_rate)
        self._h = _lowpass(self.m)
        self._history = np.zeros(len(self._h) - 1, dtype=np.float32)

    def push(self, x: FloatArray) -> FloatArray:
        if len(x) % self.m:
            raise ValueError(f"decimator input must come in multiples of {self.m} samples")
        buf = np.concatenate((self._history, x))
        self._history = buf[len(buf) - len(self._history) :]
        full = np.convolve(buf, self._h, mode="valid")
        return np.ascontiguousarray(full[:: self.m], dtype=np.float32)

    def reset(self) -> None:
        self._history.fill(0.0)
