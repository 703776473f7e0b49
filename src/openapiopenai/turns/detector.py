"""The ``server_vad`` rule as a pure state machine.

Theory of operation
-------------------
Input is one speech probability per fixed-size frame, in order; output is turn events at
exact sample positions on the session timeline. No clocks, no I/O: the same probabilities
give the same events, however the audio was chunked on the way in.

Per frame, first the *frame decision* (what the frame-level evaluation scores)::

    speech = p >= threshold              (or p >= exit_threshold while already speech)
             and level >= min_level_dbfs (if a loudness floor is set)

``exit_threshold`` defaults to ``threshold - 0.15`` (floored at half the threshold, so silence
stays reachable for any threshold): hysteresis is on by default.

then the *turn states*::

    SILENT ──speech──► PENDING ──speech for min_speech_duration──► SPEAKING
      ▲                   │ non-speech                                │
      └───────────────────┘                                            │
      └──── silence_duration of non-speech, or max_speech_duration ────┘

With ``min_speech_duration_ms == 0`` (and no warm-up) PENDING is skipped and ``SpeechStarted``
is emitted on the first speech frame. The *onset* is the start of the frame that crossed the
threshold, dated back over the run of frames just before it that were already part of the rise:
each at or above the exit threshold, or at least ``ONSET_RISE_FLOOR`` and below the frame after
it (the climb out of silence); at most ``onset_lookback_ms``, never before the buffer start. A
causal model crosses the threshold only after it has heard some of the speech, and that climb is
where it began (its first frame, the last one before the probability went up, is included: the
model's state lags, so the frame in which speech begins has rarely risen yet).
``min_speech_duration_ms`` still counts from the crossing frame; for ``warmup_ms`` after a
reset (the model's state is fresh then and over-scores non-speech) it is at least
``warmup_min_speech_ms``. A caller may also pass a second opinion per frame (``confirm``: the
same model on the un-denoised input while noise reduction is on); then a pending onset is
confirmed only once that has reached the exit threshold at some frame since the crossing, and
a turn under way continues while either opinion hears speech.
``SpeechStarted.audio_start`` is the onset minus the prefix padding, clamped at the start of the
current buffer. ``SpeechStopped.audio_end`` is the end of the last speech frame plus
``silence_duration``: the point at which the stop is decided, "including the silence" as the
Realtime docs put it. The mirror of onset dating: if the frame that completes the silence window
is at or above ``ONSET_RISE_FLOOR`` it may be the first frame of a rise, so the stop waits for the
next one, and on while the probability keeps climbing (at most ``onset_lookback_ms``); speech
resuming there continues the turn, else the stop is decided that much later (``audio_end``
includes the wait). Silence below the floor stops at once. After a stop the buffer is taken to
start at ``audio_end`` (the VAD commit takes everything before it).

An idle timer (``idle_timeout_ms``) counts audio time without a turn since the buffer start
or the last trigger and emits ``IdleTimeout`` when it runs out.

The buffer start has one owner. The detector knows only what it decides itself: where its
stretch of the timeline began (its reset origin, or the end of its last turn or idle timeout).
Anything else that moves the start of the uncommitted audio (a commit, silence dropped from the
buffer) is the buffer's to know: a detector given ``buffer=`` (the Session passes its
``AudioBuffer``) reads ``buffer.start`` whenever it needs it and never keeps a copy, so the two
cannot drift apart. Standing alone, without a buffer, the detector's own stretch is the buffer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal, Protocol

from openapiopenai.turns.config import ONSET_RISE_FLOOR, TurnDetectionConfig
from openapiopenai.turns.timeline import ms_to_samples

#: ``model`` and ``max_wait`` are ``semantic_vad``'s (turns/semantic.py)
StopReason = Literal["silence", "max_duration", "end_of_stream", "model", "max_wait"]


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Speech began at ``onset``; the turn's audio begins at ``audio_start`` (padding included)."""

    onset: int
    audio_start: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """Speech ended at ``speech_end``; the stop was decided at ``audio_end``."""

    speech_end: int
    audio_end: int
    reason: StopReason = "silence"


@dataclass(frozen=True, slots=True)
class IdleTimeout:
    """No turn for ``idle_timeout_ms`` of audio between ``audio_start`` and ``audio_end``."""

    audio_start: int
    audio_end: int


TurnEvent = SpeechStarted | SpeechStopped | IdleTimeout


