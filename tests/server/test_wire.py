"""What the SDK never sends, over a raw WebSocket: binary frames, oversized and broken messages,
a client that stops reading, a client that vanishes mid-turn."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.audio._data import SPEECH
from tests.sdk import validate_ga
from tests.server._client import b64, speech_pcm
from tests.server.conftest import ServerProcess, start_server
from tests.synth import pcm16, silence


async def next_event(ws: ClientConnection, kind: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        raw = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        validate_ga(raw)
        event: dict[str, Any] = json.loads(raw)
        if event["type"] == kind:
            return event


async def wait_for_metric(server: ServerProcess, name: str, value: float, timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    while (current := server.metric(name)) != value and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return current


async def test_binary_and_malformed_frames_get_errors_and_the_session_goes_on(
    shared_server: ServerProcess,
) -> None:
    async with connect(shared_server.ws_url, max_size=None) as ws:
        await next_event(ws, "session.created")
        await ws.send(b"\x00\x01binary")
        assert (await next_event(ws, "error"))["error"]["code"] == "invalid_event"
        await ws.send("{not json")
        assert (await next_event(ws, "error"))["error"]["code"] == "invalid_json"
        await ws.send(
            json.dumps({"type": "input_audio_buffer.append", "audio": b64(b"\x01\x02"), "event_id": "tiny"})
        )
        await ws.send(json.dumps({"type": "input_audio_buffer.commit", "event_id": "c"}))
        error = await next_event(ws, "error")  # one sample is far below 100 ms: the commit fails
        assert (error["error"]["code"], error["error"]["event_id"]) == (
            "input_audio_buffer_commit_empty",
            "c",
        )
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": b64(speech_pcm(SPEECH))}))
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": b64(pcm16(silence(1000)))}))
        assert (await next_event(ws, "input_audio_buffer.committed"))["item_id"].startswith("item_")


async def test_message_over_the_size_limit_gets_an_error(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--max-message-bytes", "100000")
    try:
        async with connect(server.ws_url, max_size=None) as ws:
            await next_event(ws, "session.created")
            huge = json.dumps(
                {"type": "input_audio_buffer.append", "audio": "A" * 200_000, "event_id": "big"}
            )
            await ws.send(huge)
            error = await next_event(ws, "error")
            assert error["error"]["code"] == "message_too_large"
            await ws.send(json.dumps({"type": "input_audio_buffer.commit", "event_id": "after"}))
            assert (await next_event(ws, "error"))["error"]["event_id"] == "after"  # still served
    finally:
        server.stop()


async def one_turn(ws: ClientConnection) -> None:
    """A turn, start to end: the session is being served."""
    await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": b64(speech_pcm(SPEECH))}))
    await next_event(ws, "input_audio_buffer.speech_started", timeout=30)
    await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": b64(pcm16(silence(700)))}))
    await next_event(ws, "input_audio_buffer.speech_stopped", timeout=30)


async def test_a_client_that_stops_reading_is_closed_alone(tmp_path: Path) -> None:
    """How much a stalled neighbour delays the others is measured by bench/bench_stalled_client.py."""
    server = start_server(tmp_path, "--send-queue-events", "32", "--send-timeout", "1")
    try:
        async with connect(server.ws_url, max_size=None) as healthy:
            await next_event(healthy, "session.created")
            # the stalled client: asks for a large item (within the 2 MiB kept for retrieve) again
            # and again and never reads
            stalled = await connect(server.ws_url, max_size=None, max_queue=1)
            await next_event(stalled, "session.created")
            item = {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio", "audio": b64(b"\x00" * 1_500_000)}],
                "id": "item_big",
            }
            await stalled.send(json.dumps({"type": "conversation.item.create", "item": item}))
            for _ in range(64):
                await stalled.send(json.dumps({"type": "conversation.item.retrieve", "item_id": "item_big"}))
            await one_turn(healthy)
            closed = await wait_for_metric(server, "openapiopenai_active_sessions", 1.0, timeout=30)
            assert closed == 1.0, "the stalled session was not closed"
            assert (
                server.metric(
                    'openapiopenai_sessions_closed_total{reason="client is not reading its events"}'
                )
                == 1
            )
            await one_turn(healthy)  # the healthy session outlives its neighbour's closing
            with pytest.raises(ConnectionClosed):
                for _ in range(1000):
                    await asyncio.wait_for(stalled.recv(), 30)
            await stalled.close()
    finally:
        server.stop()


async def test_abrupt_disconnect_mid_turn_leaves_no_session_behind(shared_server: ServerProcess) -> None:
    before = shared_server.metric("openapiopenai_active_sessions")
    ws = await connect(shared_server.ws_url, max_size=None)
    await next_event(ws, "session.created")
    await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": b64(speech_pcm(SPEECH))}))
    await next_event(ws, "input_audio_buffer.speech_started")
    assert shared_server.metric("openapiopenai_active_sessions") == before + 1
    ws.transport.abort()  # no close frame: the TCP connection just drops
    assert await wait_for_metric(shared_server, "openapiopenai_active_sessions", before, timeout=30) == before
