"""The ``semantic_vad`` rule as a pure state machine: onsets as ``server_vad``, ends judged by a model.

Theory of operation
-------------------
A :class:`~openapiopenai.turns.detector.TurnDetector` does everything ``server_vad`` does here
(onset, prefix padding, idle timeout, ``max_speech_duration``) with its silence window set to the
eagerness' maximum wait, so a turn can never outlast ``max_wait`` of silence. On top of it::

    SPEAKING, speech frame ........ the pause (if any) is over: a pending question becomes stale
    SPEAKING, silence >= next ask . emit TurnEndQuery(query, start, end): "is the turn
                                    [start, end) complete?"; next ask REASK_MS of silence later
    answer(query, p) .............. p >= threshold(eagerness): SpeechStopped now (reason "model")
                                    p <  threshold: keep waiting, ask again as silence grows
                                    None (no answer: overload, failure): fall back to a silence
                                    window of ``vad.silence_duration_ms`` (reason "silence")
    silence reaches max_wait ...... SpeechStopped (reason "max_wait")

Only one question is outstanding at a time; an answer to any other query (an older one, one
asked before speech resumed, one from before a reset) is ignored. ``SpeechStopped.audio_end`` is
the decision point: the position when the answer was applied (speech end + silence waited), so
in the server the model's latency is part of the wait, as it is for the user.

Why these numbers: see docs/semantic-vad.md (measured on LibriSpeech with inserted pauses).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

__all__ = [
    "EAGERNESS_THRESHOLD",
    "FIRST_ASK_MS",
    "REASK_MS",
    "IdleTimeout",
    "SemanticEvent",
    "SemanticTurnDetector",
    "TurnEndQuery",
]

from openapiopenai.turns.config import SemanticVadConfig, TurnDetectionConfig
from openapiopenai.turns.detector import (
    BufferStart,
    IdleTimeout,
    SpeechStarted,
    SpeechStopped,
    StopReason,
    TurnDetector,
    TurnEvent,
)
from openapiopenai.turns.timeline import ms_to_samples

#: silence before the first question: long enough that ordinary word gaps never cost a decision
FIRST_ASK_MS: Final = 200
#: silence between later questions while the model says "not yet"
REASK_MS: Final = 500
#: P(turn complete) at or above which the turn ends, per eagerness (``auto`` is ``medium``). High on
#: purpose: Smart Turn says > 0.9 at most clause boundaries of read speech, and its int8 output
#: saturates near 0.99; 0.975 is where mid-sentence cut-offs fall well under half of server_vad's
#: at a p50 latency near 0.5 s (docs/semantic-vad.md).
EAGERNESS_THRESHOLD: Final[dict[str, float]] = {"low": 0.98, "medium": 0.975, "high": 0.9, "auto": 0.975}


@dataclass(frozen=True, slots=True)
class TurnEndQuery:
    """Ask the end-of-turn model whether the turn in ``[start, end)`` (timeline samples) is complete."""

    query: int
    start: int
    end: int


SemanticEvent = TurnEvent | TurnEndQuery


def _onset_config(config: SemanticVadConfig) -> TurnDetectionConfig:
    """``server_vad``'s rules with the silence window stretched to the maximum wait."""
    return replace(config.vad, silence_duration_ms=config.max_wait_ms)


class SemanticTurnDetector:
    """Frame probabilities and model answers in, turn events and questions out (positions in samples)."""

    def __init__(
        self,
        config: SemanticVadConfig,
        *,
        sample_rate: int,
        frame_length: int,
        origin: int = 0,
        buffer: BufferStart | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self._inner = TurnDetector(
            _onset_config(config),
            sample_rate=sample_rate,
            frame_length=frame_length,
            origin=origin,
            buffer=buffer,
        )
        self.frame_length = frame_length
        self._query = 0
        self.configure(config)
        self.reset(origin)

    def configure(self, config: SemanticVadConfig) -> None:
        """Apply new settings; a turn in progress continues under them."""
        self.config = config
        rate = self.sample_rate
        self._inner.configure(_onset_config(config))
        self.threshold = EAGERNESS_THRESHOLD[config.eagerness]
        self._first_ask = ms_to_samples(FIRST_ASK_MS, rate)
        self._reask = ms_to_samples(REASK_MS, rate)
        self._fallback_silence = ms_to_samples(config.vad.silence_duration_ms, rate)

    def reset(self, origin: int) -> None:
        """Start afresh at ``origin`` (session start, a cleared or manually committed buffer)."""
        self._inner.reset(origin)
        self._turn_start = origin
        self._last_speech_end = origin
        self._end_pause()

    def _end_pause(self) -> None:
        self._pending: int | None = None
        self._fallback = False
        self._next_ask = self._first_ask

    # -- the TurnDetector surface the Session uses ---------------------------------------------
    @property
    def position(self) -> int:
        return self._inner.position

    @property
    def buffer_start(self) -> int:
        return self._inner.buffer_start

    @property
    def frame_speech(self) -> bool:
        return self._inner.frame_speech

    @property
    def speaking(self) -> bool:
        return self._inner.speaking

    @property
    def silent(self) -> bool:
        return self._inner.silent

    @property
    def pending_query(self) -> int | None:
        """The question waiting for an answer, if any."""
        return self._pending

    def earliest_turn_start(self) -> int:
        return self._inner.earliest_turn_start()

    # -- the rule ------------------------------------------------------------------------------
    def push(
        self, probability: float, level_dbfs: float | None = None, confirm: float | None = None
    ) -> list[SemanticEvent]:
        """Advance by one frame (``confirm``: as :meth:`TurnDetector.push`)."""
        events: list[SemanticEvent] = []
        for event in self._inner.push(probability, level_dbfs, confirm):
            if isinstance(event, SpeechStarted):
                self._turn_start = event.audio_start
                self._end_pause()
                events.append(event)
            elif isinstance(event, SpeechStopped):
                self._end_pause()
                events.append(replace(event, reason="max_wait") if event.reason == "silence" else event)
            else:
                events.append(event)
        if not self._inner.speaking:
            return events
        if self._inner.frame_speech:
            self._last_speech_end = self._inner.position
            self._end_pause()
            return events
        silence = self._inner.position - self._last_speech_end
        if self._fallback:
            if silence >= self._fallback_silence:
                events.append(self._stop("silence"))
        elif self._pending is None and silence >= self._next_ask:
            self._query += 1
            self._pending = self._query
            self._next_ask = silence + self._reask
            events.append(TurnEndQuery(self._query, self._turn_start, self._inner.position))
        return events

    def answer(self, query: int, probability: float | None) -> list[SemanticEvent]:
        """The model's P(turn complete) for ``query``; ``None`` when there is none (overload, failure)."""
        if query != self._pending:
            return []  # stale: speech resumed, the turn ended, or a newer question is out
        self._pending = None
        if probability is None:
            self._fallback = True
            if self._inner.position - self._last_speech_end >= self._fallback_silence:
                return [self._stop("silence")]
            return []
        if probability >= self.threshold:
            return [self._stop("model")]
        return []

    def finish(self, heard_until: int | None = None) -> list[SemanticEvent]:
        """End of stream: close a turn in progress (as ``server_vad`` does)."""
        self._end_pause()
        return list(self._inner.finish(heard_until))

    def _stop(self, reason: StopReason) -> SpeechStopped:
        end = self._inner.position
        speech_end = self._last_speech_end
        self._inner.reset(end)  # SILENT, buffer and idle timer start at the decision point
        self._end_pause()
        return SpeechStopped(speech_end=speech_end, audio_end=end, reason=reason)
