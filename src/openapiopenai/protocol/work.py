"""Work the Session asks its shell to do besides scoring frames: transcribe an item, judge
whether a turn is complete.

Inference is I/O. The Session hands these requests out (``Session.work_to_do``) and takes the
answers back as method calls; the shell decides where the models run (a worker pool, a batch
across sessions, inline in the offline driver). A request carries the audio exactly as the
client sent it, so the expensive preparation (decoding, resampling, noise reduction) happens
in the shell, off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from openapiopenai.audio.formats import AudioFormat

NoiseReduction = Literal["near_field", "far_field"]

#: the end-of-turn model judges at most this much of a turn's most recent audio
TURN_END_WINDOW_MS = 8000


@dataclass(frozen=True, slots=True)
class AudioSlice:
    """Input audio exactly as the client sent it, and how to clean it before analysis."""

    data: bytes
    format: AudioFormat
    noise_reduction: NoiseReduction | None = None

    @property
    def seconds(self) -> float:
        return len(self.data) // self.format.bytes_per_sample / self.format.sample_rate


@dataclass(frozen=True, slots=True)
class TranscriptionRequest:
    """Transcribe one committed user audio item; answer with ``receive_transcript_*``."""

    item_id: str
    audio: AudioSlice
    #: the model name the client asked for (echoed only: the server's configured model runs)
    model: str | None
    language: str | None
    prompt: str | None
    #: the client asked for ``item.input_audio_transcription.logprobs``
    logprobs: bool


@dataclass(frozen=True, slots=True)
class TurnEndRequest:
    """Is the turn complete? Answer with ``receive_turn_end(query, probability)``."""

    #: increasing per session; answers to an older query than the newest are ignored
    query: int
    #: the turn's audio up to the decision point, at most its last ``TURN_END_WINDOW_MS``
    audio: AudioSlice


WorkRequest = TranscriptionRequest | TurnEndRequest

__all__ = [
    "TURN_END_WINDOW_MS",
    "AudioSlice",
    "NoiseReduction",
    "TranscriptionRequest",
    "TurnEndRequest",
    "WorkRequest",
]
