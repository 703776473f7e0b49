"""One WebSocket connection: move text between the socket and its sans-I/O Session.

Everything here runs on the event loop (the Session is never touched from another thread):

* the reader hands every client message to the Session at once (appends are never delayed by
  scoring; the Session itself keeps non-append events in order behind pending scores);
* scoring is a relay, not a task: after each message (and after each batch of scores) the
  connection hands the Session's ready frames to the shared :class:`Scorer`, one request in
  flight at a time, and the Scorer calls back with the probabilities;
* the writer drains a bounded queue of outgoing events. A client that stops reading fills it
  (or blocks one send past ``send_timeout_s``); then only this session is closed, with 1008.

Work requests (``Session.work_to_do``) are taken after each client message and after each
batch of scores: transcriptions go to the shared :class:`TranscriptionPool` (one per session at a
time, the Session's rule), whose callbacks feed the Session on the event loop; end-of-turn
queries have their own dispatch point (``_request_turn_end``).

Latency metric: each scoring request remembers the appends that arrived since the previous
request was taken (the only appends that can have completed its frames). A turn event is timed
from the first of them whose audio reaches the event's decision point (the end of the frame
that decided it, as the Session reports it).
The true deciding append (the one that also fills the resampler's look-ahead) is that one or a
later one, so the figure is an upper bound, exact when one append completes a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from openapiopenai.asr import Logprob, recent_context
from openapiopenai.config import ServerSettings
from openapiopenai.models import RealtimeModel
from openapiopenai.protocol import errors
from openapiopenai.protocol.session import Session
from openapiopenai.protocol.work import TranscriptionRequest, TurnEndRequest
from openapiopenai.server.codes import Close
from openapiopenai.server.metrics import Metrics
from openapiopenai.server.scorer import FrameScorer
from openapiopenai.server.transcription import TranscriptionJob, TranscriptionPool
from openapiopenai.server.turn_end import TurnEndWorker
from openapiopenai.vad.base import FloatArray

log = logging.getLogger("openapiopenai.server")

#: the events whose latency is measured (decided by audio)
TURN_EVENTS = frozenset(
    {
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.timeout_triggered",
    }
)
COMMITTED = "input_audio_buffer.committed"
TRANSCRIPTION_COMPLETED = "conversation.item.input_audio_transcription.completed"
TRANSCRIPTION_FAILED = "conversation.item.input_audio_transcription.failed"
#: appends remembered for the latency metric while nothing is scored (manual mode)
_MAX_ARRIVALS = 256
#: seconds a close handshake or the last flush may take before the socket is dropped
_CLOSE_TIMEOUT_S = 2.0

#: (wire ms of audio received so far, perf_counter when its message arrived)
Arrival = tuple[int, float]


class Connection:
    """The shell around one Session: reader, scoring relay, writer, and an orderly close."""

    def __init__(
        self,
        websocket: WebSocket,
        session: Session,
        scorer: FrameScorer,
        settings: ServerSettings,
        metrics: Metrics,
        *,
        transcription: TranscriptionPool | None = None,
        turn_end: TurnEndWorker | None = None,
    ) -> None:
        self.websocket = websocket
        self.turn_end = turn_end
        #: an end-of-turn question of this session may be waiting in ``turn_end``
        self._asked = False
        self.session = session
        self.scorer = scorer
        self.settings = settings
        self.metrics = metrics
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue(maxsize=settings.send_queue_events)
        self._closing = asyncio.Event()
        self._close_code = Close.NORMAL
        self._close_reason = ""
        #: no scoring request in flight
        self._idle = asyncio.Event()
        self._idle.set()
        #: shutting down: client messages are no longer handed to the Session
        self._draining = False
        self._arrivals: deque[Arrival] = deque(maxlen=_MAX_ARRIVALS)
        self._window: deque[Arrival] = deque()
        self._position_ms = 0
        self.transcription = transcription
        #: the transcription this session has in the pool (the Session hands out one at a time)
        self._job: TranscriptionJob | None = None
        #: the latest transcripts of this session, the decoding context of the next item
        self._said: deque[str] = deque(maxlen=8)
        #: item id -> when its ``committed`` event was queued (transcription latency metric)
        self._committed_at: dict[str, float] = {}
        #: set when ``run`` has closed the socket and returned
        self.finished = asyncio.Event()

    async def run(self, subprotocol: str | None) -> None:
        """Serve the connection until the client leaves or the server closes it."""
        await self.websocket.accept(subprotocol=subprotocol)
        self.session.start()
        self._flush(None)
        writer = asyncio.create_task(self._write())
        reader = asyncio.create_task(self._read())
        closing = asyncio.create_task(self._closing.wait())
        try:
            await asyncio.wait({writer, reader, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            reader.cancel()
            closing.cancel()
            await self._stop_writer(writer)
            await asyncio.gather(reader, closing, writer, return_exceptions=True)
            await self._close()
            if self._job is not None:
                self._job.cancel()
            self.session.drain_events()
            if self.turn_end is not None:
                self.turn_end.forget(self)
            self.finished.set()

    async def shutdown(self) -> None:
        """Server going down: score what was received, finish the turn in flight, deliver
        what is queued, close with 1001. Audio arriving after this point is not used."""
        if self._closing.is_set():
            await self.finished.wait()
            return
        self._draining = True
        await self._idle.wait()  # frames already received are scored first
        self.session.finish_turn()
        self._flush(None)
        # ``run`` lets the writer deliver everything queued before it sends the close frame
        self._begin_close(Close.GOING_AWAY, "server shutting down")
        await self.finished.wait()

    # ------------------------------------------------------------------ reading

    async def _read(self) -> None:
        limit = self.settings.max_message_bytes
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if self._draining:
                continue
            arrived = time.perf_counter()
            try:
                text = message.get("text")
                if text is not None:
                    # len(text) <= UTF-8 size <= 4 * len(text): encode only when it matters
                    size = len(text) if len(text) * 4 <= limit else len(text.encode())
                    if size > limit:
                        self.session.receive_oversized(size)
                    else:
                        self.session.receive_text(text)
                elif message.get("bytes") is not None:
                    self.session.receive_bytes(message["bytes"])
                position = self.session.audio_position_ms
                if position != self._position_ms:
                    self._position_ms = position
                    self._arrivals.append((position, arrived))
                self._flush(None)
                self._pump()
                self._dispatch_work()
            except Exception:  # a bug must end this session only, never the server
                log.exception("session %s failed on a client message", self.session.id)
                self._begin_close(Close.INTERNAL_ERROR, "internal error")
                return

    # ------------------------------------------------------------------ scoring relay

    def _pump(self) -> None:
        """Hand the Session's ready frames to the scorer, unless a request is in flight."""
        if not self._idle.is_set() or self._closing.is_set():
            return
        request = self.session.frames_to_score()
        if request is None:
            return
        self._idle.clear()
        if not self.session.awaiting_second_opinion:
            # the appends these frames came from (a second opinion scores the same frames again)
            self._window, self._arrivals = self._arrivals, deque(maxlen=_MAX_ARRIVALS)
        self.scorer.submit(request, self._on_scores)

    def _on_scores(self, result: FloatArray | Exception) -> None:
        """The scorer's callback, on the event loop."""
        try:
            if self.finished.is_set() or self._closing.is_set():
                return  # the session is gone or being closed: nobody needs these events
            if isinstance(result, Exception):
                log.error("scoring failed; closing session %s", self.session.id, exc_info=result)
                self._begin_close(Close.INTERNAL_ERROR, "speech model failure")
                return
            self.session.receive_scores(result)
            self._flush(self._window)
            self._idle.set()
            self._pump()
            self._dispatch_work()
            if self._asked and self.turn_end is not None:
                # the speaker resumed: drop the question nobody waits for any more
                self._asked = self.session.pending_turn_end is not None
                self.turn_end.retain(self, self.session.pending_turn_end)
        except Exception:  # a bug must end this session only, never leave it waiting forever
            log.exception("session %s failed on its scores", self.session.id)
            self._begin_close(Close.INTERNAL_ERROR, "internal error")
        finally:
            if self._closing.is_set() or self.finished.is_set():
                self._idle.set()

    # ------------------------------------------------------------------ work requests

    def _dispatch_work(self) -> None:
        """Hand the Session's new work requests to whoever runs them."""
        if self._closing.is_set() or self.finished.is_set():
            return
        for request in self.session.work_to_do():
            if isinstance(request, TranscriptionRequest):
                self._transcribe(request)
            elif isinstance(request, TurnEndRequest):
                self._request_turn_end(request)

    def _request_turn_end(self, request: TurnEndRequest) -> None:
        """semantic_vad's question to the end-of-turn worker (``server/turn_end.py``). Without one,
        sessions cannot enable semantic_vad (``Features``); should a query come anyway, it is
        answered "no answer", which falls back on the silence window."""
        if self.turn_end is None:
            self.session.receive_turn_end(request.query, None)
            self._flush(None)
            return
        self._asked = True
        self.turn_end.submit(self, request, self._on_turn_end)

    def _on_turn_end(self, query: int, probability: float | None) -> None:
        """The end-of-turn worker's answer, on the event loop."""
        if self.finished.is_set() or self._closing.is_set():
            return
        try:
            self.session.receive_turn_end(query, probability)
            self._flush(None)
            self._dispatch_work()
        except Exception:  # a bug must end this session only
            log.exception("session %s failed on an end-of-turn answer", self.session.id)
            self._begin_close(Close.INTERNAL_ERROR, "internal error")

    def _transcribe(self, request: TranscriptionRequest) -> None:
        item = request.item_id
        if self.transcription is None:  # the Session refuses the config without the feature
            self.session.receive_transcript_failed(
                item, "This server does not transcribe.", errors.TRANSCRIPTION_FAILED
            )
            self._flush(None)
            return

        parts: list[str] = []

        def on_delta(text: str, logprobs: list[Logprob] | None) -> None:
            parts.append(text)
            wire = [dict(lp) for lp in logprobs] if logprobs is not None else None
            self._on_transcript(lambda: self.session.receive_transcript_delta(item, text, wire), done=False)

        def on_done() -> None:
            self._said.append("".join(parts))
            self._on_transcript(lambda: self.session.receive_transcript_done(item), done=True)

        def on_failed(message: str, code: str) -> None:
            fail = self.session.receive_transcript_failed
            self._on_transcript(lambda: fail(item, message, code), done=True)

        context = recent_context(self._said)
        self._job = self.transcription.submit(request, on_delta, on_done, on_failed, context=context)

    def _on_transcript(self, deliver: Callable[[], None], *, done: bool) -> None:
        """A transcription callback, on the event loop: feed the Session, send its events, and
        hand out the next item when this one is finished."""
        if self._closing.is_set() or self.finished.is_set():
            return
        try:
            deliver()
            if done:
                self._job = None
            self._flush(None)
            if done:
                self._dispatch_work()
        except Exception:  # a bug must end this session only
            log.exception("session %s failed on a transcript", self.session.id)
            self._begin_close(Close.INTERNAL_ERROR, "internal error")

    # ------------------------------------------------------------------ writing

    async def _write(self) -> None:
        timeout = self.settings.send_timeout_s
        while (text := await self._outbox.get()) is not None:
            try:
                # ``asyncio.timeout``, not ``wait_for``: a send to a reading client completes
                # without suspending, and a task per send would cost loop iterations per event
                async with asyncio.timeout(timeout):
                    await self.websocket.send_text(text)
            except TimeoutError:
                self._begin_close(Close.POLICY, "client is not reading its events")
                return
            except (WebSocketDisconnect, RuntimeError, OSError):
                return

    async def _stop_writer(self, writer: asyncio.Task[None]) -> None:
        """Let the writer deliver what is queued, unless the client is the reason we stop."""
        if writer.done():
            return
        if self._close_code == Close.POLICY:
            writer.cancel()
            return
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(writer), timeout=_CLOSE_TIMEOUT_S)
        except TimeoutError:
            writer.cancel()

    def _flush(self, window: deque[Arrival] | None) -> None:
        """Queue the Session's new events; note latency and errors on the way."""
        if self._closing.is_set():
            self.session.drain_events()
            return
        now = time.perf_counter()
        event: RealtimeModel
        for event in self.session.drain_events():
            kind = getattr(event, "type", "")
            if kind == "error":
                code = getattr(getattr(event, "error", None), "code", None)
                self.metrics.errors.labels(code=str(code)).inc()
            elif window and kind in TURN_EVENTS:
                arrived = self._deciding_arrival(event, window)
                self.metrics.event_latency.labels(type=kind).observe(now - arrived)
            elif kind == COMMITTED and self.session.config.transcription is not None:
                self._committed_at[str(getattr(event, "item_id", ""))] = now
            elif kind in (TRANSCRIPTION_COMPLETED, TRANSCRIPTION_FAILED):
                committed = self._committed_at.pop(str(getattr(event, "item_id", "")), None)
                if committed is not None and kind == TRANSCRIPTION_COMPLETED:
                    self.metrics.transcription_latency.observe(now - committed)
            try:
                self._outbox.put_nowait(event.to_json())
            except asyncio.QueueFull:
                self._begin_close(Close.POLICY, "client is not reading its events")
                return

    def _deciding_arrival(self, event: RealtimeModel, window: deque[Arrival]) -> float:
        """When the first append reaching the event's decision point arrived (see module doc).
        The point is the detector's own (the Session remembers it), never rebuilt from the wire
        fields, which clamping and minimum speech durations make inexact."""
        point = self.session.decision_point_ms(str(getattr(event, "event_id", "")))
        if point is None:
            return window[-1][1]
        for position, arrived in window:
            if position >= point:
                return arrived
        return window[-1][1]

    # ------------------------------------------------------------------ closing

    def _begin_close(self, code: Close, reason: str) -> None:
        if not self._closing.is_set():
            self._close_code, self._close_reason = code, reason
            self.metrics.closed.labels(reason=reason).inc()
            self._closing.set()

    async def _close(self) -> None:
        if self.websocket.application_state == WebSocketState.DISCONNECTED:
            return
        if self.websocket.client_state == WebSocketState.DISCONNECTED:
            return
        # the peer may be gone or stalled: closing is best effort, bounded in time
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError, TimeoutError):
            await asyncio.wait_for(
                self.websocket.close(self._close_code, self._close_reason), _CLOSE_TIMEOUT_S
            )


__all__ = ["TURN_EVENTS", "Connection"]
