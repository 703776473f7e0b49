"""One WebSocket connection: move text between the socket and its sans-I/O Session.

Three activities share the connection, all on the event loop (the Session is never touched
from another thread):

* the reader hands every client message to the Session at once (appends are never delayed by
  scoring; the Session itself keeps non-append events in order behind pending scores);
* the scoring loop sends the Session's ready frames to the shared :class:`Scorer` and feeds the
  probabilities back, one request in flight at a time;
* the writer drains a bounded queue of outgoing events. A client that stops reading fills it
  (or blocks one send past ``send_timeout_s``); then only this session is closed, with 1008.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from openapiopenai.config import ServerSettings
from openapiopenai.models import RealtimeModel
from openapiopenai.protocol.session import Session
from openapiopenai.server.metrics import Metrics
from openapiopenai.server.scorer import Scorer

log = logging.getLogger("openapiopenai.server")

#: the events whose latency is measured (decided by audio)
TURN_EVENTS = frozenset(
    {
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.timeout_triggered",
    }
)
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_INTERNAL_ERROR = 1011


class Connection:
    def __init__(
        self,
        websocket: WebSocket,
        session: Session,
        scorer: Scorer,
        settings: ServerSettings,
        metrics: Metrics,
    ) -> None:
        self.websocket = websocket
        self.session = session
        self.scorer = scorer
        self.settings = settings
        self.metrics = metrics
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue(maxsize=settings.send_queue_events)
        self._scoring: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._close_code = CLOSE_NORMAL
        self._close_reason = ""
        self._last_audio_at = time.perf_counter()
        #: set when ``run`` has closed the socket and returned
        self.finished = asyncio.Event()

    async def run(self, subprotocol: str | None) -> None:
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
            if self._scoring is not None:
                self._scoring.cancel()
            await self._stop_writer(writer)
            await asyncio.gather(reader, closing, writer, return_exceptions=True)
            if self._scoring is not None:
                await asyncio.gather(self._scoring, return_exceptions=True)
            await self._close()
            self.session.drain_events()
            self.finished.set()

    async def _stop_writer(self, writer: asyncio.Task[None]) -> None:
        """Let the writer deliver what is queued, unless the client is the reason we stop."""
        if writer.done():
            return
        if self._close_code == CLOSE_POLICY:
            writer.cancel()
            return
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(writer), timeout=2)
        except TimeoutError:
            writer.cancel()

    async def shutdown(self) -> None:
        """Server going down: finish the turn in flight, deliver what is queued, close 1001."""
        if self._closing.is_set():
            await self.finished.wait()
            return
        if self._scoring is not None:  # frames already received are scored first
            await asyncio.gather(self._scoring, return_exceptions=True)
        self.session.finish_turn()
        self._flush(None)
        # ``run`` lets the writer deliver everything queued before it sends the close frame
        self._begin_close(CLOSE_GOING_AWAY, "server shutting down")
        await self.finished.wait()

    # ------------------------------------------------------------------ activities

    async def _read(self) -> None:
        limit = self.settings.max_message_bytes
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is not None:
                size = len(text) if len(text) * 4 <= limit else len(text.encode())
                if size > limit:
                    self.session.receive_oversized(size)
                else:
                    self.session.receive_text(text)
                    self._last_audio_at = time.perf_counter()
            elif message.get("bytes") is not None:
                self.session.receive_bytes(message["bytes"])
            self._flush(None)
            if self._scoring is None and not self._closing.is_set():
                self._scoring = asyncio.create_task(self._score())

    async def _score(self) -> None:
        try:
            while (request := self.session.frames_to_score()) is not None:
                audio_at = self._last_audio_at
                probabilities = await self.scorer.score(request)
                self.session.receive_scores(probabilities)
                self._flush(audio_at)
        except asyncio.CancelledError:
            raise
        except Exception:  # a model failure: this session cannot go on, the server can
            log.exception("scoring failed; closing session %s", self.session.id)
            self._begin_close(CLOSE_INTERNAL_ERROR, "speech model failure")
        finally:
            self._scoring = None

    async def _write(self) -> None:
        timeout = self.settings.send_timeout_s
        while (text := await self._outbox.get()) is not None:
            try:
                await asyncio.wait_for(self.websocket.send_text(text), timeout)
            except TimeoutError:
                self._begin_close(CLOSE_POLICY, "client is not reading its events")
                return
            except (WebSocketDisconnect, RuntimeError, OSError):
                return

    # ------------------------------------------------------------------ helpers

    def _flush(self, audio_at: float | None) -> None:
        """Queue the Session's new events; note latency and errors on the way."""
        if self._closing.is_set():
            self.session.drain_events()
            return
        now = time.perf_counter()
        event: RealtimeModel
        for event in self.session.drain_events():
            kind = getattr(event, "type", "")
            if kind == "error":
                self.metrics.errors.labels(code=str(getattr(event.error, "code", None))).inc()  # type: ignore[attr-defined]
            elif audio_at is not None and kind in TURN_EVENTS:
                self.metrics.event_latency.labels(type=kind).observe(now - audio_at)
            try:
                self._outbox.put_nowait(event.to_json())
            except asyncio.QueueFull:
                self._begin_close(CLOSE_POLICY, "client is not reading its events")
                return

    def _begin_close(self, code: int, reason: str) -> None:
        if not self._closing.is_set():
            self._close_code, self._close_reason = code, reason
            self.metrics.closed.labels(reason=reason).inc()
            self._closing.set()

    async def _close(self) -> None:
        if self.websocket.application_state == WebSocketState.DISCONNECTED:
            return
        if self.websocket.client_state == WebSocketState.DISCONNECTED:
            return
        with contextlib.suppress(Exception):  # the peer may be gone or stalled: closing is best effort
            await asyncio.wait_for(self.websocket.close(self._close_code, self._close_reason), timeout=2)


__all__ = ["Connection"]
