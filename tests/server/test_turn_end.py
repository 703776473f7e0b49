"""The end-of-turn worker: newest question per session, dropped when the speaker resumed, ``None``
(silence fallback) when it falls behind or the model fails; counted in /metrics."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient, WebSocketTestSession

from openapiopenai.audio.analysis import analysis_audio
from openapiopenai.audio.formats import PCM16_24K, encode
from openapiopenai.config import ServerSettings
from openapiopenai.exceptions import install_extra
from openapiopenai.protocol.work import AudioSlice, TurnEndRequest
from openapiopenai.server.app import create_app
from openapiopenai.server.metrics import Metrics
from openapiopenai.server.turn_end import TurnEndWorker
from tests.sdk import validate_ga
from tests.server._client import b64
from tests.synth import LoudnessModel, pcm16, silence, tone


class GatedModel:
    """Answers the audio's length in seconds / 10; waits for ``gate`` first when it is closed."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.fail = False
        #: when set, the answer to every question
        self.probability: float | None = None

    def predict(self, audio: np.ndarray) -> float:
        self.started.set()
        self.gate.wait()
        if self.fail:
            raise RuntimeError("model broke")
        return len(audio) / 16_000 / 10 if self.probability is None else self.probability


def request(query: int, seconds: float = 1.0) -> TurnEndRequest:
    samples = np.zeros(int(seconds * 24_000), dtype=np.float32)
    return TurnEndRequest(query, AudioSlice(encode(PCM16_24K, samples), PCM16_24K))


class Answers:
    def __init__(self) -> None:
        self.got: list[tuple[int, float | None]] = []
        self.changed = asyncio.Event()

    def __call__(self, query: int, probability: float | None) -> None:
        self.got.append((query, probability))
        self.changed.set()

    async def wait_for(self, count: int) -> list[tuple[int, float | None]]:
        while len(self.got) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 10)
        return self.got


@pytest.fixture
async def worker() -> AsyncIterator[TurnEndWorker]:
    running = TurnEndWorker(GatedModel(), metrics=Metrics(), max_queue=2)
    await running.start()
    yield running
    model = running.model
    assert isinstance(model, GatedModel)
    model.gate.set()
    await running.stop()


def fallbacks(worker: TurnEndWorker, reason: str) -> float:
    assert worker.metrics is not None
    value = worker.metrics.registry.get_sample_value(
        "openapiopenai_turn_end_fallbacks_total", {"reason": reason}
    )
    return value or 0.0


async def test_an_answer_comes_back_on_the_loop_with_the_decoded_audio(worker: TurnEndWorker) -> None:
    answers = Answers()
    worker.submit("a", request(1, seconds=2.0), answers)
    assert await answers.wait_for(1) == [(1, pytest.approx(0.2, abs=0.01))]


async def busy(worker: TurnEndWorker) -> Answers:
    """Block the worker on a question of session 'busy'."""
    model = worker.model
    assert isinstance(model, GatedModel)
    model.gate.clear()
    model.started.clear()
    answers = Answers()
    worker.submit("busy", request(1), answers)
    await asyncio.to_thread(model.started.wait, 10)
    return answers


async def test_only_the_newest_question_of_a_session_is_answered(worker: TurnEndWorker) -> None:
    first = await busy(worker)
    answers = Answers()
    worker.submit("b", request(1), answers)
    worker.submit("b", request(2), answers)
    assert worker.waiting == 1
    worker.model.gate.set()  # type: ignore[attr-defined]
    await first.wait_for(1)
    assert [q for q, _ in await answers.wait_for(1)] == [2]


async def test_a_question_whose_speaker_resumed_is_dropped(worker: TurnEndWorker) -> None:
    first = await busy(worker)
    answers = Answers()
    worker.submit("c", request(5), answers)
    worker.retain("c", 5)  # still wanted
    assert worker.waiting == 1
    worker.retain("c", None)  # speech resumed
    assert worker.waiting == 0
    worker.model.gate.set()  # type: ignore[attr-defined]
    await first.wait_for(1)
    assert answers.got == []
    assert worker.metrics is not None
    assert worker.metrics.registry.get_sample_value("openapiopenai_turn_end_dropped_total") == 1


async def test_a_full_queue_answers_none_at_once_and_counts_it(worker: TurnEndWorker) -> None:
    first = await busy(worker)
    queued = Answers()
    worker.submit("d", request(1), queued)
    worker.submit("e", request(1), queued)
    overflow = Answers()
    worker.submit("f", request(9), overflow)
    assert await overflow.wait_for(1) == [(9, None)]
    assert fallbacks(worker, "queue_full") == 1
    worker.model.gate.set()  # type: ignore[attr-defined]
    await first.wait_for(1)
    assert sorted(p is not None for _, p in await queued.wait_for(2)) == [True, True]


