"""Whisper log-mel features, as the Smart Turn end-of-turn model was trained on them.

Written from the published recipe (Whisper / ``WhisperFeatureExtractor`` with ``do_normalize``):
the waveform is normalised to zero mean and unit variance, framed with a periodic Hann window
(n_fft 400, hop 160, centred with reflect padding), turned into a power spectrum, projected onto
80 Slaney-style mel filters spanning 0-8 kHz, then ``log10`` (floor 1e-10), the last frame
dropped, values clamped to ``max - 8`` and scaled ``(x + 4) / 4``.

Everything is float64 on purpose: the int8-quantised model is sensitive to tiny input changes
near its 0.5 decision point, so rounding here should not add to that. Pure numpy, no I/O.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

SAMPLE_RATE: Final = 16_000
N_FFT: Final = 400
HOP: Final = 160
N_MELS: Final = 80
#: Smart Turn's window: the last 8 s of the turn, left zero-padded
WINDOW_SAMPLES: Final = 8 * SAMPLE_RATE
#: frames per window (the stft's last frame is dropped)
N_FRAMES: Final = WINDOW_SAMPLES // HOP
_NORM_EPS: Final = 1e-7

Float64Array = npt.NDArray[np.float64]


def _hz_to_mel(hz: Float64Array) -> Float64Array:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    mel = 3.0 * hz / 200.0
    log_region = hz >= 1000.0
    step = np.log(6.4) / 27.0
    mel[log_region] = 15.0 + np.log(hz[log_region] / 1000.0) / step
    return mel


def _mel_to_hz(mel: Float64Array) -> Float64Array:
    hz = 200.0 * mel / 3.0
    log_region = mel >= 15.0
    step = np.log(6.4) / 27.0
    hz[log_region] = 1000.0 * np.exp(step * (mel[log_region] - 15.0))
    return hz


@lru_cache(maxsize=1)
def mel_filters() -> Float64Array:
    """``[n_fft/2 + 1, 80]`` triangular filters, each normalised to unit area (Slaney)."""
    fft_hz = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges_mel = np.linspace(_hz_to_mel(np.array([0.0]))[0], _hz_to_mel(np.array([8000.0]))[0], N_MELS + 2)
    edges = _mel_to_hz(edges_mel)
    widths = np.diff(edges)
    slopes = edges[np.newaxis, :] - fft_hz[:, np.newaxis]
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    filters *= 2.0 / (edges[2:] - edges[:-2])
    filters.flags.writeable = False
    return filters


@lru_cache(maxsize=1)
def _hann() -> Float64Array:
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic
    window.flags.writeable = False
    return window


def last_window(audio: npt.ArrayLike) -> Float64Array:
    """The last 8 s of ``audio`` (16 kHz), left zero-padded to exactly 8 s, as float64."""
    x = np.asarray(audio, dtype=np.float64).ravel()
    if x.size >= WINDOW_SAMPLES:
        return x[x.size - WINDOW_SAMPLES :].copy()
    return np.concatenate([np.zeros(WINDOW_SAMPLES - x.size), x])


def log_mel(audio: npt.ArrayLike) -> Float64Array:
    """``[80, 800]`` normalised Whisper log-mel of the last 8 s of 16 kHz ``audio``."""
    x = last_window(audio)
    x = (x - x.mean()) / np.sqrt(x.var() + _NORM_EPS)
    padded = np.pad(x, (N_FFT // 2, N_FFT // 2), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * _hann(), axis=1)) ** 2
    mel = power[:-1] @ mel_filters()  # [800, 80]: drop the last frame
    logs = np.log10(np.maximum(mel, 1e-10))
    logs = np.maximum(logs, logs.max() - 8.0)
    return np.ascontiguousarray(((logs + 4.0) / 4.0).T)
