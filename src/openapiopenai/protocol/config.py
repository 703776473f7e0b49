"""The session's effective input configuration, independent of the wire dialect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from openapiopenai.audio.formats import PCM16_24K, AudioFormat
from openapiopenai.protocol.work import NoiseReduction
from openapiopenai.turns.config import SemanticVadConfig, TurnDetectionConfig

SessionKind = Literal["realtime", "transcription"]
Dialect = Literal["ga", "beta"]
#: what a session may ask for that the shell has to provide (a recogniser, an end-of-turn model, a
#: denoiser)
Feature = Literal["transcription", "semantic_vad", "noise_reduction"]
#: the ``include`` value that asks for transcription logprobs
LOGPROBS_INCLUDE = "item.input_audio_transcription.logprobs"

TurnDetection = TurnDetectionConfig | SemanticVadConfig


@dataclass(frozen=True, slots=True)
class TranscriptionConfig:
    """``audio.input.transcription`` (beta ``input_audio_transcription``) as the client set it."""

    #: echoed only: every name runs on the server's configured recogniser
    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    #: the fields the client set to ``null``: echoed as it asked (left out when not asked)
    null_fields: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class InputConfig:
    """What the audio path needs: the input format, turn detection (``None``: manual),
    transcription and noise reduction (``None``: off)."""

    format: AudioFormat = PCM16_24K
    turn_detection: TurnDetection | None = field(default_factory=TurnDetectionConfig)
    #: Accepted and echoed; there is never a response to interrupt here.
    interrupt_response: bool = True
    transcription: TranscriptionConfig | None = None
    include_logprobs: bool = False
    noise_reduction: NoiseReduction | None = None

    @property
    def server_vad(self) -> TurnDetectionConfig | None:
        """The frame-level VAD settings in use (``semantic_vad`` shares ``server_vad``'s onsets)."""
        td = self.turn_detection
        return td.vad if isinstance(td, SemanticVadConfig) else td


@dataclass(frozen=True, slots=True)
class Features:
    """What the shell provides to this session. Asking for a missing feature is refused with an
    ``error`` that says why (``hints``: e.g. which extra to install), never silently ignored."""

    transcription: bool = False
    semantic_vad: bool = False
    noise_reduction: bool = False
    hints: tuple[tuple[Feature, str], ...] = ()

    def hint(self, feature: Feature) -> str:
        return dict(self.hints).get(feature, "")


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` over ``base``: nested objects merge, everything else (lists, null) replaces."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
