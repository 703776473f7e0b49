"""The scorer process: the thread scorer's probabilities, bit for bit, with the streams' states
and the batching schedule in a child process."""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from openai import AsyncOpenAI

from openapiopenai.protocol.session import ScoreRequest
from openapiopenai.server.metrics import Metrics
from openapiopenai.server.process_scorer import ProcessScorer, RemoteState
from openapiopenai.server.scorer import FrameScorer, Scorer
from openapiopenai.vad.base import FloatArray, SpeechModel
from openapiopenai.vad.registry import load_model
from tests.audio._data import FIXTURES, SPEECH_8K, SPEECH_THEN_SILENCE, TWO_TURNS
from tests.server._client import b64, collect, speech_pcm
from tests.server.conftest import start_server
from tests.server.test_scorer import FRAME, RecordingModel


def frames_of(name: str, model: SpeechModel) -> tuple[FloatArray, int]:
    audio, rate = sf.read(FIXTURES / name, dtype="float32")
    width = model.frame_samples(rate)
    n = len(audio) // width
    return audio[: n * width].reshape(n, width), rate


@pytest.fixture
async def process_scorer() -> AsyncIterator[Callable[..., ProcessScorer]]:
    started: list[ProcessScorer] = []

    def make(model: SpeechModel, load: Callable[[], SpeechModel], **kwargs: object) -> ProcessScorer:
        scorer = ProcessScorer(model, load, **kwargs)  # type: ignore[arg-type]
        started.append(scorer)
        return scorer

    yield make
    for scorer in started:
        await scorer.stop()


async def score_streams(
    scorer: FrameScorer, streams: list[tuple[FloatArray, int]], chunk: int, reset_at: int
) -> list[FloatArray]:
    """Every stream sends ``chunk`` frames at a time, one request in flight each (as sessions
    do), all at once; stream 0 is reset in place before its chunk ``reset_at``."""
    states = [scorer.model.new_state(rate) for _, rate in streams]

    async def one(i: int) -> FloatArray:
        frames, rate = streams[i]
        out = []
        for k, start in enumerate(range(0, len(frames), chunk)):
            if i == 0 and k == reset_at:
                states[i].reset()
            future: asyncio.Future[FloatArray | Exception] = asyncio.get_running_loop().create_future()
            scorer.submit(ScoreRequest(frames[start : start + chunk], states[i], rate), future.set_result)
            result = await asyncio.wait_for(future, 60)
            assert not isinstance(result, Exception)
            out.append(result)
        return np.concatenate(out)

    return list(await asyncio.gather(*(one(i) for i in range(len(streams)))))


async def test_scores_are_the_thread_scorers_bit_for_bit_across_rates_and_a_reset(
    process_scorer: Callable[..., ProcessScorer],
) -> None:
    model = load_model("silero")
    (a, rate_a), (b, rate_b) = frames_of(TWO_TURNS, model), frames_of(SPEECH_8K, model)
    assert (rate_a, rate_b) == (16_000, 8_000)
    # interleaved streams at both rates, starting at different points of the same recordings
    streams = [(a, rate_a), (b, rate_b), (a[37:], rate_a), (b[11:], rate_b), (a[90:], rate_a)]
    thread = Scorer(model, max_batch=3)
    await thread.start()
    try:
        expected = await score_streams(thread, streams, chunk=5, reset_at=4)
    finally:
        await thread.stop()
    metrics = Metrics()
    child = process_scorer(model, functools.partial(load_model, "silero"), max_batch=3, metrics=metrics)
    await child.start()
    got = await score_streams(child, streams, chunk=5, reset_at=4)
    for e, g in zip(expected, got, strict=True):
        assert e.dtype == g.dtype == np.float32
        assert e.tobytes() == g.tobytes()
    # the reset mattered: without it, stream 0 scores differently
    unreset = await score_streams(child, streams[:1], chunk=5, reset_at=-1)
    assert unreset[0].tobytes() != got[0].tobytes()
    assert max(got[0]) > 0.9  # real speech was scored
    total = sum(len(frames) for frames, _ in streams) + len(a)
    assert metrics.frames._value.get() == total  # the child's calls reach /metrics


