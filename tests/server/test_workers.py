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

from tests.audio._data import TWO_TURNS
from tests.server._client import b64, speech_pcm
from tests.server.conftest import ServerProcess, free_port, start_server
from tests.server.test_wire import next_event

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="SO_REUSEPORT balancing and /proc are Linux's"
)


def workers_of(server: ServerProcess) -> set[int]:
    """The worker pids that answer ``/healthz`` over 40 fresh connections."""
    return {httpx.get(f"{server.http_url}/healthz", timeout=30).json()["worker"] for _ in range(40)}


def children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


async def one_turn(url: str) -> None:
    async with connect(url, max_size=None) as ws:
        await next_event(ws, "session.created")
        audio = speech_pcm(TWO_TURNS)
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": b64(audio)}))
        await next_event(ws, "input_audio_buffer.speech_started")
        await next_event(ws, "input_audio_buffer.speech_stopped")


def test_workers_share_the_port_serve_sessions_replace_a_dead_worker_and_stop_together(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path, "--workers", "2")
    try:
        first = workers_of(server)
        assert len(first) == 2 and first <= children(server.proc.pid)
        asyncio.run(one_turn(server.ws_url))

        # a worker that dies after it was ready (it answered) is replaced; the port keeps answering
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        now = first
        while time.monotonic() < deadline:
            try:
                now = workers_of(server)
            except httpx.TransportError:  # a connection queued on the killed worker's socket is reset
                time.sleep(0.5)
                continue
            if len(now) == 2 and victim not in now:
                break
            time.sleep(0.5)
        assert len(now) == 2 and victim not in now
        asyncio.run(one_turn(server.ws_url))

        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=60) == 0
        assert not [pid for pid in now if Path(f"/proc/{pid}").exists()], "a worker outlived the server"
        assert "starting another" in server.output()
        ready = f"serving ws://127.0.0.1:{server.port}/v1/realtime (backend silero, auth off, 2 workers)"
        assert server.output().count(ready) == 1  # once, when all were first ready
    finally:
        server.stop()


ROOT = Path(__file__).resolve().parents[2]
STARTS_ENV = "OPENAPIOPENAI_TEST_WORKER_STARTS"


def fail_late(*args: object) -> None:
    """A worker that never becomes ready and dies later than any start-up clock would wait
    (a loaded machine, a slow model load): it writes one line per start, to be counted."""
    with open(os.environ[STARTS_ENV], "a") as starts:
        starts.write(f"{os.getpid()}\n")
    time.sleep(6)
    sys.exit(3)


def test_a_worker_that_dies_before_it_is_ready_stops_the_server_however_late(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    code = (
        "import sys\n"
        "import openapiopenai.server.cli as cli\n"
        "from openapiopenai.config import ServerSettings\n"
        "from tests.server.test_workers import fail_late\n"
        "cli._worker = fail_late\n"
        f"sys.exit(cli.Supervisor(ServerSettings(workers=2, port={free_port()})).run())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, STARTS_ENV: str(starts)},
        capture_output=True,
        timeout=90,
    )
    assert result.returncode == 1, result.stderr
    assert len(starts.read_text().split()) == 2, "a worker that never became ready was started again"
    assert b"before it was ready; stopping" in result.stderr


@pytest.mark.parametrize("flag", ["--ssl-certfile", "--ssl-keyfile"])
def test_a_missing_certificate_file_is_one_line_naming_it(tmp_path: Path, flag: str) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("not checked here")
    key.write_text("not checked here")
    missing = tmp_path / "missing.pem"
    files = {"--ssl-certfile": cert, "--ssl-keyfile": key, flag: missing}
    argv = [sys.executable, "-m", "openapiopenai", "serve", "--workers", "2", "--port", str(free_port())]
    for name, path in files.items():
        argv += [name, str(path)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"openapiopenai: error: {flag}: no such file: {missing}"]


def test_a_worker_that_cannot_load_its_certificate_stops_the_server(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("not a certificate")
    key.write_text("not a key")
    argv = [sys.executable, "-m", "openapiopenai", "serve", "--workers", "2", "--port", str(free_port()),
            "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, timeout=90)
    assert result.returncode == 1
    assert b"before it was ready; stopping" in result.stderr


def test_workers_do_not_outlive_a_killed_parent(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--workers", "2")
    try:
        workers = children(server.proc.pid)
        assert workers
        server.proc.kill()  # SIGKILL: the parent cannot pass anything on
        server.proc.wait(timeout=30)
        deadline = time.monotonic() + 60
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
