"""Speech models: the one place that runs a neural net, behind a small batched interface."""

from openapiopenai.vad.base import SpeechModel, StreamState
from openapiopenai.vad.registry import available_models, load_model

__all__ = ["SpeechModel", "StreamState", "available_models", "load_model"]