async def test_a_dropped_stream_is_forgotten_by_the_child(
    process_scorer: Callable[..., ProcessScorer],
) -> None:
    scorer = process_scorer(RecordingModel(), RecordingModel)
    await scorer.start()
    states = [scorer.model.new_state(16_000) for _ in range(3)]

    async def score(state: object, seen: int = 0) -> None:
        future: asyncio.Future[FloatArray | Exception] = asyncio.get_running_loop().create_future()
        frames = np.zeros((1, FRAME), dtype=np.float32)
        frames[0, 1] = seen  # RecordingModel's order check
        assert isinstance(state, RemoteState)
        scorer.submit(ScoreRequest(frames, state, 16_000), future.set_result)
        assert not isinstance(await asyncio.wait_for(future, 30), Exception)

    for state in states:
        await score(state)
    assert scorer.child_streams == 3
    keep = states[2]
    del states, state
    gc.collect()
    await score(keep, seen=1)  # the "forget" messages go out before this request
    assert scorer.child_streams == 1


def numbered(scorer: ProcessScorer, values: list[float]) -> ScoreRequest:
    """Frame k carries ``values[k]`` (its score) and k (RecordingModel's order check)."""
    frames = np.zeros((len(values), FRAME), dtype=np.float32)
    frames[:, 0] = values
    frames[:, 1] = np.arange(len(values))
    return ScoreRequest(frames, scorer.model.new_state(16_000), 16_000)


async def test_a_failing_model_call_fails_only_its_requests(
    process_scorer: Callable[..., ProcessScorer],
) -> None:
    scorer = process_scorer(RecordingModel(), functools.partial(RecordingModel, fail_on=0.75), max_batch=1)
    await scorer.start()
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future[FloatArray | Exception]] = [loop.create_future() for _ in range(3)]
    for values, future in zip([[0.25, 0.5], [0.75], [0.125]], futures, strict=True):
        scorer.submit(numbered(scorer, values), future.set_result)
    ok, failed, other = await asyncio.wait_for(asyncio.gather(*futures), 30)
    assert isinstance(failed, RuntimeError) and "model failure" in str(failed)
    assert not isinstance(ok, Exception) and ok.tolist() == [0.25, 0.5]
    assert not isinstance(other, Exception) and other.tolist() == [0.125]


async def test_a_dead_child_fails_what_waits_and_what_comes_later(
    process_scorer: Callable[..., ProcessScorer],
) -> None:
    scorer = process_scorer(RecordingModel(), RecordingModel)
    await scorer.start()
    process = scorer._process
    assert process is not None
    os.kill(process.pid, signal.SIGKILL)
    loop = asyncio.get_running_loop()
    before: asyncio.Future[FloatArray | Exception] = loop.create_future()
    scorer.submit(numbered(scorer, [0.5]), before.set_result)
    assert isinstance(await asyncio.wait_for(before, 30), RuntimeError)
    after: asyncio.Future[FloatArray | Exception] = loop.create_future()
    scorer.submit(numbered(scorer, [0.5]), after.set_result)
    assert isinstance(await asyncio.wait_for(after, 30), RuntimeError)


async def test_stop_ends_the_child(process_scorer: Callable[..., ProcessScorer]) -> None:
    scorer = process_scorer(RecordingModel(), RecordingModel)
    await scorer.start()
    process = scorer._process
    await scorer.stop()
    assert process is not None and not process.is_alive() and process.exitcode == 0


async def test_a_child_that_cannot_load_its_model_fails_start(
    process_scorer: Callable[..., ProcessScorer],
) -> None:
    scorer = process_scorer(RecordingModel(), functools.partial(load_model, "no-such-model"))
    with pytest.raises(RuntimeError, match="failed to start"):
        await scorer.start()


async def test_a_server_with_the_scorer_process_detects_turns(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--scorer-process")
    try:
        client = AsyncOpenAI(base_url=f"{server.http_url}/v1", api_key="x")
        async with client.realtime.connect(model="gpt-realtime") as conn:
            assert (await collect(conn, until="session.created"))[-1]["type"] == "session.created"
            await conn.input_audio_buffer.append(audio=b64(speech_pcm(SPEECH_THEN_SILENCE)))
            events = await collect(conn, until="conversation.item.done")
        kinds = [e["type"] for e in events]
        assert kinds.index("input_audio_buffer.speech_started") < kinds.index("input_audio_buffer.committed")
        assert "openapiopenai_frames_scored_total" in httpx.get(f"{server.http_url}/metrics").text
    finally:
        server.stop()
