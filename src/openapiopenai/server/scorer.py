"""One scorer for all sessions: the ready frames of every session, scored together, off the loop.

Sessions hand in :class:`ScoreRequest` s (a few consecutive frames of one stream, with that
stream's model state) and get the probabilities back through a callback on the event loop.

Scheduling is *continuous batching*, as in LLM serving: a worker thread keeps the requests in
arrival order, and each model call stacks the next frame of the oldest ``max_batch`` streams
(one row per stream, one sample rate per call). A recurrent model must see a stream's frames in
order, so a stream contributes at most one frame per call; batching across streams is what
amortises onnxruntime's per-call cost, and it is what lets one core hold hundreds of real-time
sessions. New requests join at the next call, and a request is handed back as soon as its last
frame is scored. The alternative, scoring everything pending as one batch and answering when it
is all done, makes every request wait for the whole batch: at 400 sessions that is tens of
milliseconds of model time, twice over for a request that just missed a batch, and it was the
tail of our latency. Batches still grow with load (a busy scorer finds more streams waiting)
and no request waits for a timer.

Calls hold at most ``max_batch`` rows (past a few dozen rows the cost per row no longer falls,
and cache pressure makes it rise). The worker threads take requests from a queue themselves and
post results back with ``call_soon_threadsafe``: the model never waits for a busy event loop.
More than one worker (``workers``) can run model calls in parallel (onnxruntime releases the
GIL); each keeps its own schedule.

``batching=False`` scores each request on its own (one call per frame), for comparison.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from openapiopenai.protocol.session import ScoreRequest
from openapiopenai.server.metrics import Metrics
from openapiopenai.vad.base import FloatArray, SpeechModel, score_stream

log = logging.getLogger("openapiopenai.server")

#: receives a request's probabilities, or the exception the model raised, on the event loop
ScoresCallback = Callable[[FloatArray | Exception], None]


class FrameScorer(Protocol):
    """What the server needs of a scorer: this module's :class:`Scorer` (threads) or
    :class:`~openapiopenai.server.process_scorer.ProcessScorer` (a child process). Sessions
    take their states from its ``model``."""

    @property
    def model(self) -> SpeechModel: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def submit(self, request: ScoreRequest, done: ScoresCallback) -> None: ...


def _ignore(_: FloatArray | Exception) -> None:
    """The callback of synchronous scoring, which reads the results itself."""


@dataclass(slots=True, eq=False)
class _Job:
    """A request being scored: where it has got to, and its probabilities so far."""

    request: ScoreRequest
    done: ScoresCallback
    out: FloatArray
    next: int = 0

    @property
    def finished(self) -> bool:
        return self.next >= len(self.out)


class _Schedule:
    """One worker's continuous-batching schedule: jobs in, one model call per ``step``.

    Pure (no threads, no loop), so the order of calls is testable on its own."""

    def __init__(
        self, model: SpeechModel, *, batching: bool, max_batch: int, metrics: Metrics | None
    ) -> None:
        self.model = model
        self.batching = batching
        self.max_batch = max_batch
        self.metrics = metrics
        #: unfinished jobs in arrival order
        self.active: list[_Job] = []
        self._ready: list[_Job] = []

    def add(self, request: ScoreRequest, done: ScoresCallback) -> _Job:
        job = _Job(request, done, np.empty(len(request.frames), dtype=np.float32))
        (self._ready if job.finished else self.active).append(job)
        return job

    @property
    def idle(self) -> bool:
        return not self.active and not self._ready

    def step(self) -> tuple[list[_Job], Exception | None]:
        """Make one model call; return the jobs it finished (or failed, with the exception)."""
        finished: list[_Job] = []
        if self._ready or not self.active:  # requests without frames need no call
            finished, self._ready = self._ready, []
            return finished, None
        if not self.batching:
            job = self.active.pop(0)
            r = job.request
            try:
                job.out[:] = score_stream(self.model, r.frames, r.state, r.sample_rate)
            except Exception as exc:  # a model failure fails this request, not the server
                return [job], exc
            job.next = len(job.out)
            self._observe(1, len(job.out))
            return [job], None
        rows = self._next_rows()
        frames = np.stack([job.request.frames[job.next] for job in rows])
        try:
            probabilities = self.model.score(
                frames, [job.request.state for job in rows], rows[0].request.sample_rate
            )
        except Exception as exc:  # fails the requests in this call; the others go on
            failed = set(map(id, rows))
            self.active = [job for job in self.active if id(job) not in failed]
            return rows, exc
        for job, p in zip(rows, probabilities.tolist(), strict=True):
            job.out[job.next] = p
            job.next += 1
            if job.finished:
                finished.append(job)
        if finished:
            self.active = [job for job in self.active if not job.finished]
        self._observe(len(rows), len(rows))
        return finished, None

    def _next_rows(self) -> list[_Job]:
        """The oldest ``max_batch`` streams at the oldest job's rate, one job per stream: a
        stream's next request waits for its previous one (frames of a stream go in order)."""
        rate = self.active[0].request.sample_rate
        rows: list[_Job] = []
        streams: set[int] = set()
        for job in self.active:
            stream = id(job.request.state)
            if job.request.sample_rate != rate or stream in streams:
                continue
            streams.add(stream)
            rows.append(job)
            if len(rows) == self.max_batch:
                break
        return rows

    def _observe(self, batch: int, frames: int) -> None:
        if self.metrics is not None:
            self.metrics.batch_size.observe(batch)
            self.metrics.frames.inc(frames)


