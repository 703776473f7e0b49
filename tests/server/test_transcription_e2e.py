"""Input audio transcription through the official SDK against the real server and bundled model.

Every event is validated strictly against the SDK's own types (``collect_transcripts`` does
it); the transcripts are checked for the words spoken in the repository's fixtures (espeak-ng
speech, ``tests/fixtures``). The same paths on real speech (LibriSpeech, with a WER bound) are
in ``tests/evaluation/test_transcription_real_speech.py``; streaming, interleaving and a full
queue with a fake transcriber in ``tests/server/test_transcription_streaming.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.audio._data import SPEECH, SPEECH_THEN_SILENCE, TWO_TURNS, fixture_at
from tests.server._client import b64
from tests.server._transcription import (
    COMPLETED,
    DELTA,
    FAILED,
    check_items,
    client_for,
    collect_transcripts,
    events_until,
    words,
)
from tests.server.conftest import ServerProcess, start_server
from tests.synth import pcm16, silence

pytest.importorskip("faster_whisper")

#: espeak-ng speech (tests/fixtures): "Please turn on the kitchen lights.", 1.5 s, "And set a timer
#: for ten minutes."; the first alone; the second with silence after it
KITCHEN_AND_TIMER = TWO_TURNS
ONE_UTTERANCE = SPEECH
TIMER = SPEECH_THEN_SILENCE


def wire_pcm(name: str) -> bytes:
    return pcm16(fixture_at(name, 24_000))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    running = start_server(tmp_path_factory.mktemp("server"))
    yield running
    running.stop()


async def test_ga_realtime_session_streams_transcripts_in_commit_order(server: ServerProcess) -> None:
    audio = wire_pcm(KITCHEN_AND_TIMER) + pcm16(silence(1500))
    async with client_for(server).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()  # session.created
        asked = {"model": "gpt-4o-transcribe", "language": "en"}
        await conn.session.update(
            session={"type": "realtime", "audio": {"input": {"transcription": asked}}}  # type: ignore[arg-type, misc]
        )
        await conn.input_audio_buffer.append(audio=b64(audio))
        events = await collect_transcripts(conn, items=2)
        updated = next(e for e in events if e["type"] == "session.updated")
        assert updated["session"]["audio"]["input"]["transcription"] == asked
        first, second = check_items(events)
        assert {"kitchen", "lights"} <= words(first)
        assert {"timer", "minutes"} <= words(second)
        completed = [e for e in events if e["type"] == COMPLETED]
        assert completed[0]["usage"]["type"] == "duration"
        assert 1.0 < completed[0]["usage"]["seconds"] < 5.0
        assert "logprobs" not in completed[0] or completed[0]["logprobs"] is None
        # retrieve shows the transcript once it is complete
        await conn.conversation.item.retrieve(item_id=completed[0]["item_id"])
        retrieved = (await events_until(conn, "conversation.item.retrieved"))[-1]
        assert retrieved["item"]["content"][0]["transcript"] == first
    text = server.metrics()
    assert "openapiopenai_transcription_latency_seconds_count" in text
    assert server.metric("openapiopenai_transcription_latency_seconds_count") >= 2


async def test_ga_transcription_session_with_logprobs(server: ServerProcess) -> None:
    client = client_for(server)
    async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
        await conn.recv()  # session.created
        await conn.session.update(
            session={
                "type": "transcription",
                "audio": {"input": {"transcription": {"model": "gpt-transcribe"}}},
                "include": ["item.input_audio_transcription.logprobs"],
            }
        )
        await conn.input_audio_buffer.append(audio=b64(wire_pcm(TIMER) + pcm16(silence(1500))))
        events = await collect_transcripts(conn)
    (transcript,) = check_items(events)
    assert {"timer", "minutes"} <= words(transcript)
    completed = next(e for e in events if e["type"] == COMPLETED)
    tokens = [lp["token"] for lp in completed["logprobs"]]
    assert "".join(tokens) == transcript
    assert all(lp["logprob"] <= 0 for lp in completed["logprobs"])
    delta_logprobs = [lp for e in events if e["type"] == DELTA for lp in e["logprobs"]]
    assert delta_logprobs == completed["logprobs"]


async def test_beta_realtime_session(server: ServerProcess) -> None:
    async with client_for(server).beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
        await conn.recv()
        await conn.session.update(session={"input_audio_transcription": {"model": "whisper-1"}})
        await conn.input_audio_buffer.append(audio=b64(wire_pcm(TIMER) + pcm16(silence(1500))))
        events = await collect_transcripts(conn, beta=True)
    (transcript,) = check_items(events)
    assert {"timer", "minutes"} <= words(transcript)


async def test_beta_transcription_session(server: ServerProcess) -> None:
    client = client_for(server)
    connect = client.beta.realtime.connect(model="gpt-4o-transcribe", extra_query={"intent": "transcription"})
    async with connect as conn:
        await conn.recv()
        await conn.transcription_session.update(
            session={"input_audio_transcription": {"model": "gpt-4o-mini-transcribe", "prompt": "Timers."}}
        )
        await conn.input_audio_buffer.append(audio=b64(wire_pcm(TIMER) + pcm16(silence(1500))))
        events = await collect_transcripts(conn, beta=True)
    updated = next(e for e in events if e["type"] == "transcription_session.updated")
    assert updated["session"]["input_audio_transcription"]["prompt"] == "Timers."
    (transcript,) = check_items(events)
    assert "timer" in words(transcript)


async def test_a_manual_commit_is_transcribed(server: ServerProcess) -> None:
    async with client_for(server).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn.session.update(
            session={
                "type": "realtime",
                "audio": {"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}},
            }
        )
        await conn.input_audio_buffer.append(audio=b64(wire_pcm(ONE_UTTERANCE)))
        await conn.input_audio_buffer.commit()
        events = await collect_transcripts(conn)
    assert "input_audio_buffer.speech_started" not in [e["type"] for e in events]
    (transcript,) = check_items(events)
    assert {"kitchen", "lights"} <= words(transcript)


async def test_transcription_null_sends_no_transcription_events(server: ServerProcess) -> None:
    """Transcription on, then ``null``: the next item gets no transcription events. Proven by
    turning it on again for a second item: items are transcribed in commit order, so any event
    for the first would arrive before the second's ``completed``."""
    on = {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}
    off = {"type": "realtime", "audio": {"input": {"transcription": None}}}
    audio = b64(wire_pcm(TIMER) + pcm16(silence(1500)))
    async with client_for(server).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()  # session.created
        await conn.session.update(session=on)  # type: ignore[arg-type]
        await events_until(conn, "session.updated")
        await conn.session.update(session=off)  # type: ignore[arg-type]
        events = await events_until(conn, "session.updated")
        await conn.input_audio_buffer.append(audio=audio)
        events += await events_until(conn, "input_audio_buffer.committed")
        untranscribed = events[-1]["item_id"]
        await conn.session.update(session=on)  # type: ignore[arg-type]
        await conn.input_audio_buffer.append(audio=audio)
        events += await collect_transcripts(conn)
    kinds = [e["type"] for e in events]
    assert "error" not in kinds
    assert not [e for e in events if "transcription" in e["type"] and e.get("item_id") == untranscribed]
    (transcribed,) = {e["item_id"] for e in events if e["type"] == COMPLETED}
    assert transcribed != untranscribed


