"""semantic_vad through the official SDK against the real server (Silero + Smart Turn), both session
types, streamed as a client streams a microphone: 100 ms appends at about real time.

What proves the *model* ended the turn (not a fallback to the 500 ms silence window, nor the end of
the appended audio): the silence keeps flowing after the sentence until the stop arrives; the stop
lies well under the eagerness' maximum wait after the sentence's end; and
``openapiopenai_turn_end_fallbacks_total`` did not grow while ``..._decisions_total`` did.
Pacing is ``asyncio.sleep`` between appends and every wait is on an event with a generous
deadline; no wall-clock latency is asserted, so a loaded CI machine only makes these slower.
The server's model is loaded by a warm-up turn first (``warm_server``), so its one-off load is not
mistaken for the measured turns' answer wait.
The sentence is the synthetic fixture the model finds complete (scores in
``tests/vad/test_smart_turn.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from openapiopenai.audio.formats import PCM16_24K, encode
from tests.audio._data import COMPLETE_SENTENCE, fixture_at
from tests.server._client import b64, collect
from tests.server.conftest import ServerProcess
from tests.server.test_sdk_e2e import client_for

RATE = 24_000
#: per append: 100 ms of audio
CHUNK = RATE // 10
#: silence streamed after the sentence at most (longer than auto's 4 s maximum wait): the stop
#: normally comes after ~0.2-0.5 s of it, and the sender stops streaming once it has
MAX_SILENCE_MS = 6000
FALLBACKS = "openapiopenai_turn_end_fallbacks_total"
DECISIONS = "openapiopenai_turn_end_decisions_total"


def sentence_then_silence() -> tuple[bytes, int]:
    """The complete sentence then ``MAX_SILENCE_MS`` of silence, as PCM16 24 kHz, and the
    sentence's end in ms (the fixture's speech runs to the end of its file)."""
    speech = fixture_at(COMPLETE_SENTENCE, RATE)
    pcm = encode(
        PCM16_24K, np.concatenate([speech, np.zeros(MAX_SILENCE_MS * RATE // 1000, dtype=np.float32)])
    )
    return pcm, len(speech) * 1000 // RATE


@contextlib.asynccontextmanager
async def streaming(conn: Any, pcm: bytes) -> AsyncIterator[None]:
    """Append ``pcm`` in 100 ms chunks, one per 100 ms, in the background; stop on leaving."""

    async def send() -> None:
        step = CHUNK * 2  # bytes of PCM16
        for start in range(0, len(pcm), step):
            await conn.input_audio_buffer.append(audio=b64(pcm[start : start + step]))
            await asyncio.sleep(0.1)

    sender = asyncio.create_task(send())
    try:
        yield
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        assert sender.cancelled() or sender.exception() is None


async def one_turn(server: ServerProcess) -> None:
    pcm, _ = sentence_then_silence()
    async with client_for(server).realtime.connect(model="gpt-realtime") as conn:
        await collect(conn, until="session.created")
        session: Any = {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}}
        await conn.session.update(session=session)
        await collect(conn, until="session.updated")
        await conn.input_audio_buffer.append(audio=b64(pcm))  # all at once: only the load matters here
        await collect(conn, until="input_audio_buffer.committed", timeout=90)


@pytest.fixture(scope="module")
def warm_server(shared_server: ServerProcess) -> ServerProcess:
    """The server after one semantic_vad turn: the model is loaded on the first question, and that
    one-off load (seconds on a loaded machine) must not count as the measured turns' answer wait."""
    asyncio.run(one_turn(shared_server))
    return shared_server


def turn_events(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events if e["type"].startswith("input_audio_buffer.")]


def assert_the_model_ended_it(events: list[dict[str, Any]], end_ms: int, max_wait_ms: int) -> None:
    stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
    waited = stopped["audio_end_ms"] - end_ms
    # the silence kept coming, so only a decision can have stopped the turn this early; a model
    # that never said "complete" would have held it to max_wait_ms
    assert 0 < waited < max_wait_ms // 2, (waited, max_wait_ms)


async def test_a_realtime_session_ends_a_complete_sentence_on_the_models_word(
    warm_server: ServerProcess,
) -> None:
    pcm, end_ms = sentence_then_silence()
    fallbacks, decisions = warm_server.metric(FALLBACKS), warm_server.metric(DECISIONS)
    async with client_for(warm_server).realtime.connect(model="gpt-realtime") as conn:
        await collect(conn, until="session.created")
        td = {"type": "semantic_vad", "eagerness": "auto"}
        session: Any = {"type": "realtime", "audio": {"input": {"turn_detection": td}}}
        await conn.session.update(session=session)
        (updated,) = await collect(conn, until="session.updated")
        assert updated["session"]["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
        async with streaming(conn, pcm):
            events = await collect(conn, until="conversation.item.done", timeout=60)
    assert turn_events(events) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]
    assert_the_model_ended_it(events, end_ms, max_wait_ms=4000)
    assert warm_server.metric(FALLBACKS) == fallbacks
    assert warm_server.metric(DECISIONS) > decisions


async def test_a_transcription_session_takes_semantic_vad_too(warm_server: ServerProcess) -> None:
    pcm, end_ms = sentence_then_silence()
    fallbacks, decisions = warm_server.metric(FALLBACKS), warm_server.metric(DECISIONS)
    client = client_for(warm_server)
    async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
        (created,) = await collect(conn, until="session.created")
        assert created["session"]["type"] == "transcription"
        td = {"type": "semantic_vad", "eagerness": "medium"}
        session: Any = {"type": "transcription", "audio": {"input": {"turn_detection": td}}}
        await conn.session.update(session=session)
        (updated,) = await collect(conn, until="session.updated")
        assert updated["session"]["audio"]["input"]["turn_detection"]["eagerness"] == "medium"
        async with streaming(conn, pcm):
            events = await collect(conn, until="input_audio_buffer.committed", timeout=60)
    assert_the_model_ended_it(events, end_ms, max_wait_ms=4000)
    assert warm_server.metric(FALLBACKS) == fallbacks
    assert warm_server.metric(DECISIONS) > decisions
