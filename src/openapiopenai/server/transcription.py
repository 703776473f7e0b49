"""The transcription worker pool: recognition off the event loop, bounded and in order.

Sessions hand over committed items (``TranscriptionRequest``); worker threads decode the audio
(:func:`~openapiopenai.audio.analysis.analysis_audio`) and run the shared
:class:`~openapiopenai.asr.Transcriber` (CTranslate2 releases the GIL while it decodes, so the
event loop keeps serving every session). Results come back as callbacks *on the event loop*
(``loop.call_soon_threadsafe``), so the Session is never touched from a worker thread.

* Bounded: at most ``queue_size`` requests wait; one more fails at once with
  ``transcription_queue_full`` instead of growing memory or stalling its session.
* Fair and ordered: the queue is first-in first-out and each Session hands out one
  request at a time (the next after the previous one is done), so a session's items
  complete in commit order and no session can fill the queue ahead of the others.
* A failing model fails that item (``transcription_failed``); the session goes on.

* Below the real-time path: on Linux the worker threads run ``nice`` steps below the rest of
  the process (the CTranslate2 threads they create inherit it), so when CPU is short the event
  loop and the VAD scorer win it and transcription takes what is left; VAD latency of every
  session does not depend on how much is being transcribed (``bench/bench_transcription.py``).

The model is loaded by the first worker that gets an item (a server whose sessions never
transcribe pays nothing; that first item waits for the load, about a second), or when the pool
starts with ``preload``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from openapiopenai.asr import SAMPLE_RATE, Logprob, Transcriber, TranscriptionOptions
from openapiopenai.audio.analysis import Denoise, analysis_audio
from openapiopenai.exceptions import ModelLoadError
from openapiopenai.protocol.errors import FEATURE_UNAVAILABLE, TRANSCRIPTION_FAILED, TRANSCRIPTION_QUEUE_FULL
from openapiopenai.protocol.work import TranscriptionRequest
from openapiopenai.server.metrics import Metrics

log = logging.getLogger("openapiopenai.server")

OnDelta = Callable[[str, "list[Logprob] | None"], None]
OnDone = Callable[[], None]
#: (message, code)
OnFailed = Callable[[str, str], None]

_STOP: Final = None


@dataclass(eq=False)
class TranscriptionJob:
    """One submitted request; ``cancel`` it when its session goes away."""

    request: TranscriptionRequest
    on_delta: OnDelta
    on_done: OnDone
    on_failed: OnFailed
    #: the session's recent transcripts (see ``TranscriptionOptions.context``)
    context: str | None = None
    submitted: float = field(default_factory=time.perf_counter)
    cancelled: bool = False

    def cancel(self) -> None:
        """Nobody wants the result: skip it if still queued, stop delivering if running."""
        self.cancelled = True


class TranscriptionPool:
    """``workers`` threads sharing one transcriber, fed from one bounded FIFO queue."""

    def __init__(
        self,
        load: Callable[[], Transcriber],
        *,
        workers: int = 1,
        queue_size: int = 32,
        metrics: Metrics | None = None,
        nice: int = 10,
        preload: bool = False,
        denoise: Denoise | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("a transcription pool needs at least one worker")
        self._load = load
        #: cleans an item's audio when its session asked for noise_reduction (None: pass-through)
        self._denoise = denoise
        self.workers = workers
        self.queue_size = queue_size
        self.nice = nice
        self.preload = preload
        self._load_lock = threading.Lock()
        self.metrics = metrics or Metrics()
        self._queue: queue.Queue[TranscriptionJob | None] = queue.Queue(maxsize=max(1, queue_size))
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loaded = threading.Event()
        self._transcriber: Transcriber | None = None
        self._load_error: str | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for index in range(self.workers):
            thread = threading.Thread(
                target=self._work, args=(index == 0,), name=f"transcriber-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    async def stop(self) -> None:
        """Let running jobs finish; queued ones are dropped (their sessions are closing)."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.cancel()
        for _ in self._threads:
            # in a thread: with a small queue, a stop marker may wait for a busy worker
            await asyncio.to_thread(self._queue.put, _STOP)
        threads, self._threads = self._threads, []
        for thread in threads:
            await asyncio.to_thread(thread.join)

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Block until the model is loaded (or failed to load), if it is being loaded."""
        return self._loaded.wait(timeout)

    @property
    def load_error(self) -> str | None:
        return self._load_error

    # ------------------------------------------------------------------ event loop side

    def submit(
        self,
        request: TranscriptionRequest,
        on_delta: OnDelta,
        on_done: OnDone,
        on_failed: OnFailed,
        *,
        context: str | None = None,
    ) -> TranscriptionJob:
        """Queue ``request``; callbacks arrive later on the event loop, never inside this call."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("TranscriptionPool.submit before start()")
        job = TranscriptionJob(request, on_delta, on_done, on_failed, context)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.metrics.transcriptions.labels(outcome="queue_full").inc()
            message = (
                f"The server's transcription queue is full ({self.queue_size} items waiting); "
                "this item was not transcribed."
            )
            loop.call_soon(self._deliver, job, on_failed, message, TRANSCRIPTION_QUEUE_FULL)
            return job
        self.metrics.transcription_queue.set(self._queue.qsize())
        return job

    def _deliver(self, job: TranscriptionJob, callback: Callable[..., None], *args: object) -> None:
        if job.cancelled:
            return
        try:
            callback(*args)
        except Exception:  # a bug in one session's callback must not reach the loop
            log.exception("transcription callback failed")

    # ------------------------------------------------------------------ worker side

    def _work(self, first: bool) -> None:
        _lower_priority(self.nice)  # before loading: the engine's own threads inherit it
        if first and self.preload:
            self._ensure_loaded()
        while (job := self._queue.get()) is not _STOP:
            self.metrics.transcription_queue.set(self._queue.qsize())
            if job.cancelled:
                continue
            self._run(job)

    def _ensure_loaded(self) -> None:
        with self._load_lock:
            if not self._loaded.is_set():
                self._load_model()

    def _load_model(self) -> None:
        try:
            self._transcriber = self._load()
            log.info("transcription model %s loaded", self._transcriber.name)
        except ModelLoadError as exc:
            self._load_error = str(exc)
            log.error("transcription unavailable: %s", exc)
        except Exception as exc:
            self._load_error = f"The transcription model failed to load: {exc}"
            log.exception("transcription model failed to load")
        finally:
            self._loaded.set()

    def _run(self, job: TranscriptionJob) -> None:
        loop = self._loop
        assert loop is not None
        self._ensure_loaded()
        transcriber = self._transcriber
        if transcriber is None:
            self._fail(job, self._load_error or "No transcription model.", FEATURE_UNAVAILABLE)
            return
        request = job.request
        options = TranscriptionOptions(request.language, request.prompt, request.logprobs, job.context)
        started = time.perf_counter()
        try:
            audio = analysis_audio(request.audio, self._denoise)
            for piece in transcriber.transcribe(audio, options):
                if job.cancelled:
                    return
                if piece.text:
                    loop.call_soon_threadsafe(self._deliver, job, job.on_delta, piece.text, piece.logprobs)
        except Exception as exc:
            log.exception("transcription of %s failed", request.item_id)
            self._fail(job, f"Transcription failed: {exc}", TRANSCRIPTION_FAILED)
            return
        finished = time.perf_counter()
        seconds = len(audio) / SAMPLE_RATE
        if seconds > 0:
            self.metrics.transcription_rtf.observe((finished - started) / seconds)
        self.metrics.transcription_seconds.observe(finished - job.submitted)
        self.metrics.transcriptions.labels(outcome="completed").inc()
        loop.call_soon_threadsafe(self._deliver, job, job.on_done)

    def _fail(self, job: TranscriptionJob, message: str, code: str) -> None:
        assert self._loop is not None
        self.metrics.transcriptions.labels(outcome=code).inc()
        self._loop.call_soon_threadsafe(self._deliver, job, job.on_failed, message, code)


def _lower_priority(steps: int) -> None:
    """Make the calling thread ``steps`` nicer (Linux: ``setpriority`` on a thread id affects
    that thread only, and threads it creates inherit it). Best effort elsewhere."""
    if steps <= 0 or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + steps))
    except OSError:
        log.warning("could not lower the priority of the transcription threads")


__all__ = ["TranscriptionJob", "TranscriptionPool"]
