"""One Realtime session as a pure state machine: client text in, server events out.

Theory of operation
-------------------
The Session never touches a socket, a clock or the neural net. The shell (the WebSocket
server, or the offline driver) calls::

    session.receive_text(frame)          # a client event, as text
    req = session.frames_to_score()      # audio frames ready for the speech model, or None
    session.receive_scores(model(req))   # their probabilities
    session.events_to_send()             # server events, in order

Inference is I/O here, which is what lets the server batch the frames of every session into
one model call and lets tests replay scripted probabilities.

Ordering. Client events are handled strictly in arrival order. Appends only add audio, so
they are handled at once even while earlier frames await their scores; any other event
(commit, clear, update, ...) waits until every frame before it has been scored, so its effect
lands at the same place on the timeline as it would if scoring were instantaneous. That
makes the event stream independent of scheduling: the server over a network and the
offline driver produce the same events for the same client messages.

Other work. Transcribing a committed item and judging whether a turn is complete are
inference too: ``work_to_do()`` hands out :mod:`~openapiopenai.protocol.work` requests and the
shell answers with ``receive_transcript_delta/done/failed`` and ``receive_turn_end``. At most
one transcription per session is out at a time, so items complete in commit order; answers for
a turn or item the session has moved past are ignored here, not by the shell.

Timeline. Positions are whole samples of input audio appended since the session began (at
the input format's rate); wire milliseconds are made in one place (``_ms``). Commits and
clears never move the timeline back.

Errors. A client's mistake (:class:`ProtocolError`) becomes an ``error`` event, in order with
the events around it, and the session goes on. Only a bug in this module raises out of it.
"""

from __future__ import annotations

import binascii
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, assert_type

import numpy as np
import orjson
import pybase64
import pydantic

from openapiopenai.audio.formats import AudioFormat
from openapiopenai.audio.pipeline import AudioPipeline, DenoiseStage, frame_levels_dbfs
from openapiopenai.exceptions import AudioFormatError, ProtocolError
from openapiopenai.models import RealtimeModel
from openapiopenai.models.unions import UnknownEventTypeError
from openapiopenai.protocol import errors, events
from openapiopenai.protocol.buffer import AudioBuffer
from openapiopenai.protocol.config import Dialect, Features, InputConfig, SessionKind
from openapiopenai.protocol.conversation import Conversation, Item
from openapiopenai.protocol.dialects import BetaDialect, GaDialect, SessionUpdate
from openapiopenai.protocol.ids import IdFactory
from openapiopenai.protocol.work import (
    TURN_END_WINDOW_MS,
    AudioSlice,
    NoiseReduction,
    TranscriptionRequest,
    TurnEndRequest,
    WorkRequest,
)
from openapiopenai.turns.config import SemanticVadConfig, TurnDetectionConfig
from openapiopenai.turns.detector import IdleTimeout, SpeechStarted, SpeechStopped, TurnDetector, TurnEvent
from openapiopenai.turns.semantic import SemanticEvent, SemanticTurnDetector, TurnEndQuery
from openapiopenai.turns.timeline import ms_to_samples, samples_to_ms
from openapiopenai.vad.base import FloatArray, SpeechModel, StreamState

MIN_COMMIT_MS = 100
#: levels of objects and arrays a client event may nest: ``json.loads`` accepts about a thousand,
#: but pydantic cannot serialise much past 250 (a ``session.update`` echoes its tools back), and
#: no Realtime event needs more than a dozen or so
MAX_EVENT_DEPTH = 128
SESSION_LIFETIME_S = 3600

APPEND = "input_audio_buffer.append"


@dataclass(frozen=True, slots=True)
class _ClientEvent:
    """A decoded client event waiting its turn."""

    kind: str
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _RawAudio:
    """Audio appended as bytes by ``receive_audio`` (an append without JSON and base64)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class _QueuedError:
    """A client mistake found on arrival, reported in order behind the events before it."""

    error: ProtocolError


_Inbound = _ClientEvent | _RawAudio | _QueuedError


@dataclass(slots=True)
class _Transcript:
    """The transcription of one committed item, from request to ``completed``/``failed``."""

    request: TranscriptionRequest
    parts: list[str] = field(default_factory=list)
    logprobs: list[dict[str, Any]] = field(default_factory=list)


#: the shell's noise reduction for the VAD path: ``(mode, model_rate) -> stage`` for one stream
#: (``openapiopenai.denoise.stream_factory`` makes one; the core never runs a denoiser itself)
DenoiserFactory = Callable[[NoiseReduction, int], DenoiseStage]


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Per-session bounds; the server's settings fill these in."""

    #: uncommitted audio a client may hold in the buffer
    max_buffer_bytes: int = 32 * 1024 * 1024
    #: the soft cap on one client message, reported in ``message_too_large`` errors
    max_message_bytes: int = 22 * 1024 * 1024
    #: audio of past items kept for ``conversation.item.retrieve`` (the newest items win; about
    #: 44 s of 24 kHz PCM16, so that a server holding hundreds of sessions stays bounded)
    max_retained_audio_bytes: int = 2 * 1024 * 1024
    #: in ``server_vad`` mode, silence kept in the buffer before the prefix padding: a silent
    #: session (a caller on hold) must never fill the buffer, which would refuse its appends
    #: and so lose the speech that follows. A VAD commit carries at most this much (up to twice
    #: this, as it is dropped in steps) of leading silence.
    max_leading_silence_ms: int = 10_000
    #: items a session keeps: past it a client's new item is refused (``conversation_full``), and
    #: committed audio makes room by removing the oldest items (``conversation_items_evicted``)
    max_items: int = 1024
    #: text of the items a session keeps (their JSON, audio excluded), with the same rules; a
    #: single client item larger than this is refused with ``item_too_large``
    max_item_bytes: int = 4 * 1024 * 1024
    #: committed items waiting for transcription; past it an item fails with
    #: ``transcription_backlog`` at once instead of holding its audio
    max_pending_transcriptions: int = 16