async def test_a_question_that_waited_too_long_answers_none() -> None:
    model = GatedModel()
    late = TurnEndWorker(model, metrics=Metrics(), max_age_s=0.0)
    await late.start()
    try:
        answers = Answers()
        late.submit("g", request(3), answers)
        assert await answers.wait_for(1) == [(3, None)]
        assert fallbacks(late, "late") == 1
    finally:
        await late.stop()


async def test_a_model_failure_answers_none_and_the_worker_goes_on(worker: TurnEndWorker) -> None:
    model = worker.model
    assert isinstance(model, GatedModel)
    model.fail = True
    answers = Answers()
    worker.submit("h", request(4), answers)
    assert await answers.wait_for(1) == [(4, None)]
    assert fallbacks(worker, "error") == 1
    model.fail = False
    worker.submit("h", request(5), answers)
    assert (await answers.wait_for(2))[1][1] is not None


def test_analysis_audio_is_16_khz_mono_float32() -> None:
    samples = analysis_audio(request(1, seconds=0.5).audio)
    assert samples.dtype == np.float32 and len(samples) == 8_000


def test_worker_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        TurnEndWorker(GatedModel(), max_queue=0)


# ---------------------------------------------------------------- through the server

SEMANTIC = {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}}
TURN_AUDIO = (1024, 640, 1024)  # ms of silence, tone, silence


def _events_until(ws: WebSocketTestSession, kind: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["type"] != kind:
        text = ws.receive_text()
        validate_ga(text)
        seen.append(json.loads(text))
    return seen


def _semantic_turn(ws: WebSocketTestSession) -> None:
    _events_until(ws, "session.created")
    ws.send_json({"type": "session.update", "session": SEMANTIC})
    _events_until(ws, "session.updated")
    lead, speech, tail = TURN_AUDIO
    audio = pcm16(silence(lead), tone(speech), silence(tail))
    ws.send_json({"type": "input_audio_buffer.append", "audio": b64(audio)})


@pytest.mark.timeout(60)
def test_an_overloaded_model_falls_back_to_the_silence_window_and_counts_it() -> None:
    model = GatedModel()
    model.probability = 0.99
    model.gate.clear()  # the model is stuck on the first question it gets
    worker = TurnEndWorker(model, max_queue=1)
    app = create_app(ServerSettings(), model=LoudnessModel(), turn_end=worker)
    with (
        TestClient(app) as client,
        client.websocket_connect("/v1/realtime") as first,
        client.websocket_connect("/v1/realtime") as second,
        client.websocket_connect("/v1/realtime") as third,
    ):
        worker.metrics = app.state.hub.metrics
        _semantic_turn(first)
        model.started.wait(10)  # the worker is busy with the first session's question
        _semantic_turn(second)  # queued: the queue is now full
        _semantic_turn(third)  # no room: answered "no answer" -> silence window
        events = _events_until(third, "input_audio_buffer.committed")
        stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
        assert stopped["audio_end_ms"] >= TURN_AUDIO[0] + TURN_AUDIO[1] + 500
        metrics = client.get("/metrics").text
        assert 'openapiopenai_turn_end_fallbacks_total{reason="queue_full"} 1.0' in metrics
        model.gate.set()
        for ws in (first, second):  # once the model is back, the others get real answers
            assert "input_audio_buffer.speech_stopped" in [
                e["type"] for e in _events_until(ws, "input_audio_buffer.committed")
            ]


def test_without_the_semantic_extra_a_session_asking_for_it_is_told_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from openapiopenai.exceptions import ModelLoadError
    from openapiopenai.protocol.session import Session
    from openapiopenai.server.app import Hub
    from openapiopenai.vad import smart_turn

    def missing() -> None:
        raise ModelLoadError(smart_turn.INSTALL_HINT)

    monkeypatch.setattr(smart_turn, "default_model_path", missing)
    hub = Hub(ServerSettings(), LoudnessModel())
    assert hub.turn_end is None and not hub.features.semantic_vad
    session = Session(LoudnessModel(), features=hub.features)
    session.start()
    session.events_to_send()
    session.receive_text(json.dumps({"type": "session.update", "session": SEMANTIC}))
    (error,) = [json.loads(e) for e in session.events_to_send()]
    assert error["error"]["code"] == "feature_unavailable"
    assert install_extra("semantic") in error["error"]["message"]
