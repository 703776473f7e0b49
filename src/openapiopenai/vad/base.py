"""The one interface every speech model implements.

A model is loaded once and shared by every stream; everything that belongs to one audio
stream (recurrent state, context samples, carried-over energy) lives in a per-stream state
object that the caller owns. That split is what lets the server score the ready frames of
hundreds of sessions in one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


@runtime_checkable
class StreamState(Protocol):
    """Per-stream model state. Opaque to callers except for ``reset``."""

    def reset(self) -> None:
        """Forget the stream's history (used on ``input_audio_buffer.clear``)."""


@runtime_checkable
class SpeechModel(Protocol):
    """Scores fixed-size mono float32 frames with a speech probability in [0, 1]."""

    #: registry name ("silero", "webrtc", "energy", ...)
    name: str

    def supported_rates(self) -> tuple[int, ...]:
        """Sample rates the model accepts natively, preferred first."""
        ...

    def frame_samples(self, sample_rate: int) -> int:
        """Samples per frame the model scores at ``sample_rate``."""
        ...

    def new_state(self, sample_rate: int) -> StreamState:
        """A fresh per-stream state for audio at ``sample_rate``."""
        ...

    def score(self, frames: FloatArray, states: Sequence[StreamState], sample_rate: int) -> FloatArray:
        """Score ``frames`` (shape ``[batch, frame_samples]``), one row per stream.

        ``states[i]`` belongs to row ``i`` and is advanced in place. Returns shape ``[batch]``.
        All rows share ``sample_rate``; callers group streams by rate.
        """
        ...


def score_stream(model: SpeechModel, frames: FloatArray, state: StreamState, sample_rate: int) -> FloatArray:
    """Score consecutive frames of ONE stream, in order (offline use, unbatched serving).

    ``score`` takes one frame per stream, because a recurrent model must see a stream's frames
    one after another. A model may offer ``score_sequence(frames, state, sample_rate)`` as a
    faster path for that loop; otherwise the frames go through ``score`` one at a time.
    """
    fast = getattr(model, "score_sequence", None)
    if fast is not None:
        result: FloatArray = fast(frames, state, sample_rate)
        return result
    out = np.empty(len(frames), dtype=np.float32)
    for i in range(len(frames)):
        out[i] = model.score(frames[i : i + 1], [state], sample_rate)[0]
    return out
