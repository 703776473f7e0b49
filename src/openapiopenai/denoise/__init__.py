"""Noise reduction for the analysis path (``audio.input.noise_reduction``).

The only code that runs a denoising network. The shell (server, offline driver) loads one
``Denoiser`` per process with ``load_denoiser`` and hands each session a factory of
per-stream ``DenoiseStream`` objects (``stream_factory``); the protocol core runs whatever
stage it is given and never imports this package. What each ``noise_reduction.type`` means is
set here, in ``MODE_LIMITS_DB`` (see docs/noise-reduction.md for why and how it was measured).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from openapiopenai.denoise.base import MODES, Denoiser, DenoiseState, DenoiseStream, FloatArray, Mode
from openapiopenai.exceptions import install_extra

__all__ = [
    "DEFAULT_DENOISER",
    "DENOISERS",
    "INSTALL_HINT",
    "MODES",
    "MODE_LIMITS_DB",
    "DenoiseState",
    "DenoiseStream",
    "Denoiser",
    "DenoiserFactory",
    "Mode",
    "analysis_denoise",
    "denoise_audio",
    "load_denoiser",
    "server_denoiser",
    "stream_factory",
]

DENOISERS: Final = ("rnnoise", "deepfilternet")
DEFAULT_DENOISER: Final = "rnnoise"

#: the most a denoiser may pull any part of the signal down, per mode (None: no limit).
#: Set on nonspeech-dev (docs/noise-reduction.md) when Silero heard only the denoised audio: the
#: deeper RNNoise cleans, the more of what it leaves of music, animals and machinery Silero takes
#: for speech (today's turn rules, denoised scores alone: 2 false starts without denoising, 50
#: unlimited, 18 at 18 dB, 13 at 9 dB). A session now also asks Silero about the un-denoised
#: frames before a turn starts, which leaves 2-3 at every limit, so the limits no longer matter
#: for false starts. near_field cleans up to 18 dB, far_field up to 9 dB. The reason first given
#: (a distant talker sits near the noise floor, where deeper cleaning costs the voice) is not
#: what the dev sets show: on AMI's distant talk near_field scores higher at 0 dB and the same at
#: 5-10 dB. What they show is a trade-off by noise level: near_field gains most in heavy noise
#: and loses a little, measurably, on clean speech; far_field ties or leads from 5 dB up and
#: keeps clean speech as it was (docs/noise-reduction.md, "near_field and far_field").
MODE_LIMITS_DB: Final[dict[Mode, float | None]] = {"near_field": 18.0, "far_field": 9.0}

#: what a session is handed: ``(mode, sample_rate) -> stage``
DenoiserFactory = Callable[[Mode, int], DenoiseStream]


def load_denoiser(
    name: str = DEFAULT_DENOISER, limits_db: dict[Mode, float | None] | None = None
) -> Denoiser:
    """Load a denoiser by name (once per process; streams share it)."""
    limits = dict(MODE_LIMITS_DB if limits_db is None else limits_db)
    if name == "rnnoise":
        from openapiopenai.denoise.rnnoise import RNNoise

        return RNNoise(limits)
    if name == "deepfilternet":
        from openapiopenai.denoise.deepfilter import DeepFilterNet

        return DeepFilterNet(limits)
    raise ValueError(f"unknown denoiser {name!r}; choose from {', '.join(DENOISERS)}")


def stream_factory(denoiser: Denoiser) -> DenoiserFactory:
    """The per-session factory to hand a ``Session`` (or an ``AudioPipeline`` owner)."""

    def make(mode: Mode, sample_rate: int) -> DenoiseStream:
        return DenoiseStream(denoiser, sample_rate, mode)

    return make


def denoise_audio(denoiser: Denoiser, samples: FloatArray, sample_rate: int, mode: Mode) -> FloatArray:
    """A whole clip, denoised and aligned with its input (same length, no delay).

    For work requests (a committed item, a turn's last seconds): a fresh stream, the clip, then
    ``delay`` samples of silence to flush the tail out, the delay dropped from the front."""
    import numpy as np

    stream = DenoiseStream(denoiser, sample_rate, mode)
    x = np.ascontiguousarray(samples, dtype=np.float32)
    padded = np.concatenate((x, np.zeros(stream.delay, dtype=np.float32)))
    out: FloatArray = stream.process(padded)[stream.delay :]
    return out


#: 16 kHz: the rate of every analysis model (transcription, end of turn)
ANALYSIS_RATE: Final = 16_000


def analysis_denoise(denoiser: Denoiser) -> Callable[[FloatArray, str], FloatArray]:
    """The work-request hook: ``(samples at 16 kHz, noise_reduction type) -> cleaned samples``.

    For the one shared prep function of work requests (``audio/analysis.py``: decode, 16 kHz,
    then this when ``AudioSlice.noise_reduction`` is set); the shell passes it in, so the core
    never imports a denoiser. Each call is a fresh stream (an ``AudioSlice`` is a whole clip),
    aligned with its input: same length, no delay."""

    def clean(samples: FloatArray, mode: str) -> FloatArray:
        if mode not in MODES:
            raise ValueError(f"unknown noise_reduction type {mode!r}")
        return denoise_audio(denoiser, samples, ANALYSIS_RATE, mode)

    return clean


#: what a server says to a client that asks for noise reduction it cannot give
INSTALL_HINT: Final = f"install the 'denoise' extra: {install_extra('denoise')}"


def server_denoiser(name: str) -> tuple[Denoiser | None, str]:
    """The server's ``--denoiser`` setting: the loaded denoiser, or None and why not.

    ``auto`` offers the default denoiser when its package is installed and quietly offers none
    otherwise (a session asking for it gets an error naming the extra); a named denoiser that
    cannot load stops the server at start-up; ``off`` offers none."""
    from openapiopenai.exceptions import ModelLoadError

    if name == "off":
        return None, "noise reduction is turned off on this server (serve --denoiser)"
    try:
        return load_denoiser(DEFAULT_DENOISER if name == "auto" else name), ""
    except ModelLoadError:
        if name != "auto":
            raise
        return None, INSTALL_HINT
