"""The official ``openai`` SDK against the real server, unchanged: ``client.realtime.connect``."""

from __future__ import annotations

import base64
import random
from typing import Any

import numpy as np
import pytest
from openai import AsyncOpenAI

from openapiopenai import Detector
from openapiopenai.audio.g711 import ulaw_encode
from tests.audio._data import SPEECH_8K, SPEECH_THEN_SILENCE, TWO_TURNS, fixture_audio
from tests.server._client import b64, collect, speech_pcm
from tests.server.conftest import ServerProcess, start_server
from tests.synth import pcm16, silence, tone

VAD_ON = {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad"}}}}
MANUAL = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}


def client_for(server: ServerProcess, api_key: str = "sk-test") -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{server.http_url}/v1", api_key=api_key)


def turn_shape(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What must match between the wire and the offline engine: ids differ, the rest may not."""
    shape: list[tuple[Any, ...]] = []
    for e in events:
        if e["type"] == "input_audio_buffer.speech_started":
            shape.append((e["type"], e["audio_start_ms"]))
        elif e["type"] == "input_audio_buffer.speech_stopped":
            shape.append((e["type"], e["audio_end_ms"]))
        elif e["type"] in (
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
        ):
            shape.append((e["type"],))
    return shape


async def test_streamed_speech_gives_the_offline_engines_events(shared_server: ServerProcess) -> None:
    pcm = speech_pcm(TWO_TURNS)
    offline = Detector()
    expected = [e.to_dict() for e in offline.feed(pcm)]
    turns = sum(1 for e in expected if e["type"] == "conversation.item.done")
    assert turns == 2
    rng = random.Random(7)
    async with client_for(shared_server).realtime.connect(model="gpt-realtime") as conn:
        created = await collect(conn, until="session.created")
        assert created[-1]["session"]["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 500
        await conn.session.update(session=VAD_ON)
        position = 0
        while position < len(pcm):
            size = rng.randrange(20, 101) * 48  # 20-100 ms appends
            await conn.input_audio_buffer.append(audio=b64(pcm[position : position + size]))
            position += size
        events = await collect(conn, until="conversation.item.done", count=turns)
    got = [e for e in events if e["type"] != "session.updated"]
    assert turn_shape(got) == turn_shape(expected)
    # one item id per turn, and items chain
    started = [e for e in got if e["type"] == "input_audio_buffer.speech_started"]
    committed = [e for e in got if e["type"] == "input_audio_buffer.committed"]
    assert [e["item_id"] for e in committed] == [e["item_id"] for e in started[: len(committed)]]
    assert [e["previous_item_id"] for e in committed] == [None, *[e["item_id"] for e in committed[:-1]]]


async def test_partial_session_update_keeps_the_other_fields(shared_server: ServerProcess) -> None:
    async with client_for(shared_server).realtime.connect(model="gpt-realtime") as conn:
        await collect(conn, until="session.created")
        vad = {"type": "server_vad", "silence_duration_ms": 800}
        await conn.session.update(session={"type": "realtime", "audio": {"input": {"turn_detection": vad}}})
        (updated,) = await collect(conn, until="session.updated")
        td = updated["session"]["audio"]["input"]["turn_detection"]
        assert (td["threshold"], td["prefix_padding_ms"], td["silence_duration_ms"]) == (0.5, 300, 800)
        vad = {"type": "server_vad", "threshold": 0.7}
        await conn.session.update(session={"type": "realtime", "audio": {"input": {"turn_detection": vad}}})
        (updated,) = await collect(conn, until="session.updated")
        td = updated["session"]["audio"]["input"]["turn_detection"]
        assert (td["threshold"], td["silence_duration_ms"]) == (0.7, 800)


async def test_manual_mode_commits_on_request_and_retrieve_returns_the_audio(
    shared_server: ServerProcess,
) -> None:
    audio = pcm16(tone(400), silence(200))
    async with client_for(shared_server).realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(session=MANUAL)
        await conn.input_audio_buffer.append(audio=b64(audio))
        await conn.input_audio_buffer.commit(event_id="c1")
        events = await collect(conn, until="conversation.item.done")
        kinds = [e["type"] for e in events]
        assert "input_audio_buffer.speech_started" not in kinds
        assert kinds[-3:] == [
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
        ]
        item_id = events[-1]["item"]["id"]
        await conn.conversation.item.retrieve(item_id=item_id)
        (retrieved,) = await collect(conn, until="conversation.item.retrieved")
        assert base64.b64decode(retrieved["item"]["content"][0]["audio"]) == audio


async def test_commit_of_too_little_audio_is_an_error_and_the_session_goes_on(
    shared_server: ServerProcess,
) -> None:
    async with client_for(shared_server).realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(session=MANUAL)
        await conn.input_audio_buffer.append(audio=b64(pcm16(tone(50))))
        await conn.input_audio_buffer.commit(event_id="too_early")
        events = await collect(conn, until="error")
        assert events[-1]["error"]["code"] == "input_audio_buffer_commit_empty"
        assert events[-1]["error"]["event_id"] == "too_early"
        await conn.input_audio_buffer.append(audio=b64(pcm16(tone(100))))
        await conn.input_audio_buffer.commit()
        events = await collect(conn, until="input_audio_buffer.committed")
        assert events[-1]["type"] == "input_audio_buffer.committed"


async def test_clear_drops_the_buffer(shared_server: ServerProcess) -> None:
    async with client_for(shared_server).realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(session=MANUAL)
        await conn.input_audio_buffer.append(audio=b64(pcm16(tone(300))))
        await conn.input_audio_buffer.clear()
        await conn.input_audio_buffer.commit()
        events = await collect(conn, until="error")
        kinds = [e["type"] for e in events]
        assert "input_audio_buffer.cleared" in kinds
        assert events[-1]["error"]["code"] == "input_audio_buffer_commit_empty"


async def test_bad_client_events_get_errors_with_their_event_id(shared_server: ServerProcess) -> None:
    async with client_for(shared_server).realtime.connect(model="gpt-realtime") as conn:
        await collect(conn, until="session.created")
        await conn.send({"type": "input_audio_buffer.append", "audio": "***", "event_id": "bad_b64"})  # type: ignore[arg-type]
        await conn.send({"type": "no.such.event", "event_id": "bad_type"})  # type: ignore[arg-type]
        await conn.send({"type": "response.create", "event_id": "no_model"})
        semantic = {
            "type": "realtime",
            "audio": {"input": {"turn_detection": {"type": "semantic_vad", "silence_duration_ms": 500}}},
        }
        await conn.send({"type": "session.update", "session": semantic, "event_id": "semantic"})  # type: ignore[arg-type]
        errors = [e["error"] for e in await collect(conn, until="error", count=4) if e["type"] == "error"]
        by_id = {e["event_id"]: e for e in errors}
        assert by_id["bad_b64"]["param"] == "audio"
        assert by_id["bad_type"]["code"] == "invalid_value"
        assert by_id["no_model"]["code"] == "unsupported_feature"
        assert by_id["semantic"]["code"] == "unknown_parameter"  # semantic_vad has no silence window
        # the session is still alive and working
        await conn.input_audio_buffer.append(audio=b64(speech_pcm(SPEECH_THEN_SILENCE)))
        events = await collect(conn, until="conversation.item.done")
        assert events[-1]["type"] == "conversation.item.done"


async def test_beta_dialect_with_the_beta_client(shared_server: ServerProcess) -> None:
    client = AsyncOpenAI(
        base_url=f"{shared_server.http_url}/v1",
        api_key="x",
        websocket_base_url=f"ws://127.0.0.1:{shared_server.port}/v1",
    )
    async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
        first = await collect(conn, until="conversation.created", beta=True)
        assert [e["type"] for e in first] == ["session.created", "conversation.created"]
        assert first[0]["session"]["input_audio_format"] == "pcm16"
        await conn.session.update(
            session={"input_audio_format": "g711_ulaw", "turn_detection": {"type": "server_vad"}}
        )
        (updated,) = await collect(conn, until="session.updated", beta=True)
        assert updated["session"]["input_audio_format"] == "g711_ulaw"
        speech, rate = fixture_audio(SPEECH_8K)
        ulaw = ulaw_encode(np.concatenate([speech, silence(1000, rate)]))
        await conn.input_audio_buffer.append(audio=b64(ulaw))
        events = await collect(conn, until="conversation.item.created", beta=True)
        assert [e["type"] for e in events][-4:] == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.created",
        ]


async def test_api_key_is_required_when_configured(tmp_path: Any) -> None:
    server = start_server(tmp_path, "--api-key", "s3cret")
    try:
        with pytest.raises(Exception) as refused:
            async with client_for(server, api_key="wrong").realtime.connect(model="gpt-realtime") as conn:
                await conn.recv()
        assert "401" in str(refused.value)
        async with client_for(server, api_key="s3cret").realtime.connect(model="gpt-realtime") as conn:
            assert (await collect(conn, until="session.created"))[-1]["type"] == "session.created"
        import websockets

        async with websockets.connect(
            server.ws_url,
            subprotocols=["realtime", "openai-insecure-api-key.s3cret"],  # type: ignore[list-item]
        ) as ws:
            assert ws.subprotocol == "realtime"
            assert '"session.created"' in str(await ws.recv())
        ready = f"serving ws://127.0.0.1:{server.port}/v1/realtime (backend silero, auth on, 1 worker)"
        assert f"{ready}; live page: http://127.0.0.1:{server.port}/\n" in server.output()
    finally:
        server.stop()


async def test_sessions_over_the_limit_are_refused(tmp_path: Any) -> None:
    server = start_server(tmp_path, "--max-sessions", "1")
    try:
        async with client_for(server).realtime.connect(model="gpt-realtime") as first:
            await collect(first, until="session.created")
            with pytest.raises(Exception) as refused:
                async with client_for(server).realtime.connect(model="gpt-realtime") as second:
                    await second.recv()
            assert "503" in str(refused.value)
    finally:
        server.stop()


def test_healthz_and_metrics(shared_server: ServerProcess) -> None:
    import httpx

    health = httpx.get(f"{shared_server.http_url}/healthz").json()
    assert health["status"] == "ok" and health["backend"] == "silero"
    text = shared_server.metrics()
    for name in (
        "openapiopenai_active_sessions",
        "openapiopenai_frames_scored_total",
        "openapiopenai_batch_size_bucket",
        "openapiopenai_event_latency_seconds",
    ):
        assert name in text


async def test_transcription_intent_opens_a_transcription_session(shared_server: ServerProcess) -> None:
    client = client_for(shared_server)
    async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
        (created,) = await collect(conn, until="session.created")
        assert created["session"]["type"] == "transcription"
        await conn.input_audio_buffer.append(audio=b64(speech_pcm(SPEECH_THEN_SILENCE)))
        events = await collect(conn, until="conversation.item.done")
        kinds = [e["type"] for e in events]
        assert "input_audio_buffer.speech_started" in kinds and "input_audio_buffer.committed" in kinds


async def test_model_query_is_echoed_in_the_session(shared_server: ServerProcess) -> None:
    async with client_for(shared_server).realtime.connect(model="gpt-realtime-mini") as conn:
        (created,) = await collect(conn, until="session.created")
        assert created["session"]["model"] == "gpt-realtime-mini"
