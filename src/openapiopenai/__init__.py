"""openapiopenai: self-hosted server-side turn detection for the OpenAI Realtime API.

The happy path, offline::

    from openapiopenai import Detector
    detector = Detector()                 # Silero VAD, Realtime defaults, audio/pcm 24 kHz
    events = detector.feed(pcm16_bytes)   # Realtime server events (openapiopenai.models)
    events += detector.flush()

The server is ``openapiopenai serve``; the wire models live in :mod:`openapiopenai.models`.
"""

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
