"""Noise reduction's second opinion with stand-in denoisers (no model, no shared data): the
denoised frames are scored first, then the same frames as the client sent them; the turn rules
use both (``TurnDetector.push(confirm=...)``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from openapiopenai.audio.pipeline import DenoiseStage
from openapiopenai.protocol.config import Features
from openapiopenai.protocol.ids import IdFactory
from openapiopenai.protocol.session import Session
from openapiopenai.protocol.work import NoiseReduction
from openapiopenai.turns import TurnDetectionConfig
from openapiopenai.vad.base import FloatArray
from tests.protocol.test_session import TURN, append, types
from tests.synth import LoudnessModel


class Gain:
    """A stand-in denoiser: scales the audio (1: passes it through, 0: removes everything)."""

    delay = 0

    def __init__(self, gain: float) -> None:
        self.gain = np.float32(gain)

    def process(self, samples: FloatArray) -> FloatArray:
        return samples * self.gain

    def reset(self) -> None:
        pass


@pytest.mark.parametrize(
    ("gain", "expected"),
    [
        (1.0, ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"]),
        (0.0, []),  # the denoiser took the speech away: the frames as sent alone start nothing
    ],
)
def test_the_same_frames_are_scored_twice_denoised_then_as_sent(gain: float, expected: list[str]) -> None:
    def denoiser(mode: NoiseReduction, rate: int) -> DenoiseStage:
        return Gain(gain)

    session = Session(
        LoudnessModel(),
        ids=IdFactory(seed=4),
        features=Features(noise_reduction=True),
        denoiser=denoiser,
        turn_detection=TurnDetectionConfig(min_speech_duration_ms=0, warmup_ms=0),
    )
    session.start()
    update = {"type": "realtime", "audio": {"input": {"noise_reduction": {"type": "near_field"}}}}
    session.receive_text(json.dumps({"type": "session.update", "session": update}))
    session.events_to_send()
    model = LoudnessModel()
    session.receive_text(json.dumps(append(TURN)))
    opinions = []
    while (request := session.frames_to_score()) is not None:
        opinions.append(session.awaiting_second_opinion)
        assert session.frames_to_score() is None  # one request out at a time
        session.receive_scores(model.score(request.frames, [request.state], request.sample_rate))
    assert opinions == [False, True]  # the denoised frames, then the same frames as sent
    events = [json.loads(text) for text in session.events_to_send()]
    assert types(events)[:2] == expected
    if expected:
        assert events[0]["audio_start_ms"] == 1024 - 300
