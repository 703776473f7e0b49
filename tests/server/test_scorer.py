"""The batching Scorer with a recording fake model: rounds, grouping by rate, failures."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest

from openapiopenai.protocol.session import ScoreRequest
from openapiopenai.server.metrics import Metrics
from openapiopenai.server.scorer import Scorer, _Schedule
from openapiopenai.vad.base import FloatArray, StreamState

FRAME = 4


@dataclass
class CountingState:
    """Counts the frames a stream has seen, so order and one-frame-per-call can be checked."""

    seen: int = 0

    def reset(self) -> None:
        self.seen = 0


@dataclass
class RecordingModel:
    """Scores a frame as its first sample; records every call's batch and rate."""

    name: str = "recording"
    calls: list[tuple[int, int]] = field(default_factory=list)
    fail_on: float | None = None

    def supported_rates(self) -> tuple[int, ...]:
        return (16_000, 8_000)

    def frame_samples(self, sample_rate: int) -> int:
        return FRAME

    def new_state(self, sample_rate: int) -> CountingState:
        return CountingState()

    def score(self, frames: FloatArray, states: Sequence[StreamState], sample_rate: int) -> FloatArray:
        assert frames.shape == (len(states), FRAME)
        assert len({id(s) for s in states}) == len(states), "a stream appeared twice in one call"
        if self.fail_on is not None and self.fail_on in frames[:, 0]:
            raise RuntimeError("model failure")
        self.calls.append((len(states), sample_rate))
        for row, state in zip(frames, states, strict=True):
            assert isinstance(state, CountingState)
            assert row[1] == state.seen, "a stream's frames were scored out of order"
            state.seen += 1
        return np.ascontiguousarray(frames[:, 0])


def request(values: list[float], rate: int = 16_000) -> ScoreRequest:
    """Frame k carries ``values[k]`` (the expected score) and its index k (the order check)."""
    frames = np.zeros((len(values), FRAME), dtype=np.float32)
    frames[:, 0] = values
    frames[:, 1] = np.arange(len(values))
    return ScoreRequest(frames=frames, state=CountingState(), sample_rate=rate)


async def score_all(scorer: Scorer, requests: list[ScoreRequest]) -> list[FloatArray | Exception]:
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in requests]
    for req, future in zip(requests, futures, strict=True):
        scorer.submit(req, future.set_result)
    return list(await asyncio.wait_for(asyncio.gather(*futures), 30))


def test_each_call_stacks_the_next_frame_of_every_stream_with_the_same_rate() -> None:
    model = RecordingModel()
    scorer = Scorer(model, metrics=Metrics())
    reqs = [request([0.1, 0.2, 0.3]), request([0.4]), request([0.5, 0.6], rate=8_000), request([0.7, 0.8])]
    results = scorer.score_now(reqs)
    for req, got in zip(reqs, results, strict=True):
        np.testing.assert_array_equal(got, req.frames[:, 0])
    # 16 kHz: rounds of 3, 2, 1 streams; 8 kHz: two rounds of one
    assert sorted(model.calls) == sorted([(3, 16_000), (2, 16_000), (1, 16_000), (1, 8_000), (1, 8_000)])


def test_calls_are_cut_at_max_batch_and_the_oldest_requests_finish_first() -> None:
    model = RecordingModel()
    scorer = Scorer(model, max_batch=4)
    scorer.score_now([request([0.5, 0.25]) for _ in range(10)])
    # the first four streams are finished (two calls) before the next four start
    assert model.calls == [(4, 16_000), (4, 16_000), (4, 16_000), (4, 16_000), (2, 16_000), (2, 16_000)]


def test_a_request_is_handed_back_when_its_last_frame_is_scored_not_when_the_batch_ends() -> None:
    schedule = _Schedule(RecordingModel(), batching=True, max_batch=128, metrics=None)
    short = schedule.add(request([0.1]), lambda _: None)
    long = schedule.add(request([0.2, 0.3, 0.4]), lambda _: None)
    finished, error = schedule.step()
    assert error is None and finished == [short]
    late = schedule.add(request([0.9]), lambda _: None)  # joins the next call
    finished, _ = schedule.step()
    assert finished == [late]
    finished, _ = schedule.step()
    assert finished == [long] and schedule.idle
    assert long.out.tolist() == pytest.approx([0.2, 0.3, 0.4])


