"""The server's work requests carry denoised audio when the session asks for noise_reduction.

Through the real app (``create_app`` builds the transcription pool and the end-of-turn worker
with the denoise hook): a fake transcriber and a fake end-of-turn model record every clip they
are handed, and the hook (the real RNNoise one, wrapped) records what it was asked to clean and
what it returned. The clips the models receive must be the hook's output, in the session's mode,
of exactly the audio the client sent; without noise_reduction they get that audio untouched.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient, WebSocketTestSession

from openapiopenai.asr import TextPiece, TranscriptionOptions
from openapiopenai.audio.analysis import Denoise, prepare
from openapiopenai.audio.formats import PCM16_24K
from openapiopenai.config import ServerSettings
from openapiopenai.denoise import Denoiser, analysis_denoise
from tests.audio._data import NOISE, TWO_TURNS, fixture_at
from tests.sdk import validate_ga
from tests.server._client import b64
from tests.synth import LoudnessModel, pcm16, silence

COMPLETED = "conversation.item.input_audio_transcription.completed"


class Heard:
    """A transcriber and an end-of-turn model that keep every 16 kHz clip they are handed."""

    name = "heard"

    def __init__(self) -> None:
        self.clips: list[np.ndarray] = []

    def transcribe(self, audio: np.ndarray, options: TranscriptionOptions) -> Iterator[TextPiece]:
        del options
        self.clips.append(np.array(audio, copy=True))
        yield TextPiece("heard")

    def predict(self, audio: np.ndarray) -> float:
        self.clips.append(np.array(audio, copy=True))
        return 0.99


class Hook:
    """The real analysis hook, keeping (mode, what it was given, what it returned) per call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, np.ndarray, np.ndarray]] = []

    def __call__(self, denoiser: Denoiser) -> Denoise:
        real = analysis_denoise(denoiser)

        def hook(samples: np.ndarray, mode: str) -> np.ndarray:
            out = real(samples, mode)
            self.calls.append((mode, np.array(samples, copy=True), out))
            return out

        return hook


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Heard, Heard, Hook]]:
    import openapiopenai.asr
    import openapiopenai.server.app
    import openapiopenai.vad.smart_turn

    transcriber, turn_end, hook = Heard(), Heard(), Hook()
    monkeypatch.setattr(openapiopenai.asr, "unavailable_reason", lambda *_: None)
    monkeypatch.setattr(openapiopenai.asr, "load_transcriber", lambda *_, **__: transcriber)
    monkeypatch.setattr(openapiopenai.vad.smart_turn, "LazySmartTurnModel", lambda *_, **__: turn_end)
    monkeypatch.setattr(openapiopenai.server.app, "analysis_denoise", hook)
    app = openapiopenai.server.app.create_app(
        ServerSettings(transcription_preload=False, transcription_workers=1), model=LoudnessModel()
    )
    with TestClient(app) as client:
        yield client, transcriber, turn_end, hook


def noisy_speech() -> bytes:
    """Two espeak-ng utterances over quiet noise (the noise fixture at -40 dBFS), then 1.5 s of
    the same noise: PCM16 24 kHz."""
    speech = np.concatenate((fixture_at(TWO_TURNS, 24_000), silence(1500)))
    noise = np.resize(fixture_at(NOISE, 24_000), len(speech)) * 0.1
    return pcm16((speech + noise).astype(np.float32))


def until(ws: WebSocketTestSession, kind: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["type"] != kind:
        text = ws.receive_text()
        validate_ga(text)
        seen.append(json.loads(text))
        assert seen[-1]["type"] != "error", seen[-1]
    return seen


def update(ws: WebSocketTestSession, audio_input: dict[str, Any]) -> None:
    ws.send_json({"type": "session.update", "session": {"type": "realtime", "audio": {"input": audio_input}}})
    until(ws, "session.updated")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["near_field", "far_field", None])
def test_a_transcription_request_carries_the_sent_audio_denoised_as_the_session_asked(
    server: tuple[TestClient, Heard, Heard, Hook], mode: str | None
) -> None:
    client, transcriber, _, hook = server
    sent = noisy_speech()
    with client.websocket_connect("/v1/realtime") as ws:
        until(ws, "session.created")
        update(
            ws,
            {
                "turn_detection": None,
                "transcription": {"model": "whisper-1"},
                "noise_reduction": None if mode is None else {"type": mode},
            },
        )
        ws.send_json({"type": "input_audio_buffer.append", "audio": b64(sent)})
        ws.send_json({"type": "input_audio_buffer.commit"})
        events = until(ws, COMPLETED)
    assert events[-1]["transcript"] == "heard"
    (clip,) = transcriber.clips
    raw = prepare(sent, PCM16_24K)  # what the client sent, at 16 kHz
    if mode is None:
        assert hook.calls == []
        np.testing.assert_array_equal(clip, raw)
        return
    (call,) = hook.calls
    assert call[0] == mode
    np.testing.assert_array_equal(call[1], raw)  # the hook cleaned exactly the sent audio
    np.testing.assert_array_equal(clip, call[2])  # and the transcriber got what it returned
    assert len(clip) == len(raw) and np.abs(clip - raw).max() > 0.01


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["far_field", None])
def test_semantic_vad_questions_carry_denoised_audio(
    server: tuple[TestClient, Heard, Heard, Hook], mode: str | None
) -> None:
    client, _, turn_end, hook = server
    sent = noisy_speech()
    with client.websocket_connect("/v1/realtime") as ws:
        until(ws, "session.created")
        update(
            ws,
            {
                "turn_detection": {"type": "semantic_vad"},
                "noise_reduction": None if mode is None else {"type": mode},
            },
        )
        ws.send_json({"type": "input_audio_buffer.append", "audio": b64(sent)})
        committed = until(ws, "input_audio_buffer.committed")[-1]
        ws.send_json({"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
        (part,) = until(ws, "conversation.item.retrieved")[-1]["item"]["content"]
    assert turn_end.clips, "the end-of-turn model was asked"
    item = base64.b64decode(part["audio"])
    assert item in sent  # the committed item is what the client sent
    if mode is None:
        assert hook.calls == []  # the questions' audio is the sent audio, untouched
        return
    outputs = [out for m, _, out in hook.calls if m == mode]
    assert len(outputs) == len(hook.calls) >= len(turn_end.clips)
    for clip in turn_end.clips:  # each question's audio came out of the hook, in the session's mode
        assert any(np.array_equal(clip, out) for out in outputs)
    for _, given, out in hook.calls:  # cleaned, not passed through
        assert len(out) == len(given) and np.abs(out - given).max() > 0.001
