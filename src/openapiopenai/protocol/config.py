"""The session's effective input configuration, independent of the wire dialect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from openapiopenai.audio.formats import PCM16_24K, AudioFormat
from openapiopenai.turns.config import TurnDetectionConfig

SessionKind = Literal["realtime", "transcription"]
Dialect = Literal["ga", "beta"]


@dataclass(frozen=True, slots=True)
class InputConfig:
    """What the audio path needs: the input format and turn detection (``None``: manual)."""

    format: AudioFormat = PCM16_24K
    turn_detection: TurnDetectionConfig | None = field(default_factory=TurnDetectionConfig)
    #: Accepted and echoed; there is never a response to interrupt here.
    interrupt_response: bool = True


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` over ``base``: nested objects merge, everything else (lists, null) replaces."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