def _nests_deeper_than(value: dict[str, Any], limit: int) -> bool:
    """Whether objects and arrays nest more than ``limit`` levels (level by level: no recursion)."""
    level: list[Any] = [value]
    depth = 1
    while level:
        if depth > limit:
            return True
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
        depth += 1
    return False


def _base64_audio(text: str) -> bytes:
    """Strict base64 (only the alphabet, correct padding; raises ``ValueError``). pybase64's SIMD
    decoder: ~20x faster than ``binascii`` on a 100 ms append, which is the hot path's biggest step."""
    data: bytes = pybase64.b64decode(text, validate=True)
    return data


@dataclass(frozen=True, slots=True)
class ScoreRequest:
    """Frames of one stream to score, in order, with that stream's model state."""

    frames: FloatArray
    state: StreamState
    sample_rate: int


class Session:
    """One Realtime session (GA or beta, realtime or transcription) as a sans-I/O state machine.

    The call contract, for any shell:

    * ``start()`` once, then deliver every client message in arrival order with
      ``receive_text`` (or ``receive_audio`` / ``receive_bytes`` / ``receive_oversized``).
    * Whenever ``frames_to_score()`` returns a request, score its frames with the speech model
      (on the request's ``state``) and hand the probabilities to ``receive_scores``; only one
      request is out at a time.
    * ``work_to_do()`` returns transcription and end-of-turn requests; answer each through the
      matching ``receive_*`` method, in any order and at any later time (or never: the session
      falls back where it can).
    * ``events_to_send()`` (or ``drain_events()`` for models) after any call: the server events
      that call produced, in order.

    None of these raise for anything a client sends; they raise only on a shell bug (e.g.
    scores for frames that were not requested).
    """

    def __init__(
        self,
        speech_model: SpeechModel,
        *,
        ids: IdFactory | None = None,
        dialect: Dialect = "ga",
        intent: SessionKind = "realtime",
        model_name: str | None = None,
        turn_detection: TurnDetectionConfig | None = None,
        limits: SessionLimits | None = None,
        created_at: int = 0,
        record_turns: bool = False,
        features: Features | None = None,
        denoiser: DenoiserFactory | None = None,
    ) -> None:
        self._model = speech_model
        self._ids = ids or IdFactory()
        self._dialect = BetaDialect() if dialect == "beta" else GaDialect()
        #: what the shell provides (transcription, semantic_vad, noise reduction)
        self.features = features or Features()
        #: builds the denoise stage of the VAD path while ``config.noise_reduction`` is set
        self._denoiser = denoiser
        self.kind: SessionKind = intent
        self.model_name = model_name
        self.limits = limits or SessionLimits()
        self.id = self._ids.session()
        self._expires_at = created_at + SESSION_LIFETIME_S
        self._default_td = turn_detection or TurnDetectionConfig()
        self.config = InputConfig(turn_detection=self._default_td)
        self._echo: dict[str, Any] = {}
        self._outbox: list[RealtimeModel] = []
        self._inbox: deque[_Inbound] = deque()
        self._conversation = Conversation(
            max_audio_bytes=self.limits.max_retained_audio_bytes,
            max_items=self.limits.max_items,
            max_item_bytes=self.limits.max_item_bytes,
        )
        #: committed items waiting for transcription, the first one possibly handed out
        self._transcripts: deque[_Transcript] = deque()
        self._transcript_out = False
        self._turn_end_requests: list[TurnEndRequest] = []
        #: wire ms of the audio that decided each turn event not yet drained (event id -> ms)
        self._decided_at: dict[str, int] = {}
        self._drained_decisions: dict[str, int] = {}
        self._pending_item: str | None = None
        self._unscored: list[FloatArray] = []
        #: with noise reduction: the same frames un-denoised, scored after them (a second opinion)
        self._unscored_raw: list[FloatArray] = []
        self._scoring_raw: FloatArray | None = None
        self._raw_state: StreamState | None = None  # the second opinion's model stream
        #: the denoised frames' scores, held until their second opinion is in
        self._held_scores: FloatArray | None = None
        self._in_flight = 0
        self._ms_base = 0  # wire ms of timeline sample 0 of the current format
        self._total_bytes = 0
        #: the detector's own events (exact onsets and speech ends), kept when ``record_turns``
        self.turn_log: list[TurnEvent] = []
        self._record_turns = record_turns
        self._setup_audio(self.config.format)

    # ------------------------------------------------------------------ shell API

    def start(self) -> None:
        """Open the session: call once, before any ``receive_*``.

        Emits ``session.created`` (beta: then ``conversation.created``). Raises nothing."""
        self._emit(events.session_created(self._ids, self._dialect, self._session_object()))
        if self._dialect.sends_conversation_created:
            self._emit(events.conversation_created(self._ids))

    def receive_text(self, text: str) -> None:
        """One client message (a WebSocket text frame), in arrival order, after :meth:`start`.

        Appends take effect at once; any other event waits until the frames before it are scored
        (see Ordering above). May emit any server event, or nothing yet (then the events come
        after ``receive_scores``). Anything a client sends (bad JSON, unknown events or fields,
        bad audio, a full buffer) becomes one ``error`` event in its place: this never raises on
        client input."""
        try:
            event = self._decode(text)
        except ProtocolError as exc:
            self._error_in_order(exc)
            return
        kind = event["type"]
        if kind == APPEND and not self._inbox:
            # nothing waits before it and appends are never held back: what ``_drain`` would do
            # with it, without queueing it first (the hot path: most client messages are these)
            try:
                self._handle(kind, event)
            except ProtocolError as exc:
                self._error(exc)
            return
        self._inbox.append(_ClientEvent(kind, event))
        self._drain()

    def receive_audio(self, data: bytes) -> None:
        """Append raw audio in the input format: ``input_audio_buffer.append`` without the JSON and
        base64 round trip (the library path); same ordering, limits and errors."""
        self._inbox.append(_RawAudio(bytes(data)))
        self._drain()

    def receive_bytes(self, data: bytes) -> None:
        """A binary WebSocket frame: not part of the protocol. Emits one ``invalid_event`` error,
        in order with the messages before it; ``data`` is not used. Never raises."""
        self._error_in_order(errors.binary_frame())

    def receive_oversized(self, size: int) -> None:
        """A message the shell did not read whole (``size`` bytes, over ``max_message_bytes``).
        Emits one ``message_too_large`` error, in order; the session goes on. Never raises."""
        self._error_in_order(errors.message_too_large(size, self.limits.max_message_bytes))

    def frames_to_score(self) -> ScoreRequest | None:
        """The next frames for the speech model, or ``None`` (nothing new, or a request is still
        out: only one at a time). Score the frames on the request's own ``state`` and pass the
        probabilities to :meth:`receive_scores`. Emits nothing; never raises."""
        if self._in_flight:
            return None
        if self._held_scores is not None and self._scoring_raw is not None and self._raw_state is not None:
            # noise reduction: the same frames as heard before the denoiser, on their own stream
            self._in_flight = len(self._scoring_raw)
            return ScoreRequest(frames=self._scoring_raw, state=self._raw_state, sample_rate=self._model_rate)
        if not self._unscored:
            return None
        frames = self._unscored[0] if len(self._unscored) == 1 else np.concatenate(self._unscored)
        self._unscored.clear()
        if self._unscored_raw:
            raw = self._unscored_raw
            self._scoring_raw = raw[0] if len(raw) == 1 else np.concatenate(raw)
            raw.clear()
        self._in_flight = len(frames)
        self._scoring = frames
        return ScoreRequest(frames=frames, state=self._stream_state, sample_rate=self._model_rate)

    @property
    def awaiting_second_opinion(self) -> bool:
        """The scores just received wait for the same frames' un-denoised scores (noise
        reduction): the next request is those frames, and no event comes before it is answered."""
        return self._held_scores is not None

    def receive_scores(self, probabilities: FloatArray) -> None:
        """The speech probabilities of the last request, one per frame, in order.

        Runs the turn rules over them and then the client events that waited for them, so it
        may emit turn events (``speech_started``, ``speech_stopped``, ``committed``, items, ...)
        and anything those events produce, errors included. Raises ``ValueError`` only on a shell
        bug: a count that does not match the request."""
        if len(probabilities) != self._in_flight:
            raise ValueError(f"expected {self._in_flight} scores, got {len(probabilities)}")
        frames, self._in_flight = self._scoring, 0
        confirms: list[float] | None = None
        if self._scoring_raw is not None:
            if self._held_scores is None:
                self._held_scores = probabilities  # the second opinion on these frames comes next
                return
            confirms, probabilities = probabilities.tolist(), self._held_scores
            self._held_scores = self._scoring_raw = None
        td = self.config.server_vad
        levels = frame_levels_dbfs(frames) if td is not None and td.min_level_dbfs is not None else None
        for i, p in enumerate(probabilities.tolist()):
            level = None if levels is None else float(levels[i])
            for turn_event in self._detector.push(p, level, None if confirms is None else confirms[i]):
                self._on_turn_event(turn_event)
        self._drop_old_silence()
        self._drain()

    def drain_events(self) -> list[RealtimeModel]:
        """The server events produced since the last drain, as models, in order; the outbox is
        then empty. Also makes their decision points available to :meth:`decision_point_ms`
        (until the next drain). Call it (or :meth:`events_to_send`) after any other call."""
        out, self._outbox = self._outbox, []
        self._drained_decisions, self._decided_at = self._decided_at, {}
        return out

    def decision_point_ms(self, event_id: str) -> int | None:
        """Wire ms of the audio that decided a turn event of the last ``drain_events`` (the end
        of the frame that confirmed the onset, or the stop's ``audio_end_ms``): what latency is
        measured from."""
        return self._drained_decisions.get(event_id)

    def work_to_do(self) -> list[WorkRequest]:
        """New transcription and end-of-turn requests, each handed out once."""
        work: list[WorkRequest] = list(self._turn_end_requests)
        self._turn_end_requests.clear()
        if self._transcripts and not self._transcript_out:
            self._transcript_out = True
            work.append(self._transcripts[0].request)
        return work

    def receive_transcript_delta(
        self, item_id: str, text: str, logprobs: list[dict[str, Any]] | None = None
    ) -> None:
        """A piece of the transcript of the item handed out last."""
        current = self._current_transcript(item_id)
        if current is None or not text:
            return
        current.parts.append(text)
        if logprobs:
            current.logprobs.extend(logprobs)
        wanted = logprobs if current.request.logprobs else None
        self._emit(events.transcription_delta(self._ids, item_id, text, wanted))

    def receive_transcript_done(self, item_id: str) -> None:
        """The transcript is complete: ``completed``, and ``retrieve`` shows it from now on."""
        current = self._current_transcript(item_id)
        if current is None:
            return
        transcript = "".join(current.parts)
        self._conversation.set_transcript(item_id, transcript)
        logprobs = current.logprobs if current.request.logprobs else None
        self._emit(
            events.transcription_completed(
                self._ids, item_id, transcript, current.request.audio.seconds, logprobs
            )
        )
        self._make_room(item_id)
        self._next_transcript()

    def receive_transcript_failed(
        self, item_id: str, message: str, code: str = errors.TRANSCRIPTION_FAILED
    ) -> None:
        """The item could not be transcribed; the session goes on with the next one."""
        if self._current_transcript(item_id) is None:
            return
        self._emit(events.transcription_failed(self._ids, item_id, code, message))
        self._next_transcript()

    def receive_turn_end(self, query: int, probability: float | None) -> None:
        """The end-of-turn model's answer (``None``: no answer, fall back on silence)."""
        if not isinstance(self._detector, SemanticTurnDetector):
            return  # the rule changed since the question: nobody waits for it
        for turn_event in self._detector.answer(query, probability):
            self._on_turn_event(turn_event)
        self._drain()

    def events_to_send(self) -> list[str]:
        """:meth:`drain_events` as wire JSON text, one string per event, ready to send."""
        return [event.to_json() for event in self.drain_events()]

    @property
    def pending_turn_end(self) -> int | None:
        """The end-of-turn query the detector waits for, if any: other questions may be dropped."""
        if isinstance(self._detector, SemanticTurnDetector):
            return self._detector.pending_query
        return None

    @property
    def turn_in_progress(self) -> bool:
        """A turn has started (``speech_started`` was emitted) and is not yet stopped, committed
        or cleared: :meth:`finish_turn` would close it. Read-only; never raises."""
        return self._pending_item is not None

    @property
    def audio_position_ms(self) -> int:
        """Wire milliseconds of all whole samples appended so far."""
        return self._ms(self._buffer.end)

    def finish_turn(self) -> None:
        """Close a turn in progress now (end of input, server shutdown): ``speech_stopped``
        at the last speech plus as much of the silence window as was heard, then the commit."""
        for turn_event in self._detector.finish(self._buffer.end):
            self._on_turn_event(turn_event)

    # ------------------------------------------------------------------ decoding

    def _current_transcript(self, item_id: str) -> _Transcript | None:
        """The transcript handed out, if ``item_id`` is its item (anything else is stale)."""
        if self._transcript_out and self._transcripts and self._transcripts[0].request.item_id == item_id:
            return self._transcripts[0]
        return None

    def _next_transcript(self) -> None:
        self._transcripts.popleft()
        self._transcript_out = False

    def _decode(self, text: str) -> dict[str, Any]:
        try:
            event = orjson.loads(text)  # ~3x json.loads on an append (a long base64 string)
        except ValueError as exc:  # orjson's depth limit (1024) included: a JSONDecodeError
            raise errors.bad_json(str(exc)) from None
        if not isinstance(event, dict):
            raise ProtocolError("An event must be a JSON object.", code=errors.INVALID_EVENT)
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        kind = event.get("type")
        if kind is None:
            raise ProtocolError("The 'type' field is missing.", code=errors.INVALID_EVENT, event_id=event_id)
        if _nests_deeper_than(event, MAX_EVENT_DEPTH):
            raise ProtocolError(
                f"The event is nested too deeply (more than {MAX_EVENT_DEPTH} levels of objects and arrays).",
                code=errors.INVALID_EVENT,
                event_id=event_id,
            )
        supported = self._dialect.client_types
        if kind not in supported:
            listed = ", ".join(f"'{t}'" for t in supported[:-1])
            raise ProtocolError(
                f"Invalid value: '{kind}'. Supported values are: {listed} and '{supported[-1]}'.",
                code=errors.INVALID_VALUE,
                param="type",
                event_id=event_id,
            )
        return event

    def _validated(self, event: dict[str, Any]) -> Any:
        """The client event as a model; pydantic's complaint becomes a Realtime error."""
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        try:
            return self._dialect.parse_client_event(event, self.config)
        except pydantic.ValidationError as exc:
            raise errors.from_validation_errors(exc.errors(), event_id, source=event) from None
        except UnknownEventTypeError as exc:  # pragma: no cover - _decode admits only the dialect's types
            raise ProtocolError(
                str(exc), code=errors.INVALID_VALUE, param="type", event_id=event_id
            ) from None

    # ------------------------------------------------------------------ dispatch

    def _blocked(self) -> bool:
        return bool(self._unscored or self._in_flight or self._held_scores is not None)

    def _error_in_order(self, exc: ProtocolError) -> None:
        if self._blocked() or self._inbox:
            self._inbox.append(_QueuedError(exc))
            self._drain()
        else:
            self._error(exc)

    def _drain(self) -> None:
        while self._inbox:
            inbound = self._inbox[0]
            is_append = isinstance(inbound, _RawAudio) or (
                isinstance(inbound, _ClientEvent) and inbound.kind == APPEND
            )
            if not is_append and self._blocked():
                return
            self._inbox.popleft()
            try:
                if isinstance(inbound, _QueuedError):
                    raise inbound.error
                if isinstance(inbound, _RawAudio):
                    self._append_audio(inbound.data, None)
                else:
                    self._handle(inbound.kind, inbound.event)
            except ProtocolError as exc:
                self._error(exc)

    def _handle(self, kind: str, event: dict[str, Any]) -> None:
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        if kind == APPEND:
            self._append_audio(self._decode_audio(event, event_id), event_id)
            return
        parsed = self._validated(event)
        if kind in ("session.update", "transcription_session.update"):
            self._update(parsed.session, event_id, kind)
        elif kind == "input_audio_buffer.commit":
            self._manual_commit(event_id)
        elif kind == "input_audio_buffer.clear":
            self._buffer.take_all()
            self._restart_detection()
            self._emit(events.cleared(self._ids))
        elif kind == "conversation.item.create":
            self._create_item(parsed, event_id)
        elif kind == "conversation.item.delete":
            if not self._conversation.delete(parsed.item_id):
                raise self._no_item(parsed.item_id, event_id)
            self._emit(events.item_deleted(self._ids, parsed.item_id))
        elif kind == "conversation.item.retrieve":
            record = self._conversation.get(parsed.item_id)
            if record is None:
                raise self._no_item(parsed.item_id, event_id)
            self._emit(events.item_retrieved(self._ids, self._dialect, record))
        elif kind == "conversation.item.truncate":
            if parsed.item_id not in self._conversation:
                raise self._no_item(parsed.item_id, event_id, code=errors.TRUNCATE_INVALID_ITEM_ID)
            raise errors.unsupported("Truncating assistant audio", "item_id", event_id)
        else:  # response.create, response.cancel, output_audio_buffer.clear
            raise errors.unsupported(f"'{kind}'", "type", event_id)

    # ------------------------------------------------------------------ audio

    def _model_frames(self, fmt: AudioFormat) -> tuple[int, int, int]:
        """The model's rate and frame for ``fmt``, and that frame in ``fmt`` samples (raises
        ``AudioFormatError`` when a frame is no whole number of them)."""
        rates = self._model.supported_rates()
        model_rate = fmt.sample_rate if fmt.sample_rate in rates else rates[0]
        frame = self._model.frame_samples(model_rate)
        frame_length, rest = divmod(frame * fmt.sample_rate, model_rate)
        if rest:
            raise AudioFormatError(f"{self._model.name} frames do not map onto {fmt.ga_type} samples")
        return model_rate, frame, frame_length

    def _setup_audio(self, fmt: AudioFormat) -> None:
        self._model_rate, _frame, frame_length = self._model_frames(fmt)
        self._format = fmt
        self._frame_length = frame_length
        #: ``limits.max_leading_silence_ms`` in samples of this format
        self._leading_silence = ms_to_samples(self.limits.max_leading_silence_ms, fmt.sample_rate)
        self._buffer = AudioBuffer(fmt.bytes_per_sample, start=self._total_bytes // fmt.bytes_per_sample)
        self._build_pipeline()
        self._stream_state = self._model.new_state(self._model_rate)
        self._detector = self._new_detector()

    def _new_detector(self) -> TurnDetector | SemanticTurnDetector:
        """``semantic_vad`` or ``server_vad`` rules, starting at the buffer's end."""
        td, rate, origin = self.config.turn_detection, self._format.sample_rate, self._buffer.end
        if isinstance(td, SemanticVadConfig):
            return SemanticTurnDetector(
                td, sample_rate=rate, frame_length=self._frame_length, origin=origin, buffer=self._buffer
            )
        return TurnDetector(
            self.config.server_vad or self._default_td,
            sample_rate=rate,
            frame_length=self._frame_length,
            origin=origin,
            buffer=self._buffer,
        )

    def _build_pipeline(self) -> None:
        """The VAD path's pipeline: with the shell's denoise stage while noise reduction is on
        (the audio kept for commits and ``retrieve`` is never touched, only what is scored).

        With the stage comes a second model stream on the same frames before denoising: a turn
        starts only when both hear speech, and goes on while either does
        (``TurnDetector.push(confirm=...)``), because what the
        denoiser leaves of music, street noise or a new sound's first moments can score as
        speech on its own (docs/noise-reduction.md)."""
        mode = self.config.noise_reduction
        stage = None if mode is None or self._denoiser is None else self._denoiser(mode, self._model_rate)
        self._pipeline = AudioPipeline(
            self._format, self._model_rate, self._model.frame_samples(self._model_rate), stage
        )
        self._raw_state = None if stage is None else self._model.new_state(self._model_rate)

    def _restart_detection(self) -> None:
        """Forget the detector's and model's history; frames restart at the buffer's end
        (a half-received sample stays in the buffer, which alone owns it)."""
        self._pipeline.reset()
        self._stream_state.reset()
        if self._raw_state is not None:
            self._raw_state.reset()
        self._detector.reset(self._buffer.end)
        self._pending_item = None
        self._turn_end_requests.clear()

    def _queue_frames(self, frames: FloatArray, raw: FloatArray | None = None) -> None:
        """Frames to score; with noise reduction, ``raw``: the same frames before the denoiser."""
        if len(frames):
            self._unscored.append(frames)
            if raw is not None:
                self._unscored_raw.append(raw)

    def _decode_audio(self, event: dict[str, Any], event_id: str | None) -> bytes:
        audio = event.get("audio")
        extra = set(event) - {"type", "event_id", "audio"}
        if extra:
            param = sorted(extra)[0]
            raise ProtocolError(
                f"Unknown parameter: '{param}'.",
                code=errors.UNKNOWN_PARAMETER,
                param=param,
                event_id=event_id,
            )
        if not isinstance(audio, str):
            if audio is None:
                raise ProtocolError(
                    "Missing required parameter: 'audio'.",
                    code=errors.MISSING_REQUIRED_PARAMETER,
                    param="audio",
                    event_id=event_id,
                )
            raise ProtocolError(
                "Invalid type for 'audio': expected a base64 string.",
                code=errors.INVALID_TYPE,
                param="audio",
                event_id=event_id,
            )
        try:
            data = _base64_audio(audio)
        except (binascii.Error, ValueError):
            raise ProtocolError(
                f"Invalid 'audio'. Expected base64-encoded audio bytes ({self._format.ga_type}) but got an "
                "invalid value.",
                code=errors.INVALID_VALUE,
                param="audio",
                event_id=event_id,
            ) from None
        return data

    def _append_audio(self, data: bytes, event_id: str | None) -> None:
        if len(self._buffer) + len(data) > self.limits.max_buffer_bytes:
            raise ProtocolError(
                f"The input audio buffer would exceed {self.limits.max_buffer_bytes} bytes; commit or clear "
                "it. "
                "This append was discarded.",
                code=errors.BUFFER_FULL,
                param="audio",
                event_id=event_id,
            )
        self._total_bytes += len(data)
        whole = self._buffer.append(data)
        if self.config.turn_detection is not None and whole:
            if self._raw_state is None:
                self._queue_frames(self._pipeline.push(whole))
            else:
                self._queue_frames(*self._pipeline.push_with_raw(whole))

    def _drop_old_silence(self) -> None:
        """``server_vad``, no turn under way: forget silence that no turn can reach any more.

        The next turn's audio starts at the earliest at the next frame minus the prefix padding
        (or where the idle timer started); what lies more than ``max_leading_silence_ms`` before
        that goes, in steps of that size, so a commit keeps a bounded leading silence and the
        buffer is not touched at every frame. The timeline does not move."""
        detector = self._detector
        if self.config.turn_detection is None or self._pending_item is not None or not detector.silent:
            return
        keep = self._leading_silence
        keep_from = detector.earliest_turn_start() - keep
        if keep_from - self._buffer.start >= keep:
            self._buffer.discard(keep_from)  # the detector reads the new start from the buffer

    def _ms(self, position: int) -> int:
        return self._ms_base + samples_to_ms(position, self._format.sample_rate)

    def _on_turn_event(self, turn_event: SemanticEvent) -> None:
        if isinstance(turn_event, TurnEndQuery):
            start = max(
                turn_event.start, turn_event.end - ms_to_samples(TURN_END_WINDOW_MS, self._format.sample_rate)
            )
            audio = self._analysis_slice(self._buffer.peek(start, turn_event.end))
            self._turn_end_requests.append(TurnEndRequest(turn_event.query, audio))
            return
        if self._record_turns:
            self.turn_log.append(turn_event)
        if isinstance(turn_event, SpeechStarted):
            self._pending_item = self._ids.item()
            started = events.speech_started(self._ids, self._ms(turn_event.audio_start), self._pending_item)
            self._emit_decided(started, self._detector.position)
        elif isinstance(turn_event, SpeechStopped):
            item_id = self._pending_item or self._ids.item()
            self._pending_item = None
            self._turn_end_requests.clear()
            stopped = events.speech_stopped(self._ids, self._ms(turn_event.audio_end), item_id)
            self._emit_decided(stopped, turn_event.audio_end)
            self._commit(self._buffer.take(turn_event.audio_end), item_id)
        else:  # mypy checks that nothing but an idle timeout is left
            assert_type(turn_event, IdleTimeout)
            item_id = self._ids.item()
            triggered = events.timeout_triggered(
                self._ids, self._ms(turn_event.audio_start), self._ms(turn_event.audio_end), item_id
            )
            self._emit_decided(triggered, turn_event.audio_end)
            self._commit(self._buffer.take(turn_event.audio_end), item_id)

    def _emit_decided(self, event: RealtimeModel, position: int) -> None:
        """Emit a turn event, remembering where on the timeline it was decided."""
        self._decided_at[str(getattr(event, "event_id", ""))] = self._ms(position)
        self._emit(event)

    # ------------------------------------------------------------------ commits and items

    def _manual_commit(self, event_id: str | None) -> None:
        held_ms = self._buffer.samples * 1000 / self._format.sample_rate
        if held_ms < MIN_COMMIT_MS:
            raise ProtocolError(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {held_ms:.2f}ms of audio.",
                code=errors.COMMIT_EMPTY,
                event_id=event_id,
            )
        item_id = self._pending_item or self._ids.item()
        self._commit(self._buffer.take_all(), item_id)
        self._restart_detection()

    def _commit(self, audio: bytes, item_id: str) -> None:
        item = self._dialect.user_item(item_id)
        previous = self._conversation.insert(Item(item=item, audio=audio), after=None)
        self._emit(events.committed(self._ids, item_id, previous))
        for event in events.item_added(self._ids, self._dialect, item, previous):
            self._emit(event)
        self._make_room(item_id)
        self._request_transcript(item_id, audio)

    def _make_room(self, item_id: str) -> None:
        """Committed audio (or its transcript) is never refused: over the item or text budget the
        oldest other items go, and the client is told which (an ``error`` notice, then
        ``conversation.item.deleted`` for each, so its copy of the conversation stays right)."""
        forgotten = self._conversation.make_room(keep=item_id)
        if not forgotten:
            return
        removed = ", ".join(f"'{forgotten_id}'" for forgotten_id in forgotten)
        self._error(
            ProtocolError(
                f"The conversation is full (at most {self.limits.max_items} items and "
                f"{self.limits.max_item_bytes} bytes of item text). To keep the audio of item "
                f"'{item_id}', the oldest items were removed: {removed}. Delete items you no "
                "longer need (conversation.item.delete) to avoid this.",
                code=errors.ITEMS_EVICTED,
                param=None,
            )
        )
        for forgotten_id in forgotten:
            self._emit(events.item_deleted(self._ids, forgotten_id))

    def _analysis_slice(self, audio: bytes) -> AudioSlice:
        return AudioSlice(audio, self._format, self.config.noise_reduction)

    def _request_transcript(self, item_id: str, audio: bytes) -> None:
        wanted = self.config.transcription
        if wanted is None:
            return
        if len(self._transcripts) >= self.limits.max_pending_transcriptions:
            self._emit(
                events.transcription_failed(
                    self._ids,
                    item_id,
                    errors.TRANSCRIPTION_BACKLOG,
                    f"More than {self.limits.max_pending_transcriptions} items are waiting for "
                    "transcription; this one was not transcribed (its audio is kept).",
                )
            )
            return
        request = TranscriptionRequest(
            item_id=item_id,
            audio=self._analysis_slice(audio),
            model=wanted.model,
            language=wanted.language,
            prompt=wanted.prompt,
            logprobs=self.config.include_logprobs,
        )
        self._transcripts.append(_Transcript(request))

    def _create_item(self, parsed: Any, event_id: str | None) -> None:
        item = parsed.item.model_dump(mode="json", exclude_unset=True)
        item.setdefault("id", self._ids.item())
        item.setdefault("status", "completed")
        item = self._dialect.client_item(item)
        if item["id"] in self._conversation:
            raise ProtocolError(
                f"Item with id '{item['id']}' already exists.",
                code=errors.INVALID_VALUE,
                param="item.id",
                event_id=event_id,
            )
        after = parsed.previous_item_id if "previous_item_id" in parsed.model_fields_set else None
        if after not in (None, "root") and after not in self._conversation:
            raise self._no_item(after, event_id, param="previous_item_id")
        audio = b""
        for index, part in enumerate(item.get("content") or []):
            if isinstance(part, dict) and isinstance(part.get("audio"), str):
                try:
                    audio += _base64_audio(part.pop("audio"))
                except (binascii.Error, ValueError):
                    raise ProtocolError(
                        "Invalid 'audio': expected base64-encoded audio bytes.",
                        code=errors.INVALID_VALUE,
                        param=f"item.content[{index}].audio",
                        event_id=event_id,
                    ) from None
        record = Item(item=item, audio=audio)
        if not self._conversation.fits(record):
            raise ProtocolError(
                f"The item takes {record.size} bytes; a session holds at most "
                f"{self.limits.max_item_bytes} bytes of items.",
                code=errors.ITEM_TOO_LARGE,
                param="item",
                event_id=event_id,
            )
        if not self._conversation.has_room(record):
            raise ProtocolError(
                f"The conversation is full: it holds {len(self._conversation)} items and "
                f"{self._conversation.text_bytes} bytes of item text (at most {self.limits.max_items} "
                f"items and {self.limits.max_item_bytes} bytes). Delete items "
                "(conversation.item.delete) before creating more. This item was not added.",
                code=errors.CONVERSATION_FULL,
                param="item",
                event_id=event_id,
            )
        previous = self._conversation.insert(
            record, after=None if after == "root" else after, at_root=after == "root"
        )
        for event in events.item_added(self._ids, self._dialect, item, previous):
            self._emit(event)

    def _no_item(
        self, item_id: str, event_id: str | None, *, code: str = errors.ITEM_NOT_FOUND, param: str = "item_id"
    ) -> ProtocolError:
        return ProtocolError(
            f"Item with item_id not found: {item_id}", code=code, param=param, event_id=event_id
        )

    # ------------------------------------------------------------------ session config

    def _session_object(self) -> dict[str, Any]:
        return self._dialect.session_object(
            self.kind,
            self.config,
            self._echo,
            session_id=self.id,
            model_name=self.model_name,
            expires_at=self._expires_at,
        )

    def _update(self, session: SessionUpdate, event_id: str | None, kind: str) -> None:
        try:
            config, echo = self._dialect.apply_update(
                self.kind, self.config, self._echo, session, self._default_td, self.features, event_id
            )
            self._model_frames(config.format)  # the speech model must frame the new format
        except AudioFormatError as exc:
            raise ProtocolError(
                str(exc), code=errors.INVALID_VALUE, param="session.audio.input.format", event_id=event_id
            ) from None
        old = self.config
        if config.format != old.format and len(self._buffer):
            raise ProtocolError(
                "The input audio format cannot change while the input audio buffer holds audio; "
                "commit or clear it first.",
                code=errors.FORMAT_CHANGE_WITH_AUDIO,
                param="session.audio.input.format",
                event_id=event_id,
            )
        self.config, self._echo = config, echo
        if config.format != old.format:
            self._ms_base = self._ms(self._buffer.end)
            self._total_bytes = 0
            self._setup_audio(config.format)
            self._pending_item = None
        else:
            if config.noise_reduction != old.noise_reduction:
                self._build_pipeline()  # the denoise stage comes, goes or changes
            if config.noise_reduction != old.noise_reduction or (config.turn_detection is None) != (
                old.turn_detection is None
            ):
                self._restart_detection()
        td = config.turn_detection
        if isinstance(td, SemanticVadConfig) and isinstance(self._detector, SemanticTurnDetector):
            self._detector.configure(td)
        elif isinstance(td, SemanticVadConfig) or isinstance(self._detector, SemanticTurnDetector):
            self._detector = self._new_detector()  # the rule changed: a turn in progress starts over
            self._restart_detection()
        elif config.server_vad is not None:
            self._detector.configure(config.server_vad)
        self._emit(events.session_updated(self._ids, self._dialect, self._session_object(), kind))

    # ------------------------------------------------------------------ output

    def _emit(self, event: RealtimeModel) -> None:
        self._outbox.append(event)

    def _error(self, exc: ProtocolError) -> None:
        self._emit(events.error(self._ids, exc))


__all__ = ["ScoreRequest", "Session", "SessionLimits"]