class Scorer:
    def __init__(
        self,
        model: SpeechModel,
        *,
        batching: bool = True,
        metrics: Metrics | None = None,
        workers: int = 1,
        max_batch: int = 128,
    ) -> None:
        if workers < 1 or max_batch < 1:
            raise ValueError("workers and max_batch must be >= 1")
        self.model = model
        self.batching = batching
        self.metrics = metrics
        self.workers = workers
        self.max_batch = max_batch
        # filled on the event loop, drained by the worker threads (deque appends/pops are atomic)
        self._pending: deque[tuple[ScoreRequest, ScoresCallback]] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._work, name=f"openapiopenai-scorer-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for thread in self._threads:
            await asyncio.to_thread(thread.join)
        self._threads = []
        self._pending.clear()  # their sessions are closed by now

    def submit(self, request: ScoreRequest, done: ScoresCallback) -> None:
        """Queue one request; ``done`` gets its probabilities (one per frame), or the model's
        exception, later on the event loop. A callback, not a future: the loop creates no task
        or future per request, which matters at tens of thousands of appends a second."""
        self._pending.append((request, done))
        # ``Event.set`` takes a lock and notifies; while the flag is still set no worker has
        # cleared it yet, and a worker clears it before it drains ``_pending``, so it will see
        # the request appended above
        if not self._wake.is_set():
            self._wake.set()

    def _work(self) -> None:
        """A worker thread: admit new requests, make one model call, hand back what finished.

        The threads never wait for the event loop between calls (a busy loop would otherwise
        leave the model idle); each session has at most one request in flight, so two workers
        never hold frames of the same stream."""
        loop = self._loop
        assert loop is not None
        schedule = self._schedule()
        while not self._stopping:
            if schedule.idle:
                self._wake.wait()
                self._wake.clear()  # before draining: a later submit sets it again
            while self._pending:
                try:
                    request, done = self._pending.popleft()
                except IndexError:  # another worker took the last one
                    break
                schedule.add(request, done)
            finished, error = schedule.step()
            if not finished:
                continue
            try:
                loop.call_soon_threadsafe(self._deliver, finished, error)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                return

    @staticmethod
    def _deliver(finished: list[_Job], error: Exception | None) -> None:
        for job in finished:
            try:
                job.done(job.out if error is None else error)
            except Exception:  # one session's failure must not starve the others of their scores
                log.exception("delivering scores failed")

    def _schedule(self) -> _Schedule:
        return _Schedule(self.model, batching=self.batching, max_batch=self.max_batch, metrics=self.metrics)

    def score_now(self, requests: list[ScoreRequest]) -> list[FloatArray]:
        """Score requests synchronously, with the workers' schedule (benchmarks, tests)."""
        schedule = self._schedule()
        jobs = [schedule.add(request, _ignore) for request in requests]
        while not schedule.idle:
            _, error = schedule.step()
            if error is not None:
                raise error
        return [job.out for job in jobs]


__all__ = ["FrameScorer", "Scorer", "ScoresCallback"]
