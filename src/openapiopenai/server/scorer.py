"""One scorer for all sessions: the ready frames of every session, scored together, off the loop.

Sessions hand in :class:`ScoreRequest` s (a few consecutive frames of one stream, with that
stream's model state) and get the probabilities back through a callback on the event loop. A
worker thread takes everything pending and scores it in *rounds*: round ``k`` stacks frame ``k``
of every request (one row per stream, grouped by sample rate) into ONE model call. A recurrent
model must see a stream's frames in order, so a stream contributes at most one frame per call;
batching across streams is what amortises onnxruntime's per-call cost, and it is what lets one
core hold hundreds of real-time sessions. While a batch is being scored, new requests gather for
the next one, so batches grow with load and no request waits for a timer.

Big batches are cut into calls of at most ``max_batch`` rows (past a few dozen rows the cost per
row no longer falls, and cache pressure makes it rise). The worker threads take requests from a
queue themselves and post results back with ``call_soon_threadsafe``: the model never waits for a
busy event loop to hand it the next batch. More than one worker (``workers``) can run model calls
in parallel (onnxruntime releases the GIL).

``batching=False`` scores each request on its own (one call per frame), for comparison.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable

import numpy as np

from openapiopenai.protocol.session import ScoreRequest
from openapiopenai.server.metrics import Metrics
from openapiopenai.vad.base import FloatArray, SpeechModel, score_stream

log = logging.getLogger("openapiopenai.server")

#: receives a request's probabilities, or the exception the model raised, on the event loop
ScoresCallback = Callable[[FloatArray | Exception], None]


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
        self._wake.set()

    def _work(self) -> None:
        """A worker thread: take everything pending, score it, hand the results to the loop.

        The threads never wait for the event loop between batches (a busy loop would otherwise
        leave the model idle); each session has at most one request in flight, so two workers
        never hold frames of the same stream."""
        loop = self._loop
        assert loop is not None
        while not self._stopping:
            self._wake.wait()
            batch: list[tuple[ScoreRequest, ScoresCallback]] = []
            while self._pending:
                try:
                    batch.append(self._pending.popleft())
                except IndexError:  # another worker took the last one
                    break
            if not self._pending:
                self._wake.clear()
                if self._pending:  # appended between the check and the clear
                    self._wake.set()
            if not batch:
                continue
            try:
                results: list[FloatArray] | Exception = self.score_now([r for r, _ in batch])
            except Exception as exc:  # a model failure fails these requests, not the server
                results = exc
            try:
                loop.call_soon_threadsafe(self._deliver, batch, results)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                return

    @staticmethod
    def _deliver(
        batch: list[tuple[ScoreRequest, ScoresCallback]], results: list[FloatArray] | Exception
    ) -> None:
        for i, (_, done) in enumerate(batch):
            try:
                done(results if isinstance(results, Exception) else results[i])
            except Exception:  # one session's failure must not starve the others of their scores
                log.exception("delivering scores failed")

    def score_now(self, requests: list[ScoreRequest]) -> list[FloatArray]:
        """Score requests synchronously (the worker thread's job; also used by benchmarks)."""
        if not self.batching:
            results = [score_stream(self.model, r.frames, r.state, r.sample_rate) for r in requests]
            if self.metrics is not None:
                for r in requests:
                    self.metrics.batch_size.observe(1)
                    self.metrics.frames.inc(len(r.frames))
            return results
        out = [np.empty(len(r.frames), dtype=np.float32) for r in requests]
        by_rate: dict[int, list[int]] = defaultdict(list)
        for i, request in enumerate(requests):
            by_rate[request.sample_rate].append(i)
        for rate, members in by_rate.items():
            rows = members
            k = 0
            while rows:
                for start in range(0, len(rows), self.max_batch):
                    chunk = rows[start : start + self.max_batch]
                    frames = np.stack([requests[i].frames[k] for i in chunk])
                    probabilities = self.model.score(frames, [requests[i].state for i in chunk], rate)
                    for j, i in enumerate(chunk):
                        out[i][k] = probabilities[j]
                    if self.metrics is not None:
                        self.metrics.batch_size.observe(len(chunk))
                        self.metrics.frames.inc(len(chunk))
                k += 1
                rows = [i for i in rows if len(requests[i].frames) > k]
        return out


__all__ = ["Scorer", "ScoresCallback"]