def test_a_streams_next_request_waits_for_its_previous_one() -> None:
    model = RecordingModel()
    scorer = Scorer(model)
    first = request([0.1, 0.2])
    second = ScoreRequest(frames=first.frames.copy(), state=first.state, sample_rate=16_000)
    second.frames[:, 1] += 2  # frames 2 and 3 of the same stream
    results = scorer.score_now([first, second])
    assert [r.tolist() for r in results] == [pytest.approx([0.1, 0.2])] * 2
    assert model.calls == [(1, 16_000)] * 4  # never two rows of one stream in a call


def test_a_request_without_frames_comes_back_empty() -> None:
    model = RecordingModel()
    empty = ScoreRequest(
        frames=np.zeros((0, FRAME), dtype=np.float32), state=CountingState(), sample_rate=16_000
    )
    (result,) = Scorer(model).score_now([empty])
    assert result.shape == (0,) and model.calls == []


def test_without_batching_every_stream_is_scored_alone() -> None:
    model = RecordingModel()
    scorer = Scorer(model, batching=False)
    results = scorer.score_now([request([0.1, 0.2]), request([0.3])])
    assert [r.tolist() for r in results] == [pytest.approx([0.1, 0.2]), pytest.approx([0.3])]
    assert all(size == 1 for size, _ in model.calls) and len(model.calls) == 3


async def test_submitted_requests_come_back_through_their_callbacks() -> None:
    scorer = Scorer(RecordingModel())
    await scorer.start()
    try:
        reqs = [request([i / 10, i / 20]) for i in range(8)]
        results = await score_all(scorer, reqs)
        for req, got in zip(reqs, results, strict=True):
            assert not isinstance(got, Exception)
            np.testing.assert_array_equal(got, req.frames[:, 0])
    finally:
        await scorer.stop()


@dataclass
class GatedModel(RecordingModel):
    """A RecordingModel whose first call waits at a gate: the worker is busy in a model call
    while the test submits more."""

    entered: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event = field(default_factory=threading.Event)

    def score(self, frames: FloatArray, states: Sequence[StreamState], sample_rate: int) -> FloatArray:
        self.entered.set()
        self.gate.wait()
        return super().score(frames, states, sample_rate)


async def test_requests_submitted_while_the_worker_is_busy_are_all_answered() -> None:
    """No lost wake-ups: requests that arrive during a model call (the wake flag already set
    by the first of them) are all picked up, and so are requests after the worker went idle."""
    model = GatedModel()
    scorer = Scorer(model)
    await scorer.start()
    try:
        loop = asyncio.get_running_loop()
        first: asyncio.Future[FloatArray | Exception] = loop.create_future()
        scorer.submit(request([0.5]), first.set_result)
        await asyncio.to_thread(model.entered.wait)  # the worker is inside the model call
        later = [request([i / 100, i / 200]) for i in range(20)]
        futures = [loop.create_future() for _ in later]
        for req, future in zip(later, futures, strict=True):
            scorer.submit(req, future.set_result)
        model.gate.set()
        results = await asyncio.wait_for(asyncio.gather(first, *futures), 30)
        for req, got in zip([None, *later], results, strict=True):
            assert not isinstance(got, Exception)
            if req is not None:
                np.testing.assert_array_equal(got, req.frames[:, 0])
        # the worker is idle again: a new request still wakes it
        (again,) = await score_all(scorer, [request([0.25])])
        assert not isinstance(again, Exception) and again.tolist() == [0.25]
    finally:
        model.gate.set()
        await scorer.stop()


async def test_a_model_failure_fails_that_batch_and_the_scorer_goes_on() -> None:
    scorer = Scorer(RecordingModel(fail_on=0.75))
    await scorer.start()
    try:
        (failed,) = await score_all(scorer, [request([0.75])])
        assert isinstance(failed, RuntimeError)
        (ok,) = await score_all(scorer, [request([0.5])])
        assert not isinstance(ok, Exception) and ok.tolist() == [0.5]
    finally:
        await scorer.stop()


async def test_a_failing_callback_does_not_starve_the_others() -> None:
    scorer = Scorer(RecordingModel())
    await scorer.start()
    try:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[FloatArray | Exception] = loop.create_future()

        def broken(_: FloatArray | Exception) -> None:
            raise ValueError("a session's bug")

        # both requests are pending before the worker wakes, so they share one delivery
        scorer.submit(request([0.1]), broken)
        scorer.submit(request([0.2]), done.set_result)
        result = await asyncio.wait_for(done, 30)
        assert not isinstance(result, Exception) and result.tolist() == [pytest.approx(0.2)]
    finally:
        await scorer.stop()


def test_scorer_rejects_nonsense_sizes() -> None:
    with pytest.raises(ValueError):
        Scorer(RecordingModel(), workers=0)
    with pytest.raises(ValueError):
        Scorer(RecordingModel(), max_batch=0)
