"""openapiopenai: self-hosted server-side turn detection for the OpenAI Realtime API.

The happy path, offline::

    from openapiopenai import Detector
    detector = Detector()                 # Silero VAD, Realtime defaults, audio/pcm 24 kHz
    events = detector.feed(pcm16_bytes)   # Realtime server events (openapiopenai.models)
    events += detector.flush()

The server is ``openapiopenai serve``; the wire models live in :mod:`openapiopenai.models`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openapiopenai.audio.formats import PCM16_24K, PCMA, PCMU, AudioFormat
    from openapiopenai.exceptions import (
        AudioFormatError,
        ConfigError,
        ModelLoadError,
        OpenapiopenaiError,
        ProtocolError,
    )
    from openapiopenai.offline import Detector, Segment, detect_bytes, read_audio
    from openapiopenai.protocol.ids import IdFactory
    from openapiopenai.protocol.session import ScoreRequest, Session, SessionLimits
    from openapiopenai.turns.config import TurnDetectionConfig
    from openapiopenai.vad.base import SpeechModel, StreamState
    from openapiopenai.vad.registry import available_models, load_model

#: public name -> the module that defines it. Imported on first use (PEP 562), so that
#: ``import openapiopenai.turns`` loads the turn detector only, not the models, the
#: protocol or the speech backends.
_HOMES = {
    **dict.fromkeys(("PCM16_24K", "PCMA", "PCMU", "AudioFormat"), "openapiopenai.audio.formats"),
    **dict.fromkeys(
        ("AudioFormatError", "ConfigError", "ModelLoadError", "OpenapiopenaiError", "ProtocolError"),
        "openapiopenai.exceptions",
    ),
    **dict.fromkeys(("Detector", "Segment", "detect_bytes", "read_audio"), "openapiopenai.offline"),
    "IdFactory": "openapiopenai.protocol.ids",
    **dict.fromkeys(("ScoreRequest", "Session", "SessionLimits"), "openapiopenai.protocol.session"),
    "TurnDetectionConfig": "openapiopenai.turns.config",
    **dict.fromkeys(("SpeechModel", "StreamState"), "openapiopenai.vad.base"),
    **dict.fromkeys(("available_models", "load_model"), "openapiopenai.vad.registry"),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'openapiopenai' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once imported, a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


__version__ = "0.1.0"

__all__ = [
    "PCM16_24K",
    "PCMA",
    "PCMU",
    "AudioFormat",
    "AudioFormatError",
    "ConfigError",
    "Detector",
    "IdFactory",
    "ModelLoadError",
    "OpenapiopenaiError",
    "ProtocolError",
    "ScoreRequest",
    "Segment",
    "Session",
    "SessionLimits",
    "SpeechModel",
    "StreamState",
    "TurnDetectionConfig",
    "__version__",
    "available_models",
    "detect_bytes",
    "load_model",
    "read_audio",
]