async def test_a_failing_model_fails_each_item_and_the_session_goes_on(tmp_path: Path) -> None:
    broken = start_server(tmp_path, "--transcription-model", str(tmp_path))  # a folder with no model
    try:
        async with client_for(broken).realtime.connect(model="gpt-realtime") as conn:
            await conn.recv()
            await conn.session.update(
                session={"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}
            )
            audio = wire_pcm(TIMER) + pcm16(silence(1500))
            await conn.input_audio_buffer.append(audio=b64(audio))
            first = await collect_transcripts(conn)
            await conn.input_audio_buffer.append(audio=b64(audio))
            second = await collect_transcripts(conn)
        for events in (first, second):
            failed = [e for e in events if e["type"] == FAILED]
            assert len(failed) == 1 and failed[0]["error"]["type"] == "transcription_error"
            assert "model.bin" in failed[0]["error"]["message"]
            assert "input_audio_buffer.speech_stopped" in [e["type"] for e in events]
    finally:
        broken.stop()


async def test_transcription_turned_off_is_refused_with_the_reason(tmp_path: Path) -> None:
    off = start_server(tmp_path, "--transcription-workers", "0")
    try:
        async with client_for(off).realtime.connect(model="gpt-realtime") as conn:
            await conn.recv()
            await conn.session.update(
                session={"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}
            )
            events = await events_until(conn, "error")
        (error,) = [e for e in events if e["type"] == "error"]
        assert error["error"]["code"] == "feature_unavailable"
        assert "--transcription-workers 0" in error["error"]["message"]
    finally:
        off.stop()
