"""One scorer for all sessions: the ready frames of every session, scored together, off the loop.

Sessions hand in :class:`ScoreRequest` s (a few consecutive frames of one stream, with that
stream's model state) and await the probabilities. A single task takes everything pending,
and in a worker thread scores it in *rounds*: round ``k`` stacks frame ``k`` of every request
(one row per stream, grouped by sample rate) into ONE model call. A recurrent model must see a
stream's frames in order, so a stream contributes at most one frame per call; batching across
streams is what amortises onnxruntime's per-call cost, and it is what lets one core hold
hundreds of real-time sessions. While a batch is being scored, new requests gather for the next
one, so batches grow with load and no request waits for a timer.

Big batches are cut into calls of at most ``max_batch`` rows (past a few dozen rows the cost per
row no longer falls, and cache pressure makes it rise). The worker threads take requests from a
queue themselves and post results back with ``call_soon_threadsafe``: the model never waits for a
busy event loop to hand it the next batch. More than one worker (``workers``) can run model calls
in parallel (onnxruntime releases the GIL).

``batching=False`` scores each request on its own (one call per frame), for comparison.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict, deque

import numpy as np

from openapiopenai.protocol.session import ScoreRequest
from openapiopenai.server.metrics import Metrics
from openapiopenai.vad.base import FloatArray, SpeechModel, score_stream


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
        self._pending: deque[tuple[ScoreRequest, asyncio.Future[FloatArray]]] = deque()
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
        while self._pending:
            _, future = self._pending.popleft()
            if not future.done():
                future.cancel()

    def score(self, request: ScoreRequest) -> asyncio.Future[FloatArray]:
        """Queue one request; the future gets its probabilities (one per frame)."""
        future: asyncio.Future[FloatArray] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        self._wake.set()
        return future

    def _work(self) -> None:
        """A worker thread: take everything pending, score it, hand the results to the loop.

        The threads never wait for the event loop between batches (a busy loop would otherwise
        leave the model idle); each session has at most one request in flight, so two workers
        never hold frames of the same stream."""
        loop = self._loop
        assert loop is not None
        while not self._stopping:
            self._wake.wait()
            batch: list[tuple[ScoreRequest, asyncio.Future[FloatArray]]] = []
            while self._pending:
                try:
                    batch.append(self._pending.popleft())
                except IndexError:  # another worker took the last one
                    break
            if not self._pending:
                self._wake.clear()
                if self._pending:  # appended between the check and the clear
                    self._wake.set()
            batch = [(request, future) for request, future in batch if not future.cancelled()]
            if not batch:
                continue
            try:
                results: list[FloatArray] | BaseException = self.score_now([r for r, _ in batch])
            except Exception as exc:  # a model failure fails these requests, not the server
                results = exc
            loop.call_soon_threadsafe(self._deliver, batch, results)

    @staticmethod
    def _deliver(
        batch: list[tuple[ScoreRequest, asyncio.Future[FloatArray]]],
        results: list[FloatArray] | BaseException,
    ) -> None:
        for i, (_, future) in enumerate(batch):
            if future.done():
                continue
            if isinstance(results, BaseException):
                future.set_exception(results)
            else:
                future.set_result(results[i])

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


__all__ = ["Scorer"]
