"""The input audio formats of the Realtime API: the one place that knows names, rates and sizes.

GA sessions name a format by MIME-like type (``{"type": "audio/pcm", "rate": 24000}``), beta
sessions by a bare string (``"pcm16"``). Both map onto the same three constants, so the rest of
the code compares formats by identity and never parses names itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from openapiopenai.audio import g711
from openapiopenai.exceptions import AudioFormatError

__all__ = [
    "FORMATS",
    "PCM16_24K",
    "PCMA",
    "PCMU",
    "SHORT_NAMES",
    "AudioFormat",
    "decode",
    "encode",
    "from_beta",
    "from_ga",
]


@dataclass(frozen=True)
class AudioFormat:
    """One wire audio format: mono, fixed rate, fixed bytes per sample."""

    ga_type: str
    beta_name: str
    sample_rate: int
    bytes_per_sample: int

    @property
    def bytes_per_ms(self) -> int:
        """Bytes of one millisecond of audio (48 for pcm16 at 24 kHz, 8 for G.711)."""
        return self.sample_rate * self.bytes_per_sample // 1000


PCM16_24K: Final = AudioFormat("audio/pcm", "pcm16", 24_000, 2)
PCMU: Final = AudioFormat("audio/pcmu", "g711_ulaw", 8_000, 1)
PCMA: Final = AudioFormat("audio/pcma", "g711_alaw", 8_000, 1)
FORMATS: Final[tuple[AudioFormat, ...]] = (PCM16_24K, PCMU, PCMA)

#: the command line's short names (``--input-format pcmu``) -> GA types
SHORT_NAMES: Final[dict[str, str]] = {fmt.ga_type.removeprefix("audio/"): fmt.ga_type for fmt in FORMATS}
_BY_GA: Final = {fmt.ga_type: fmt for fmt in FORMATS}
_BY_BETA: Final = {fmt.beta_name: fmt for fmt in FORMATS}


def from_ga(type: str, rate: int | None = None) -> AudioFormat:
    """The format a GA ``audio.input.format`` object names; ``rate`` may be omitted.

    The API accepts only the format's own rate (24000 for ``audio/pcm``), so any other rate is
    refused here rather than resampled silently.
    """
    fmt = _BY_GA.get(type)
    if fmt is None:
        choices = ", ".join(repr(name) for name in _BY_GA)
        raise AudioFormatError(f"Invalid audio format type {type!r}; supported: {choices}.")
    if rate is not None and (isinstance(rate, bool) or rate != fmt.sample_rate):
        raise AudioFormatError(
            f"Invalid rate {rate!r} for {fmt.ga_type}; the only supported rate is {fmt.sample_rate}."
        )
    return fmt


def from_beta(name: str) -> AudioFormat:
    """The format a beta ``input_audio_format`` string names."""
    fmt = _BY_BETA.get(name)
    if fmt is None:
        choices = ", ".join(repr(beta) for beta in _BY_BETA)
        raise AudioFormatError(f"Invalid input_audio_format {name!r}; supported: {choices}.")
    return fmt


def decode(fmt: AudioFormat, data: bytes | bytearray | memoryview) -> npt.NDArray[np.float32]:
    """Whole samples of ``fmt`` -> float32 in [-1, 1) (PCM16 scale: divided by 32768)."""
    if len(data) % fmt.bytes_per_sample:
        raise AudioFormatError(
            f"{len(data)} bytes is not a whole number of {fmt.bytes_per_sample}-byte {fmt.ga_type} samples."
        )
    if fmt.bytes_per_sample == 2:
        pcm = np.frombuffer(data, dtype="<i2")
    elif fmt.ga_type == PCMU.ga_type:
        pcm = g711.ulaw_decode(data)
    elif fmt.ga_type == PCMA.ga_type:
        pcm = g711.alaw_decode(data)
    else:
        raise AudioFormatError(f"No decoder for {fmt.ga_type}.")
    out = pcm.astype(np.float32)
    out *= np.float32(1.0 / 32768.0)
    return out


def encode(fmt: AudioFormat, samples: npt.ArrayLike) -> bytes:
    """Float samples in [-1, 1) at ``fmt``'s rate -> the bytes a client sends (inverse of ``decode``)."""
    audio = np.asarray(samples, dtype=np.float32)
    if fmt.ga_type == PCMU.ga_type:
        return bytes(g711.ulaw_encode(audio))
    if fmt.ga_type == PCMA.ga_type:
        return bytes(g711.alaw_encode(audio))
    pcm: bytes = np.clip(np.round(audio.astype(np.float64) * 32768.0), -32768, 32767).astype("<i2").tobytes()
    return pcm
