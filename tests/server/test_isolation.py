"""One session's failure is that session's alone: it is closed with 1011, the others go on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from openapiopenai.config import ServerSettings
from openapiopenai.server.app import create_app
from openapiopenai.vad.base import FloatArray, StreamState
from tests.sdk import validate_ga
from tests.server._client import b64
from tests.synth import LoudnessModel, pcm16, silence, tone


class PoisonedModel(LoudnessModel):
    """Fails on a near-full-scale frame, as a model can fail on input it was never built for."""

    def score(self, frames: FloatArray, states: Sequence[StreamState], sample_rate: int) -> FloatArray:
        if float(np.max(np.sqrt(np.mean(np.square(frames), axis=1)))) > 0.6:
            raise RuntimeError("the model failed on this frame")
        return super().score(frames, states, sample_rate)


def events_until(ws: WebSocketTestSession, kind: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["type"] != kind:
        text = ws.receive_text()
        validate_ga(text)
        seen.append(json.loads(text))
    return seen


def append(ws: WebSocketTestSession, audio: bytes) -> None:
    ws.send_json({"type": "input_audio_buffer.append", "audio": b64(audio)})


@pytest.mark.timeout(30)
def test_a_model_failure_closes_that_session_with_1011_and_the_others_go_on() -> None:
    app = create_app(ServerSettings(), model=PoisonedModel())
    with (
        TestClient(app) as client,
        client.websocket_connect("/v1/realtime") as good,
        client.websocket_connect("/v1/realtime") as bad,
    ):
        events_until(good, "session.created")
        events_until(bad, "session.created")
        append(bad, pcm16(tone(300, amplitude=0.99)))
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                bad.receive_text()
        assert closed.value.code == 1011

        append(good, pcm16(silence(200), tone(600), silence(1200)))
        seen = [e["type"] for e in events_until(good, "input_audio_buffer.committed")]
        assert seen[:3] == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
        ]
