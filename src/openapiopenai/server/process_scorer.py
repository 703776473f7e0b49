"""The scorer in a child process: the streams' recurrent states and the batching schedule too.

In one server process the event loop and the scorer thread share the GIL: the scorer's Python
glue around each onnxruntime call and the loop's append path take turns, and one process stops
at about 1.2 cores with CPU to spare (docs/server-overhead.md). Moving only the model call to a
child was worse: the loop then also carried the schedule and the packing of every call's rows.
Here the child owns everything :class:`~openapiopenai.server.scorer.Scorer`'s worker does (the
same :class:`~openapiopenai.server.scorer._Schedule`, on child-side stream states), so the loop
only writes each request's frames to a socket and reads back its probabilities.

Streams: sessions get their states from :attr:`ProcessScorer.model`, whose ``new_state`` returns
a :class:`RemoteState` handle (an id, the sample rate, and a generation that ``reset`` bumps).
The state itself lives in the child, created at the stream's first request, reset there when a
request carries a new generation, and dropped when the handle is collected (a "forget" message).

Wire format (native byte order, one socketpair): parent to child, a request header
(``_REQUEST``) and its float32 frames, or a forget (``_FORGET``); child to parent, a ready or
failed-to-start message, per request its probabilities or the model's error text, and per flush
the batch sizes of the model calls made since the last one (for ``/metrics``).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import multiprocessing
import signal
import socket
import struct
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from openapiopenai.protocol.session import ScoreRequest
from openapiopenai.server.metrics import Metrics
from openapiopenai.server.scorer import ScoresCallback, _Schedule
from openapiopenai.vad.base import FloatArray, SpeechModel, StreamState

log = logging.getLogger("openapiopenai.server")

#: kind, seq, stream, generation, sample rate, frames, samples per frame
_REQUEST = struct.Struct("=BIIIIII")
#: kind, stream
_FORGET = struct.Struct("=BI")
#: kind, seq (or 0), payload bytes (probabilities, error text, or batch statistics)
_REPLY = struct.Struct("=BII")
#: kind, live streams in the child, calls described (then ``calls`` x (rows, frames) uint32)
_STATS = struct.Struct("=BII")

_K_REQUEST, _K_FORGET = 1, 2
_K_READY, _K_START_FAILED, _K_SCORES, _K_ERROR, _K_STATS = 1, 2, 3, 4, 5

#: the scorer process's name in ``ps``/``top`` (Linux keeps 15 characters)
PROCESS_NAME = "oaoai-scorer"

#: a picklable function that loads the model in the child (``functools.partial(load_model, name)``)
ModelLoader = Callable[[], SpeechModel]


class RemoteState:
    """A stream's handle in process mode: its recurrent state lives in the scorer process.

    Nothing on the server reads a state's contents (only the model does, while scoring), so the
    handle carries what the child needs: which stream, and how often it was reset."""

    __slots__ = ("__weakref__", "generation", "id", "sample_rate")

    def __init__(self, stream_id: int, sample_rate: int) -> None:
        self.id = stream_id
        self.sample_rate = sample_rate
        self.generation = 0

    def reset(self) -> None:
        """Takes effect in the child with this stream's next request."""
        self.generation = (self.generation + 1) & 0xFFFFFFFF


class RemoteModel:
    """What sessions see of the model in process mode: its shape, and states that are handles.

    ``score`` is the child's job; calling it here is a bug."""

    def __init__(self, model: SpeechModel, forget: Callable[[int], None]) -> None:
        self.name = model.name
        self._model = model
        self._forget = forget
        self._ids = itertools.count(1)

    def supported_rates(self) -> tuple[int, ...]:
        return self._model.supported_rates()

    def frame_samples(self, sample_rate: int) -> int:
        return self._model.frame_samples(sample_rate)

    def new_state(self, sample_rate: int) -> RemoteState:
        self._model.new_state(sample_rate)  # the model's own check of the rate
        state = RemoteState(next(self._ids) & 0xFFFFFFFF, sample_rate)
        weakref.finalize(state, self._forget, state.id).atexit = False  # nothing to tell by then
        return state

    def score(self, frames: FloatArray, states: Sequence[StreamState], sample_rate: int) -> FloatArray:
        raise TypeError("in process mode the scorer process scores; submit to the ProcessScorer")


