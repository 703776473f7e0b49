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
row no longer falls, and cache pressure makes it rise), and the streams are split across
``workers`` threads that run their model calls in parallel (onnxruntime releases the GIL), one
group of streams per thread so that each stream's frames stay in order.

``batching=False`` scores each request on its own (one call per frame), for comparison.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

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
        workers: int = 2,
        max_batch: int = 128,
    ) -> None:
        if workers < 1 or max_batch < 1:
            raise ValueError("workers and max_batch must be >= 1")
        self.model = model
        self.batching = batching
        self.metrics = metrics
        self.workers = workers
        self.max_batch = max_batch
        self._pending: list[tuple[ScoreRequest, asyncio.Future[FloatArray]]] = []
        self._wake = asyncio.Event()
        # the model runs single-threaded per call; parallelism comes from calls on disjoint streams
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openapiopenai-scorer")
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="openapiopenai-scorer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for _, future in self._pending:
            if not future.done():
                future.cancel()
        self._pending.clear()
        self._executor.shutdown(wait=True)

    def score(self, request: ScoreRequest) -> asyncio.Future[FloatArray]:
        """Queue one request; the future gets its probabilities (one per frame)."""
        future: asyncio.Future[FloatArray] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        self._wake.set()
        return future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            batch = [(request, future) for request, future in batch if not future.cancelled()]
            if not batch:
                continue
            requests = [request for request, _ in batch]
            try:
                results = await self._score_parallel(loop, requests)
            except Exception as exc:  # a model failure fails these requests, not the server
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _score_parallel(
        self, loop: asyncio.AbstractEventLoop, requests: list[ScoreRequest]
    ) -> list[FloatArray]:
        """Split the streams into one group per worker (balanced by frames) and score the groups
        concurrently; a stream never spans two groups, so its frames stay in order."""
        groups: list[list[int]] = [[] for _ in range(min(self.workers, len(requests)))]
        loads = [0] * len(groups)
        for i in sorted(range(len(requests)), key=lambda i: -len(requests[i].frames)):
            g = loads.index(min(loads))
            groups[g].append(i)
            loads[g] += len(requests[i].frames)
        parts = await asyncio.gather(
            *(loop.run_in_executor(self._executor, self.score_now, [requests[i] for i in g]) for g in groups)
        )
        results: list[FloatArray | None] = [None] * len(requests)
        for group, part in zip(groups, parts, strict=True):
            for i, result in zip(group, part, strict=True):
                results[i] = result
        return [r for r in results if r is not None]

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