class BufferStart(Protocol):
    """Where the uncommitted audio begins, on the timeline (``protocol.buffer.AudioBuffer`` is one)."""

    @property
    def start(self) -> int: ...


class State(enum.Enum):
    SILENT = "silent"
    PENDING = "pending"
    SPEAKING = "speaking"


class TurnDetector:
    """Frame probabilities in, :data:`TurnEvent` s out. Positions are timeline samples."""

    def __init__(
        self,
        config: TurnDetectionConfig,
        *,
        sample_rate: int,
        frame_length: int,
        origin: int = 0,
        buffer: BufferStart | None = None,
    ) -> None:
        if frame_length <= 0 or sample_rate <= 0:
            raise ValueError("frame_length and sample_rate must be positive")
        self.sample_rate = sample_rate
        self.frame_length = frame_length
        #: the owner of the buffer start, read when needed (``None``: the detector stands alone)
        self._buffer = buffer
        self.configure(config)
        self.reset(origin)

    def configure(self, config: TurnDetectionConfig) -> None:
        """Apply new settings; a turn in progress continues under them."""
        self.config = config
        rate = self.sample_rate
        self._enter = config.threshold
        self._exit = config.effective_exit_threshold
        self._prefix = ms_to_samples(config.prefix_padding_ms, rate)
        self._silence = ms_to_samples(config.silence_duration_ms, rate)
        self._min_speech = ms_to_samples(config.min_speech_duration_ms, rate)
        self._warmup = ms_to_samples(config.warmup_ms, rate)
        self._warmup_min_speech = ms_to_samples(config.warmup_min_speech_ms, rate)
        self._max_speech = (
            None
            if config.max_speech_duration_ms is None
            else ms_to_samples(config.max_speech_duration_ms, rate)
        )
        self._idle = None if config.idle_timeout_ms is None else ms_to_samples(config.idle_timeout_ms, rate)
        self._min_level = config.min_level_dbfs
        self._lookback_frames = ms_to_samples(config.onset_lookback_ms, rate) // self.frame_length

    def reset(self, origin: int) -> None:
        """Start afresh with the next frame beginning at timeline sample ``origin``
        (session start, a cleared or manually committed buffer)."""
        self.state = State.SILENT
        self.position = origin  # start of the next frame
        #: where this stretch began: the reset origin, or the end of the last turn or idle timeout
        self._since = origin
        self._reset_at = origin  # where the model's state was last fresh
        self.frame_speech = False  # the last frame's decision
        self._onset = origin
        self._crossing = origin  # start of the frame that crossed the threshold
        self._climb = 0  # frames of the rise before the last frame (see _rise_before)
        self._held = 0  # frames a reached stop has waited for a rise (see _hold)
        self._held_at = 0.0  # the last held frame's probability
        self._previous: float | None = None  # the last frame's probability, if it was loud enough
        self._agreed = False  # the second opinion reached the exit threshold since the crossing
        self._last_speech_end = origin

    @property
    def buffer_start(self) -> int:
        """The earliest sample a turn may claim, where the idle timer counts from: this stretch's
        start, or the buffer's if a commit or dropped silence has moved it past that."""
        since = self._since
        if self._buffer is None:
            return since
        start = self._buffer.start
        return start if start > since else since

    @property
    def speaking(self) -> bool:
        return self.state is State.SPEAKING

    @property
    def silent(self) -> bool:
        """No turn under way, not even a pending onset."""
        return self.state is State.SILENT

    def earliest_turn_start(self) -> int:
        """The earliest sample a future turn (or idle timeout) can claim: the next frame minus
        the prefix padding, or where the idle timer started if that is earlier. Audio before it
        is silence that no event will include."""
        floor = self.buffer_start
        if self._idle is not None:
            return floor  # the idle timer counts from there
        return max(self.position - self._prefix, floor)

    def _loud_enough(self, level_dbfs: float | None) -> bool:
        return self._min_level is None or level_dbfs is None or level_dbfs >= self._min_level

    def _is_speech(self, probability: float, level_dbfs: float | None) -> bool:
        speech = probability >= (self._exit if self.frame_speech else self._enter)
        return speech and self._loud_enough(level_dbfs)

    def _rise_before(self, probability: float) -> int:
        """How many frames just before this one were part of its rise (onset dating): the last
        one was if it was at/above the exit threshold or climbing from the floor to this one."""
        last = self._previous
        if last is None or not (last >= self._exit or ONSET_RISE_FLOOR <= last < probability):
            return 0
        return self._climb + 1

    def _hold(self, probability: float | None) -> bool:
        """Whether a stop that the silence window has reached waits one more frame: the frame may
        be the first of a rise (at/above ``ONSET_RISE_FLOOR``: only the next frame tells), or it
        climbs on from a held one. At most ``onset_lookback_ms``: the rise onset dating would date
        a new turn back over, so speech resuming there continues this turn instead."""
        if probability is None or probability < ONSET_RISE_FLOOR or self._held >= self._lookback_frames:
            return False
        if self._held and probability <= self._held_at:
            return False
        self._held += 1
        self._held_at = probability
        return True

    def push(
        self, probability: float, level_dbfs: float | None = None, confirm: float | None = None
    ) -> list[TurnEvent]:
        """Advance by one frame.

        ``confirm`` is an optional second opinion on the same frame (the model's probability on
        other audio of the same moment). When given, a turn starts only once it has also reached
        the exit threshold at some frame of the pending run; until then the onset stays pending.
        Once a turn is under way, either opinion keeps it going (the frame is speech if either
        is above the exit threshold)."""
        if confirm is not None and self.state is State.SPEAKING:
            probability = max(probability, confirm)
        start = self.position
        end = start + self.frame_length
        self.position = end
        speech = self.frame_speech = self._is_speech(probability, level_dbfs)
        rising = self._rise_before(probability)
        self._climb = rising
        self._previous = probability if self._loud_enough(level_dbfs) else None
        events: list[TurnEvent] = []

        if self.state is State.SPEAKING:
            if speech:
                self._last_speech_end = end
                self._held = 0
                if self._max_speech is not None and end - self._onset >= self._max_speech:
                    events.append(self._stop(end, end, "max_duration"))
            elif end - self._last_speech_end >= self._silence and not self._hold(self._previous):
                speech_end = self._last_speech_end
                decided = speech_end + self._silence + self._held * self.frame_length
                events.append(self._stop(speech_end, decided, "silence"))
            return events

        if speech:
            if self.state is State.SILENT:
                self.state = State.PENDING
                self._crossing = start
                back = min(rising, self._lookback_frames) * self.frame_length
                self._onset = max(start - back, self.buffer_start)
                self._agreed = False
            self._agreed = self._agreed or confirm is None or confirm >= self._exit
            needed = self._min_speech
            if self._crossing < self._reset_at + self._warmup:
                needed = max(needed, self._warmup_min_speech)
            if end - self._crossing >= needed and self._agreed:
                events.append(self._start(end))
                if self._max_speech is not None and end - self._onset >= self._max_speech:
                    events.append(self._stop(end, end, "max_duration"))
            return events

        self.state = State.SILENT
        if self._idle is not None and end - (idle_start := self.buffer_start) >= self._idle:
            events.append(IdleTimeout(audio_start=idle_start, audio_end=end))
            self._since = end
        return events

    def push_many(
        self,
        probabilities: list[float],
        levels: list[float] | None = None,
        confirms: list[float] | None = None,
    ) -> list[TurnEvent]:
        events: list[TurnEvent] = []
        for i, p in enumerate(probabilities):
            level = None if levels is None else levels[i]
            events.extend(self.push(p, level, None if confirms is None else confirms[i]))
        return events

    def finish(self, heard_until: int | None = None) -> list[TurnEvent]:
        """End of stream: close a turn in progress at the last speech frame.

        ``audio_end`` takes as much of the silence window as there is audio; ``heard_until`` is
        the end of all audio received, which may run past the last scored frame (a resampler
        holds a few milliseconds back, and a partial frame is never scored). If the last scored
        frame was speech, that unscored tail is taken as the rest of the same speech: the stream
        cut the speech off, nothing says it stopped."""
        if self.state is not State.SPEAKING:
            self.state = State.SILENT
            return []
        limit = self.position if heard_until is None else max(self.position, heard_until)
        end = limit if self.frame_speech else self._last_speech_end
        return [self._stop(end, min(end + self._silence, limit), "end_of_stream")]

    def _start(self, end: int) -> SpeechStarted:
        self.state = State.SPEAKING
        self._last_speech_end = end
        return SpeechStarted(
            onset=self._onset, audio_start=max(self._onset - self._prefix, self.buffer_start)
        )

    def _stop(self, speech_end: int, audio_end: int, reason: StopReason) -> SpeechStopped:
        self.state = State.SILENT
        self._held = 0
        self._since = audio_end
        return SpeechStopped(speech_end=speech_end, audio_end=audio_end, reason=reason)