class ProcessScorer:
    """:class:`~openapiopenai.server.scorer.Scorer`'s interface, scoring in a child process.

    ``model`` (the parent's copy) gives the frame shape; ``load`` builds the child's copy, which
    must be the same model. Sessions must take their states from :attr:`model`. A dead child
    fails every request in flight and every later one (their sessions close with an error)."""

    def __init__(
        self,
        model: SpeechModel,
        load: ModelLoader,
        *,
        batching: bool = True,
        metrics: Metrics | None = None,
        max_batch: int = 128,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self.model = RemoteModel(model, self._forget)
        self.batching = batching
        self.metrics = metrics
        self.max_batch = max_batch
        self._load = load
        self._seq = itertools.count(1)
        #: seq -> (callback, the state: kept alive, so its "forget" follows its requests)
        self._pending: dict[int, tuple[ScoresCallback, RemoteState]] = {}
        self._outbox: list[bytes | memoryview] = []
        self._flushing = False
        self._forgotten: list[int] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: asyncio.Transport | None = None
        self._process: Any = None
        self._stopping = False
        self._failure: Exception | None = None
        self._running = False
        #: streams whose state the child holds, as of its last report (tests, diagnostics)
        self.child_streams = 0

    async def start(self) -> None:
        self._loop = loop = asyncio.get_running_loop()
        self._stopping = False
        self._failure = None
        ours, theirs = socket.socketpair()
        context = multiprocessing.get_context("spawn")  # no inherited threads, loop or model
        self._process = context.Process(
            target=_child_main,
            args=(theirs, self._load, self.batching, self.max_batch),
            name="openapiopenai-scorer",
            daemon=True,
        )
        self._process.start()
        theirs.close()
        ready: asyncio.Future[None] = loop.create_future()
        self._transport, _ = await loop.connect_accepted_socket(lambda: _Protocol(self, ready), ours)
        try:
            await ready
        except BaseException:
            await self.stop()
            raise
        self._running = True

    async def stop(self) -> None:
        self._stopping = True
        self._running = False
        if self._transport is not None:
            self._transport.close()  # the child sees the end of its input and exits
            self._transport = None
        process, self._process = self._process, None
        if process is not None:
            await asyncio.to_thread(process.join, 5)
            if process.is_alive():
                process.terminate()
                await asyncio.to_thread(process.join)
        self._pending.clear()  # their sessions are closed by now
        self._outbox.clear()

    def submit(self, request: ScoreRequest, done: ScoresCallback) -> None:
        """Queue one request for the child; ``done`` gets its probabilities (or an exception)
        on the event loop. Writes are gathered and sent once per loop iteration."""
        state = request.state
        if not isinstance(state, RemoteState):
            raise TypeError("process mode scores states from ProcessScorer.model only")
        loop = self._loop
        assert loop is not None, "start() first"
        if self._failure is not None or self._transport is None:
            loop.call_soon(done, self._failure or RuntimeError("the scorer is stopped"))
            return
        seq = next(self._seq) & 0xFFFFFFFF
        self._pending[seq] = (done, state)
        frames = np.ascontiguousarray(request.frames, dtype=np.float32)
        n, width = frames.shape
        self._outbox.append(
            _REQUEST.pack(_K_REQUEST, seq, state.id, state.generation, request.sample_rate, n, width)
        )
        self._outbox.append(frames.data.cast("B"))
        if not self._flushing:
            self._flushing = True
            loop.call_soon(self._flush)

    def _forget(self, stream_id: int) -> None:
        """A stream's handle was collected: the child may drop its state (sent with the next
        flush; list appends are atomic, whichever thread collected it)."""
        self._forgotten.append(stream_id)

    def _flush(self) -> None:
        self._flushing = False
        if self._forgotten:
            forgotten, self._forgotten = self._forgotten, []
            self._outbox.extend(_FORGET.pack(_K_FORGET, stream) for stream in forgotten)
        if self._outbox and self._transport is not None:
            self._transport.write(b"".join(self._outbox))
        self._outbox.clear()

    # ------------------------------------------------------------------ replies, on the loop

    def _deliver(self, seq: int, result: FloatArray | Exception) -> None:
        entry = self._pending.pop(seq, None)
        if entry is None:
            return
        try:
            entry[0](result)
        except Exception:  # one session's failure must not starve the others of their scores
            log.exception("delivering scores failed")

    def _stats(self, streams: int, calls: npt.NDArray[np.uint32]) -> None:
        self.child_streams = streams
        if self.metrics is not None and len(calls):
            pairs = calls.reshape(-1, 2)
            for rows in pairs[:, 0].tolist():
                self.metrics.batch_size.observe(rows)
            self.metrics.frames.inc(int(pairs[:, 1].sum()))

    def _lost(self, exc: Exception | None) -> None:
        """The child is gone: fail what waits, and everything after."""
        self._transport = None
        self._failure = failure = RuntimeError("the scorer process died")
        if not self._running:  # stopping, or start() reports it
            return
        log.error("the scorer process died; %d requests fail", len(self._pending), exc_info=exc)
        pending, self._pending = self._pending, {}
        for done, _ in pending.values():
            try:
                done(failure)
            except Exception:
                log.exception("delivering a scorer failure failed")


class _Protocol(asyncio.Protocol):
    """The parent's end of the socket: parses the child's messages as they arrive."""

    def __init__(self, scorer: ProcessScorer, ready: asyncio.Future[None]) -> None:
        self.scorer = scorer
        self.ready = ready
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        offset, end = 0, len(buf)
        scorer = self.scorer
        while end - offset >= _REPLY.size:
            kind, seq, size = _REPLY.unpack_from(buf, offset)
            if end - offset - _REPLY.size < size:
                break
            start = offset + _REPLY.size
            offset = start + size
            if kind == _K_SCORES:
                scores = np.frombuffer(buf, dtype=np.float32, count=size // 4, offset=start).copy()
                scorer._deliver(seq, scores)
            elif kind == _K_STATS:
                # copied at once: a view would pin the buffer, which is trimmed below
                scorer._stats(seq, np.frombuffer(buf, dtype=np.uint32, count=size // 4, offset=start).copy())
            elif kind == _K_ERROR:
                scorer._deliver(seq, RuntimeError(bytes(buf[start:offset]).decode(errors="replace")))
            elif kind == _K_READY and not self.ready.done():
                self.ready.set_result(None)
            elif kind == _K_START_FAILED and not self.ready.done():
                message = bytes(buf[start:offset]).decode(errors="replace")
                self.ready.set_exception(RuntimeError(f"the scorer process failed to start: {message}"))
        del buf[:offset]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(RuntimeError("the scorer process exited before it was ready"))
        self.scorer._lost(exc)


# ---------------------------------------------------------------------- the child process


class _ChildSchedule(_Schedule):
    """The workers' schedule, counting its calls for the parent's ``/metrics``."""

    def __init__(self, model: SpeechModel, *, batching: bool, max_batch: int) -> None:
        super().__init__(model, batching=batching, max_batch=max_batch, metrics=None)
        self.calls: list[int] = []

    def _observe(self, batch: int, frames: int) -> None:
        self.calls += (batch, frames)


def _child_main(sock: socket.socket, load: ModelLoader, batching: bool, max_batch: int) -> None:
    """The scorer process: read requests, run the schedule, write back what finished. Exits
    when the parent closes its end (or dies), not on a terminal's Ctrl-C: the server drains
    its sessions first, and they still need scores."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:  # tell it apart from the server in ps, top and the load benchmark
        with open("/proc/self/comm", "w") as comm:
            comm.write(PROCESS_NAME)
    except OSError:
        pass
    sock.setblocking(True)
    try:
        model = load()
        warm = getattr(model, "batch_session", None)  # as create_app does: no build in a request
        if warm is not None:
            for rate in model.supported_rates():
                warm(rate)
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}".encode()
        sock.sendall(_REPLY.pack(_K_START_FAILED, 0, len(text)) + text)
        return
    sock.sendall(_REPLY.pack(_K_READY, 0, 0))
    _Child(sock, model, batching, max_batch).run()


class _Child:
    def __init__(self, sock: socket.socket, model: SpeechModel, batching: bool, max_batch: int) -> None:
        self.sock = sock
        self.model = model
        self.schedule = _ChildSchedule(model, batching=batching, max_batch=max_batch)
        #: stream id -> (generation, state)
        self.states: dict[int, tuple[int, StreamState]] = {}
        self.buffer = bytearray()
        self.outbox: list[bytes] = []
        self.open = True

    def run(self) -> None:
        schedule = self.schedule
        while self.open or not schedule.idle:
            if self.open:
                self._receive(wait=schedule.idle)
            if schedule.idle:
                continue
            finished, error = schedule.step()
            for job in finished:
                job.done(job.out if error is None else error)
            if self.outbox:
                self._send()

    def _receive(self, *, wait: bool) -> None:
        """Take in whatever the parent sent (waiting for something when there is no work)."""
        flags = 0 if wait else socket.MSG_DONTWAIT
        while True:
            try:
                data = self.sock.recv(1 << 20, flags)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.open = False
                return
            self.buffer += data
            self._parse()
            flags = socket.MSG_DONTWAIT

    def _parse(self) -> None:
        buf, offset = self.buffer, 0
        end = len(buf)
        while end - offset >= 1:
            if buf[offset] == _K_FORGET:
                if end - offset < _FORGET.size:
                    break
                _, stream = _FORGET.unpack_from(buf, offset)
                offset += _FORGET.size
                self.states.pop(stream, None)
                continue
            if end - offset < _REQUEST.size:
                break
            _, seq, stream, generation, rate, n, width = _REQUEST.unpack_from(buf, offset)
            size = n * width * 4
            if end - offset - _REQUEST.size < size:
                break
            start = offset + _REQUEST.size
            # copied at once: a view would pin the buffer, which is trimmed below
            frames = (
                np.frombuffer(buf, dtype=np.float32, count=n * width, offset=start).reshape(n, width).copy()
            )
            offset = start + size
            state = self._state(stream, generation, rate)
            request = ScoreRequest(frames=frames, state=state, sample_rate=rate)
            self.schedule.add(request, functools.partial(self._reply, seq))
        del buf[:offset]

    def _state(self, stream: int, generation: int, rate: int) -> StreamState:
        known = self.states.get(stream)
        if known is None:
            state = self.model.new_state(rate)
        else:
            state = known[1]
            if known[0] != generation:
                state.reset()
        self.states[stream] = (generation, state)
        return state

    def _reply(self, seq: int, result: FloatArray | Exception) -> None:
        if isinstance(result, Exception):
            text = f"{type(result).__name__}: {result}".encode()
            self.outbox += (_REPLY.pack(_K_ERROR, seq, len(text)), text)
        else:
            self.outbox += (_REPLY.pack(_K_SCORES, seq, result.nbytes), result.tobytes())

    def _send(self) -> None:
        calls = self.schedule.calls
        stats = np.array(calls, dtype=np.uint32).tobytes()
        self.outbox += (_STATS.pack(_K_STATS, len(self.states), len(stats)), stats)
        calls.clear()
        try:
            self.sock.sendall(b"".join(self.outbox))
        except OSError:  # the parent is gone
            self.open = False
            self.schedule.active.clear()
        self.outbox.clear()


__all__ = ["PROCESS_NAME", "ModelLoader", "ProcessScorer", "RemoteModel", "RemoteState"]
