"""One scorer for all sessions: the ready frames of every session, scored together, off the loop.

Sessions hand in :class:`ScoreRequest` s (a few consecutive frames of one stream, with that
stream's model state) and await the probabilities. A single task takes everything pending,
and in a worker thread scores it in *rounds*: round ``k`` stacks frame ``k`` of every request
(one row per stream, grouped by sample rate) into ONE model call. A recurrent model must see a
stream's frames in order, so a stream contributes at most one frame per call; batching across
streams is what amortises onnxruntime's per-call cost, and it is what lets one core hold
hundreds of real-time sessions. While a batch is being scored, new requests gather for the next
one, so batches grow with load and no request waits for a timer.

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
    def __init__(self, model: SpeechModel, *, batching: bool = True, metrics: Metrics | None = None) -> None:
        self.model = model
        self.batching = batching
        self.metrics = metrics
        self._pending: list[tuple[ScoreRequest, asyncio.Future[FloatArray]]] = []
        self._wake = asyncio.Event()
        # one thread: the model is single-threaded by design; the loop stays free for I/O
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="openapiopenai-scorer")
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
                results = await loop.run_in_executor(self._executor, self.score_now, requests)
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

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
                frames = np.stack([requests[i].frames[k] for i in rows])
                probabilities = self.model.score(frames, [requests[i].state for i in rows], rate)
                for j, i in enumerate(rows):
                    out[i][k] = probabilities[j]
                if self.metrics is not None:
                    self.metrics.batch_size.observe(len(rows))
                    self.metrics.frames.inc(len(rows))
                k += 1
                rows = [i for i in rows if len(requests[i].frames) > k]
        return out


__all__ = ["Scorer"]
