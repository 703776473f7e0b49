"""SIGTERM: stop taking sessions, finish the turns in flight, close 1001, exit on its own."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.audio._data import SPEECH
from tests.server._client import b64, speech_pcm
from tests.server.conftest import start_server
from tests.server.test_wire import next_event


async def test_sigterm_finishes_the_turn_in_flight_then_exits(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--shutdown-grace", "3")
    try:
        async with connect(server.ws_url, max_size=None) as ws:
            await next_event(ws, "session.created")
            # speech with no silence after it: the turn is open when the signal comes
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": b64(speech_pcm(SPEECH))}))
            started = await next_event(ws, "input_audio_buffer.speech_started")
            server.proc.send_signal(signal.SIGTERM)
            stopped = await next_event(ws, "input_audio_buffer.speech_stopped")
            committed = await next_event(ws, "input_audio_buffer.committed")
            await next_event(ws, "conversation.item.done")
            assert stopped["item_id"] == committed["item_id"] == started["item_id"]
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 30)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        # new sessions are refused while draining, or the server is already gone
        try:
            async with connect(server.ws_url, open_timeout=2):
                pytest.fail("a new session was accepted during shutdown")
        except (InvalidStatus, OSError, TimeoutError):
            pass
        # it exits by itself, successfully (how fast is bench material; 60 s only bounds a hang)
        assert server.proc.wait(timeout=60) == 0
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{server.http_url}/healthz", timeout=1)
    finally:
        server.stop()
