"""semantic_vad through the official SDK against the real server (Silero + Smart Turn), both session types."""

from __future__ import annotations

from typing import Any

import numpy as np
import soxr

from openapiopenai.audio.formats import PCM16_24K, encode
from tests._librispeech import libri_audio, libri_span
from tests.server._client import b64, collect
from tests.server.conftest import ServerProcess
from tests.server.test_sdk_e2e import client_for

COMPLETE = "19-198-0002.flac"


def sentence_then_silence(silence_ms: int) -> tuple[bytes, int]:
    """A complete sentence (to its last speech) and ``silence_ms`` of silence, as PCM16 24 kHz, and
    the sentence's end in ms."""
    audio, rate = libri_audio(COMPLETE)
    _, end_s = libri_span(COMPLETE)
    speech = soxr.resample(audio[: int(end_s * rate)], rate, 24_000).astype(np.float32)
    pcm = encode(PCM16_24K, np.concatenate([speech, np.zeros(silence_ms * 24, dtype=np.float32)]))
    return pcm, len(speech) // 24


def turn_events(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events if e["type"].startswith("input_audio_buffer.")]


async def test_a_realtime_session_ends_a_complete_sentence_on_the_models_word(
    shared_server: ServerProcess,
) -> None:
    pcm, end_ms = sentence_then_silence(1000)
    async with client_for(shared_server).realtime.connect(model="gpt-realtime") as conn:
        await collect(conn, until="session.created")
        td = {"type": "semantic_vad", "eagerness": "auto"}
        await conn.session.update(session={"type": "realtime", "audio": {"input": {"turn_detection": td}}})
        (updated,) = await collect(conn, until="session.updated")
        assert updated["session"]["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
        await conn.input_audio_buffer.append(audio=b64(pcm))
        events = await collect(conn, until="conversation.item.done")
    assert turn_events(events) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]
    stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
    # 1 s of silence is far below every maximum wait: only the model can have ended this turn
    assert end_ms < stopped["audio_end_ms"] <= end_ms + 1000
    assert shared_server.metric("openapiopenai_turn_end_decisions_total") >= 1


async def test_a_transcription_session_takes_semantic_vad_too(shared_server: ServerProcess) -> None:
    pcm, end_ms = sentence_then_silence(1000)
    client = client_for(shared_server)
    async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
        (created,) = await collect(conn, until="session.created")
        assert created["session"]["type"] == "transcription"
        td = {"type": "semantic_vad", "eagerness": "high"}
        await conn.session.update(
            session={"type": "transcription", "audio": {"input": {"turn_detection": td}}}  # type: ignore[typeddict-item]
        )
        (updated,) = await collect(conn, until="session.updated")
        assert updated["session"]["audio"]["input"]["turn_detection"]["eagerness"] == "high"
        await conn.input_audio_buffer.append(audio=b64(pcm))
        events = await collect(conn, until="input_audio_buffer.committed")
    stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
    assert end_ms < stopped["audio_end_ms"] <= end_ms + 1000
