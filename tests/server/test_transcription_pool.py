"""The transcription pool with the real bundled model: results on the loop, bounded, failures contained."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest
import soxr

from openapiopenai.asr import (
    Logprob,
    TextPiece,
    Transcriber,
    TranscriptionOptions,
    WhisperTranscriber,
)
from openapiopenai.audio.formats import PCM16_24K, encode
from openapiopenai.protocol.work import AudioSlice, TranscriptionRequest
from openapiopenai.server.metrics import Metrics
from openapiopenai.server.transcription import TranscriptionPool
from tests.audio._data import LIBRISPEECH, read_audio

pytest.importorskip("faster_whisper")


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    return WhisperTranscriber()


@dataclass
class Recording:
    """The real transcriber, remembering the options each call received."""

    inner: Transcriber
    options: list[TranscriptionOptions] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    def transcribe(self, audio: np.ndarray, options: TranscriptionOptions) -> Iterator[TextPiece]:
        self.options.append(options)
        return self.inner.transcribe(audio, options)


@dataclass
class Outcome:
    """What the callbacks delivered for one request, and on which thread."""

    deltas: list[str] = field(default_factory=list)
    logprobs: list[Logprob] = field(default_factory=list)
    failed: tuple[str, str] | None = None
    threads: set[int] = field(default_factory=set)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def callbacks(self) -> tuple[object, object, object]:
        def on_delta(text: str, logprobs: list[Logprob] | None) -> None:
            self.threads.add(threading.get_ident())
            self.deltas.append(text)
            self.logprobs.extend(logprobs or [])

        def on_done() -> None:
            self.threads.add(threading.get_ident())
            self.finished.set()

        def on_failed(message: str, code: str) -> None:
            self.threads.add(threading.get_ident())
            self.failed = (message, code)
            self.finished.set()

        return on_delta, on_done, on_failed

    @property
    def text(self) -> str:
        return "".join(self.deltas)


def request(
    name: str = "367-130732-0001.flac", item: str = "item_1", **options: object
) -> TranscriptionRequest:
    samples, rate = read_audio(LIBRISPEECH, name)
    wire = encode(PCM16_24K, soxr.resample(samples, rate, PCM16_24K.sample_rate))
    return TranscriptionRequest(
        item_id=item,
        audio=AudioSlice(wire, PCM16_24K),
        model="gpt-4o-transcribe",
        language=options.get("language"),  # type: ignore[arg-type]
        prompt=options.get("prompt"),  # type: ignore[arg-type]
        logprobs=bool(options.get("logprobs", False)),
    )


@pytest.fixture
async def pool(whisper: WhisperTranscriber) -> AsyncIterator[TranscriptionPool]:
    running = TranscriptionPool(lambda: Recording(whisper), workers=1, queue_size=1, metrics=Metrics())
    await running.start()
    await asyncio.to_thread(running.wait_loaded)
    yield running
    await running.stop()


def submit(pool: TranscriptionPool, req: TranscriptionRequest) -> Outcome:
    outcome = Outcome()
    pool.submit(req, *outcome.callbacks())  # type: ignore[arg-type]
    return outcome


async def test_pieces_then_done_arrive_on_the_event_loop(pool: TranscriptionPool) -> None:
    outcome = submit(pool, request(logprobs=True))
    await asyncio.wait_for(outcome.finished.wait(), 60)
    assert outcome.failed is None
    assert "lobster" in outcome.text.lower() and "crayfish" in outcome.text.lower()
    assert outcome.threads == {threading.get_ident()}
    assert "".join(lp["token"] for lp in outcome.logprobs) == outcome.text
    text = pool.metrics.render().decode()
    assert "openapiopenai_transcription_real_time_factor_count 1.0" in text
    assert 'openapiopenai_transcriptions_total{outcome="completed"} 1.0' in text


async def test_language_and_prompt_reach_the_model(pool: TranscriptionPool) -> None:
    outcome = submit(pool, request(language="en", prompt="Lobsters and crayfish."))
    await asyncio.wait_for(outcome.finished.wait(), 60)
    recording = pool._transcriber
    assert isinstance(recording, Recording)
    assert recording.options[-1] == TranscriptionOptions("en", "Lobsters and crayfish.", False, None)
    submit_with_context = Outcome()
    pool.submit(request(), *submit_with_context.callbacks(), context="Earlier words.")  # type: ignore[arg-type]
    await asyncio.wait_for(submit_with_context.finished.wait(), 60)
    assert recording.options[-1].context == "Earlier words."


async def test_a_full_queue_fails_at_once_and_the_accepted_items_complete(pool: TranscriptionPool) -> None:
    outcomes = [submit(pool, request(item=f"item_{i}")) for i in range(4)]
    # one running and one waiting at most: the others fail without waiting for the model
    await asyncio.wait_for(asyncio.gather(*(o.finished.wait() for o in outcomes)), 120)
    full = [o for o in outcomes if o.failed is not None]
    assert len(full) >= 2
    assert all(o.failed is not None and o.failed[1] == "transcription_queue_full" for o in full)
    assert all("queue is full" in o.failed[0] for o in full if o.failed is not None)
    done = [o for o in outcomes if o.failed is None]
    assert done and all("lobster" in o.text.lower() for o in done)


async def test_a_failing_item_fails_alone_and_the_pool_goes_on(pool: TranscriptionPool) -> None:
    broken = TranscriptionRequest("bad", AudioSlice(b"\x00\x01\x02", PCM16_24K), None, None, None, False)
    failed = submit(pool, broken)  # half a sample: the decoder raises
    await asyncio.wait_for(failed.finished.wait(), 60)
    assert failed.failed is not None and failed.failed[1] == "transcription_failed"
    assert failed.deltas == []
    after = submit(pool, request())
    await asyncio.wait_for(after.finished.wait(), 60)
    assert after.failed is None and "lobster" in after.text.lower()


async def test_a_cancelled_job_delivers_nothing(pool: TranscriptionPool) -> None:
    first = submit(pool, request(item="first"))
    second_outcome = Outcome()
    second = pool.submit(request(item="second"), *second_outcome.callbacks())  # type: ignore[arg-type]
    second.cancel()
    await asyncio.wait_for(first.finished.wait(), 60)
    third = submit(pool, request(item="third"))  # queued behind the skipped one
    await asyncio.wait_for(third.finished.wait(), 60)
    assert second_outcome.deltas == [] and not second_outcome.finished.is_set()


async def test_a_model_that_cannot_load_fails_every_item_with_the_reason(tmp_path: object) -> None:
    def load() -> Transcriber:
        return WhisperTranscriber(str(tmp_path))

    broken = TranscriptionPool(load, workers=1, queue_size=4)
    await broken.start()
    try:
        outcome = submit(broken, request())
        await asyncio.wait_for(outcome.finished.wait(), 60)
        assert outcome.failed is not None
        message, code = outcome.failed
        assert code == "feature_unavailable" and "model.bin" in message
    finally:
        await broken.stop()
