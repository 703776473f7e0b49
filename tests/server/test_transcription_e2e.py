"""Input audio transcription through the official SDK against the real server and bundled model.

Every event is validated strictly against the SDK's own types (``collect`` does it); the
transcripts are checked for the words spoken in real LibriSpeech recordings.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import soxr
from openai import AsyncOpenAI

from tests.audio._data import LIBRISPEECH, read_audio
from tests.sdk import validate_beta, validate_ga
from tests.server._client import b64
from tests.server.conftest import ServerProcess, start_server
from tests.synth import pcm16, silence

pytest.importorskip("faster_whisper")

DELTA = "conversation.item.input_audio_transcription.delta"
COMPLETED = "conversation.item.input_audio_transcription.completed"
FAILED = "conversation.item.input_audio_transcription.failed"
LOBSTER = "367-130732-0001.flac"  # WHEN IS A LOBSTER NOT A LOBSTER WHEN IT IS A CRAYFISH
STILLNESS = "3005-163389-0002.flac"  # THE STILLNESS WAS AWFUL CREEPY AND UNCOMFORTABLE


def wire_pcm(name: str) -> bytes:
    samples, rate = read_audio(LIBRISPEECH, name)
    return pcm16(soxr.resample(samples, rate, 24_000))


def words(text: str) -> set[str]:
    return set("".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split())


def client_for(server: ServerProcess) -> AsyncOpenAI:
    return AsyncOpenAI(
        base_url=f"{server.http_url}/v1",
        api_key="sk-test",
        websocket_base_url=f"ws://127.0.0.1:{server.port}/v1",
    )


async def collect_transcripts(conn: Any, *, beta: bool = False, timeout: float = 90) -> list[dict[str, Any]]:
    """Events (strictly validated) until every committed item has completed or failed."""
    events: list[dict[str, Any]] = []
    committed: list[str] = []
    finished: list[str] = []
    async with asyncio.timeout(timeout):
        while not committed or len(finished) < len(committed):
            raw = (await conn.recv()).to_json()
            (validate_beta if beta else validate_ga)(raw)
            event = json.loads(raw)
            events.append(event)
            if event["type"] == "input_audio_buffer.committed":
                committed.append(event["item_id"])
            elif event["type"] in (COMPLETED, FAILED):
                finished.append(event["item_id"])
    return events


async def quiet(conn: Any, seconds: float = 1.5) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        try:
            events.append(json.loads((await asyncio.wait_for(conn.recv(), seconds)).to_json()))
        except TimeoutError:
            return events


def check_items(events: list[dict[str, Any]]) -> list[str]:
    """Per committed item, in commit order: deltas then one completed whose transcript is the
    deltas joined; returns the transcripts."""
    committed = [e["item_id"] for e in events if e["type"] == "input_audio_buffer.committed"]
    completed = [e for e in events if e["type"] == COMPLETED]
    assert [e["item_id"] for e in completed] == committed
    for event in completed:
        item = event["item_id"]
        deltas = [e["delta"] for e in events if e["type"] == DELTA and e["item_id"] == item]
        assert deltas and "".join(deltas) == event["transcript"]
        last_delta = max(i for i, e in enumerate(events) if e["type"] == DELTA and e["item_id"] == item)
        assert last_delta < events.index(event)
    return [e["transcript"] for e in completed]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    running = start_server(tmp_path_factory.mktemp("server"))
    yield running
    running.stop()


async def test_ga_realtime_session_streams_transcripts_in_commit_order(server: ServerProcess) -> None:
    audio = wire_pcm(LOBSTER) + pcm16(silence(1500)) + wire_pcm(STILLNESS) + pcm16(silence(1500))
    async with client_for(server).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()  # session.created
        asked = {"model": "gpt-4o-transcribe", "language": "en"}
        await conn.session.update(
            session={"type": "realtime", "audio": {"input": {"transcription": asked}}}  # type: ignore[typeddict-item]
        )
        await conn.input_audio_buffer.append(audio=b64(audio))
        events = await collect_transcripts(conn)
        updated = next(e for e in events if e["type"] == "session.updated")
        assert updated["session"]["audio"]["input"]["transcription"] == asked
        first, second = check_items(events)
        assert {"lobster", "crayfish"} <= words(first)
        assert {"stillness", "creepy"} <= words(second)
        completed = [e for e in events if e["type"] == COMPLETED]
        assert completed[0]["usage"]["type"] == "duration"
        assert 4.0 < completed[0]["usage"]["seconds"] < 6.5
        assert "logprobs" not in completed[0] or completed[0]["logprobs"] is None
        # retrieve shows the transcript once it is complete
        await conn.conversation.item.retrieve(item_id=completed[0]["item_id"])
        retrieved = next(e for e in await quiet(conn) if e["type"] == "conversation.item.retrieved")
        assert retrieved["item"]["content"][0]["transcript"] == first
    text = server.metrics()
    assert "openapiopenai_transcription_latency_seconds_count" in text
    assert server.metric("openapiopenai_transcription_latency_seconds_count") >= 2


async def test_ga_transcription_session_with_logprobs(server: ServerProcess) -> None:
    client = client_for(server)
    async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
        await conn.recv()  # session.created
        await conn.session.update(
            session={  # type: ignore[typeddict-item]
                "type": "transcription",
                "audio": {"input": {"transcription": {"model": "gpt-transcribe"}}},
                "include": ["item.input_audio_transcription.logprobs"],
            }
        )
        await conn.input_audio_buffer.append(audio=b64(wire_pcm(LOBSTER) + pcm16(silence(1500))))
        events = await collect_transcripts(conn)
    (transcript,) = check_items(events)
    assert {"lobster", "crayfish"} <= words(transcript)
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
        await conn.input_audio_buffer.append(audio=b64(wire_pcm(LOBSTER) + pcm16(silence(1500))))
        events = await collect_transcripts(conn, beta=True)
    (transcript,) = check_items(events)
    assert {"lobster", "crayfish"} <= words(transcript)


async def test_beta_transcription_session(server: ServerProcess) -> None:
    client = client_for(server)
    connect = client.beta.realtime.connect(model="gpt-4o-transcribe", extra_query={"intent": "transcription"})
    async with connect as conn:
        await conn.recv()
        await conn.transcription_session.update(
            session={"input_audio_transcription": {"model": "gpt-4o-mini-transcribe", "prompt": "Crayfish."}}
        )
        await conn.input_audio_buffer.append(audio=b64(wire_pcm(LOBSTER) + pcm16(silence(1500))))
        events = await collect_transcripts(conn, beta=True)
    updated = next(e for e in events if e["type"] == "transcription_session.updated")
    assert updated["session"]["input_audio_transcription"]["prompt"] == "Crayfish."
    (transcript,) = check_items(events)
    assert "lobster" in words(transcript)


async def test_a_manual_commit_is_transcribed(server: ServerProcess) -> None:
    async with client_for(server).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn.session.update(
            session={  # type: ignore[typeddict-item]
                "type": "realtime",
                "audio": {"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}},
            }
        )
        await conn.input_audio_buffer.append(audio=b64(wire_pcm(STILLNESS)))
        await conn.input_audio_buffer.commit()
        events = await collect_transcripts(conn)
    assert "input_audio_buffer.speech_started" not in [e["type"] for e in events]
    (transcript,) = check_items(events)
    assert {"stillness", "creepy"} <= words(transcript)


async def test_transcription_null_sends_no_transcription_events(server: ServerProcess) -> None:
    async with client_for(server).realtime.connect(model="gpt-realtime") as conn:
        await conn.recv()
        await conn.session.update(
            session={"type": "realtime", "audio": {"input": {"transcription": None}}}  # type: ignore[typeddict-item]
        )
        await conn.input_audio_buffer.append(audio=b64(wire_pcm(LOBSTER) + pcm16(silence(1500))))
        events = await quiet(conn, 4.0)
    kinds = [e["type"] for e in events]
    assert "input_audio_buffer.committed" in kinds
    assert not [k for k in kinds if "transcription" in k]


async def test_a_failing_model_fails_each_item_and_the_session_goes_on(tmp_path: Path) -> None:
    broken = start_server(tmp_path, "--transcription-model", str(tmp_path))  # a folder with no model
    try:
        async with client_for(broken).realtime.connect(model="gpt-realtime") as conn:
            await conn.recv()
            await conn.session.update(
                session={"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}  # type: ignore[typeddict-item]
            )
            audio = wire_pcm(LOBSTER) + pcm16(silence(1500))
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
                session={"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}  # type: ignore[typeddict-item]
            )
            events = await quiet(conn)
        (error,) = [e for e in events if e["type"] == "error"]
        assert error["error"]["code"] == "feature_unavailable"
        assert "--transcription-workers 0" in error["error"]["message"]
    finally:
        off.stop()
