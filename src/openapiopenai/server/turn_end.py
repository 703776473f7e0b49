"""End-of-turn decisions for ``semantic_vad`` sessions: one bounded queue, worker threads, newest first.

A decision (Smart Turn v3.2 on the last 8 s of a turn) costs ~55 ms of one core (``bench/bench_turn_end.py``)
and batching does not make it cheaper on CPU, so decisions run one per worker thread, off the event
loop, in their own queue (never the VAD scorer's: a 55 ms call there would stall every session's frames).

* **Newest per session only.** A session has at most one request waiting; a newer one replaces
  it (the older question is stale: the Session ignores its answer anyway).
* **Drop what nobody waits for.** When a session's speaker resumes, the connection calls
  :meth:`TurnEndWorker.retain` with the query still wanted (``None``); other waiting requests
  of that session are dropped unanswered.
* **Fall back when behind.** A full queue, or a request that waited longer than ``max_age_s``,
  is answered ``None`` at once: the Session then ends the turn on its silence window, as
  ``server_vad`` would. Each such answer is counted in ``/metrics``
  (``openapiopenai_turn_end_fallbacks{reason}``), so an operator sees when the model is short of CPU.

Answers go back to the event loop with ``call_soon_threadsafe``; the Session is never touched here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from openapiopenai.audio.analysis import analysis_audio
from openapiopenai.protocol.work import AudioSlice, TurnEndRequest
from openapiopenai.vad.smart_turn import EndOfTurnModel

if TYPE_CHECKING:  # the offline driver uses this module without the server's dependencies
    from openapiopenai.server.metrics import Metrics

log = logging.getLogger("openapiopenai.server")

#: receives ``(query, probability or None)`` on the event loop
TurnEndCallback = Callable[[int, float | None], None]
FloatArray = npt.NDArray[np.float32]


@dataclass(slots=True)
class _Job:
    request: TurnEndRequest
    done: TurnEndCallback
    queued_at: float


class TurnEndWorker:
    """Runs :class:`EndOfTurnModel` decisions for many sessions (keys), newest request per key."""

    def __init__(
        self,
        model: EndOfTurnModel,
        *,
        metrics: Metrics | None = None,
        max_queue: int = 16,
        max_age_s: float = 0.5,
        threads: int = 1,
        prepare: Callable[[AudioSlice], FloatArray] = analysis_audio,
    ) -> None:
        if max_queue < 1 or threads < 1:
            raise ValueError("max_queue and threads must be >= 1")
        self.model = model
        self.metrics = metrics
        self.max_queue = max_queue
        self.max_age_s = max_age_s
        self.threads = threads
        self.prepare = prepare
        self._jobs: OrderedDict[Hashable, _Job] = OrderedDict()
        self._cond = threading.Condition()
        self._stopping = False
        self._workers: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        for i in range(self.threads):
            worker = threading.Thread(target=self._run, name=f"turn-end-{i}", daemon=True)
            worker.start()
            self._workers.append(worker)

    async def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for worker in self._workers:
            await asyncio.to_thread(worker.join)
        self._workers.clear()

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._jobs)

    # -- on the event loop -----------------------------------------------------------------
    def submit(self, key: Hashable, request: TurnEndRequest, done: TurnEndCallback) -> None:
        """Queue ``request`` for session ``key`` (replacing its older one); ``done`` gets the answer."""
        with self._cond:
            if key not in self._jobs and len(self._jobs) >= self.max_queue:
                full = True
            else:
                full = False
                self._jobs.pop(key, None)
                self._jobs[key] = _Job(request, done, time.perf_counter())
                self._cond.notify()
        if full:
            self._fallback("queue_full", done, request.query)

    def retain(self, key: Hashable, query: int | None) -> None:
        """Session ``key`` now waits for ``query`` only (``None``: for nothing): drop the rest."""
        with self._cond:
            job = self._jobs.get(key)
            if job is not None and job.request.query != query:
                del self._jobs[key]
                if self.metrics is not None:
                    self.metrics.turn_end_dropped.inc()

    def forget(self, key: Hashable) -> None:
        """The session is gone."""
        self.retain(key, None)

    # -- worker threads --------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                _, job = self._jobs.popitem(last=False)
            if time.perf_counter() - job.queued_at > self.max_age_s:
                self._fallback("late", job.done, job.request.query)
                continue
            try:
                started = time.perf_counter()
                probability: float | None = float(self.model.predict(self.prepare(job.request.audio)))
                if self.metrics is not None:
                    self.metrics.turn_end_decisions.inc()
                    self.metrics.turn_end_seconds.observe(time.perf_counter() - started)
            except Exception:  # a model failure must not end the worker: that turn falls back
                log.exception("end-of-turn model failed; falling back to silence")
                self._fallback("error", job.done, job.request.query)
                continue
            self._post(job.done, job.request.query, probability)

    def _fallback(self, reason: str, done: TurnEndCallback, query: int) -> None:
        if self.metrics is not None:
            self.metrics.turn_end_fallbacks.labels(reason=reason).inc()
        self._post(done, query, None)

    def _post(self, done: TurnEndCallback, query: int, probability: float | None) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(done, query, probability)


__all__ = ["TurnEndCallback", "TurnEndWorker"]
