"""Speech recognition: the only package that runs a recogniser.

Everything else sees the small :class:`Transcriber` interface (16 kHz float32 mono in, text
pieces out), so another engine can be added beside faster-whisper without touching the server.
The engine's packages are an optional extra (the ``transcribe`` extra);
:func:`unavailable_reason` says, without importing them, whether they are installed.
"""

from openapiopenai.asr.base import (
    INSTALL_HINT,
    SAMPLE_RATE,
    Logprob,
    TextPiece,
    Transcriber,
    TranscriptionOptions,
    TranscriptionUnavailable,
    recent_context,
)
from openapiopenai.asr.whisper import (
    DEFAULT_MODEL,
    WhisperTranscriber,
    bundled_model_path,
    load_transcriber,
    resolve_model,
    unavailable_reason,
)

__all__ = [
    "DEFAULT_MODEL",
    "INSTALL_HINT",
    "SAMPLE_RATE",
    "Logprob",
    "TextPiece",
    "Transcriber",
    "TranscriptionOptions",
    "TranscriptionUnavailable",
    "WhisperTranscriber",
    "bundled_model_path",
    "load_transcriber",
    "recent_context",
    "resolve_model",
    "unavailable_reason",
]
