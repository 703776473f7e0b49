"""The latency metric's onset: the append that completed the audio the detector decided on."""

from __future__ import annotations

import base64
import json
from collections import deque
from typing import Any, cast

from openapiopenai.config import ServerSettings
from openapiopenai.models import RealtimeServerEventInputAudioBufferSpeechStarted
from openapiopenai.protocol.ids import IdFactory
from openapiopenai.protocol.session import Session
from openapiopenai.server.connection import Arrival, Connection
from openapiopenai.server.metrics import Metrics
from tests.protocol.test_session import TURN
from tests.synth import LoudnessModel

CHUNK_MS = 20
CHUNK = 24 * CHUNK_MS * 2  # bytes of 24 kHz PCM16


def first_chunk_reaching(ms: int) -> float:
    """The index (and arrival second) of the first append whose audio reaches ``ms``."""
    return float(-(-ms // CHUNK_MS) - 1)


def test_the_deciding_arrival_is_the_first_append_reaching_the_decision_point() -> None:
    """With the default minimum speech (160 ms in the warm-up) the onset is confirmed well after
    ``audio_start_ms + prefix_padding_ms + one frame``: the metric must wait for that append."""
    session = Session(LoudnessModel(), ids=IdFactory(seed=1))
    session.start()
    connection = Connection(cast(Any, None), session, cast(Any, None), ServerSettings(), Metrics())
    session.drain_events()
    window: deque[Arrival] = deque()
    for n, start in enumerate(range(0, len(TURN), CHUNK)):
        chunk = base64.b64encode(TURN[start : start + CHUNK]).decode()
        session.receive_text(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
        window.append((session.audio_position_ms, float(n)))  # "arrived" at second n
        while (request := session.frames_to_score()) is not None:
            session.receive_scores(
                LoudnessModel().score(request.frames, [request.state], request.sample_rate)
            )
    started, stopped = session.drain_events()[:2]
    # TURN: 1024 ms of silence, 640 ms of tone, 1024 ms of silence; 300 ms padding, 32 ms frames
    assert isinstance(started, RealtimeServerEventInputAudioBufferSpeechStarted)
    audio_start_ms = started.audio_start_ms
    assert audio_start_ms == 1024 - 300
    rebuilt = audio_start_ms + 300 + 32  # what the metric once assumed
    decided = 1024 + 160
    assert connection._deciding_arrival(started, window) == first_chunk_reaching(decided) == 59.0
    assert first_chunk_reaching(rebuilt) == 52.0  # seven appends (140 ms) too early
    assert connection._deciding_arrival(stopped, window) == first_chunk_reaching(1024 + 640 + 500)
    unknown = deque([(100, 7.0), (200, 8.0)])
    assert connection._deciding_arrival(started, unknown) == 8.0  # beyond the window: its last append
