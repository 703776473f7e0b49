"""The pure turn-detection rule (``server_vad``) and its configuration."""

from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.turns.detector import IdleTimeout, SpeechStarted, SpeechStopped, TurnDetector, TurnEvent
from openapiopenai.turns.timeline import ms_to_samples, samples_to_ms

__all__ = [
    "IdleTimeout",
    "SpeechStarted",
    "SpeechStopped",
    "TurnDetectionConfig",
    "TurnDetector",
    "TurnEvent",
    "ms_to_samples",
    "samples_to_ms",
]
