"""``serve --workers N``: N processes on one port, supervised, stopped gracefully together."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.server._client import b64, speech_pcm
from tests.server.conftest import ServerProcess, free_port, start_server
from tests.server.test_wire import next_event

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="SO_REUSEPORT balancing and /proc are Linux's"
)


def workers_of(server: ServerProcess) -> set[int]:
    """The worker pids that answer ``/healthz`` over 40 fresh connections."""
    return {httpx.get(f"{server.http_url}/healthz", timeout=5).json()["worker"] for _ in range(40)}


def children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


async def one_turn(url: str) -> None:
    async with connect(url, max_size=None) as ws:
        await next_event(ws, "session.created")
        audio = speech_pcm("testset-audio-01.wav")
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": b64(audio)}))
        await next_event(ws, "input_audio_buffer.speech_started")
        await next_event(ws, "input_audio_buffer.speech_stopped")


def test_workers_share_the_port_serve_sessions_replace_a_dead_worker_and_stop_together(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    server = start_server(tmp_path, "--workers", "2")
    try:
        first = workers_of(server)
        assert len(first) == 2 and first <= children(server.proc.pid)
        asyncio.run(one_turn(server.ws_url))

        # a worker that dies (past its start-up) is replaced; the port keeps answering
        time.sleep(max(0.0, started + 6 - time.monotonic()))
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        now = first
        while time.monotonic() < deadline:
            now = workers_of(server)
            if len(now) == 2 and victim not in now:
                break
            time.sleep(0.5)
        assert len(now) == 2 and victim not in now
        asyncio.run(one_turn(server.ws_url))

        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=20) == 0
        assert not [pid for pid in now if Path(f"/proc/{pid}").exists()], "a worker outlived the server"
        assert "starting another" in server.output()
    finally:
        server.stop()


def test_a_worker_that_cannot_start_stops_the_server_with_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    argv = [sys.executable, "-m", "openapiopenai", "serve", "--workers", "2", "--port", str(free_port()),
            "--ssl-certfile", str(missing), "--ssl-keyfile", str(missing)]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, timeout=60)
    assert result.returncode == 1
    assert b"at startup; stopping" in result.stderr


def test_workers_do_not_outlive_a_killed_parent(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--workers", "2")
    try:
        workers = children(server.proc.pid)
        assert workers
        server.proc.kill()  # SIGKILL: the parent cannot pass anything on
        server.proc.wait(timeout=10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and [pid for pid in workers if _alive(pid)]:
            time.sleep(0.2)
        assert not [pid for pid in workers if _alive(pid)], "orphaned workers kept running"
    finally:
        server.stop()


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "zombie" not in status.lower()
