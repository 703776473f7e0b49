"""Every script in examples/ runs against a real server: the SDK quickstart as a user runs it,
the Twilio bridge with a fake Twilio client speaking Media Streams JSON."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import soxr
from websockets.asyncio.client import connect

from openapiopenai import PCMU, Detector
from openapiopenai.audio import g711
from tests.server.conftest import ServerProcess, free_port, start_server

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HELLO = EXAMPLES / "hello.wav"
#: words of the two sentences spoken in hello.wav
HELLO_WORDS = ("hello", "weather", "tomorrow")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = start_server(tmp_path_factory.mktemp("examples"))
    yield running
    running.stop()


def run_example(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, timeout=90, cwd=EXAMPLES.parent
    )


def test_quickstart_prints_both_turns_of_the_bundled_clip(server: ServerProcess) -> None:
    done = run_example("examples/quickstart.py", "--url", f"{server.http_url}/v1")
    assert done.returncode == 0, done.stderr
    kinds = [line.split()[0] for line in done.stdout.splitlines()]
    assert (
        kinds
        == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
        ]
        * 2
    )


def test_quickstart_finishes_a_clip_that_ends_mid_sentence(server: ServerProcess, tmp_path: Path) -> None:
    with wave.open(str(HELLO)) as clip:
        params = clip.getparams()
        cut = clip.readframes(int(1.5 * clip.getframerate()))  # inside the first sentence
    short = tmp_path / "cut.wav"
    with wave.open(str(short), "wb") as out:
        out.setparams(params)
        out.writeframes(cut)
    done = run_example("examples/quickstart.py", "--url", f"{server.http_url}/v1", "--wav", str(short))
    assert done.returncode == 0, done.stderr
    kinds = [line.split()[0] for line in done.stdout.splitlines()]
    assert kinds[0] == "input_audio_buffer.speech_started"
    assert kinds[-1] == "input_audio_buffer.committed"


def test_quickstart_without_a_server_says_so_in_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    done = run_example("examples/quickstart.py", "--url", url)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"quickstart: no server at {url}: start `openapiopenai serve` (connection refused)"
    ]
    assert done.stdout == ""


@contextlib.contextmanager
def tcp_listener(reply: bytes | None) -> Iterator[str]:
    """A TCP server on a free port that answers every request with ``reply`` (None: never
    answers); yields its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(conn)
            if reply is not None:
                conn.recv(65536)
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def test_quickstart_time_limit_is_one_line() -> None:
    with tcp_listener(None) as url:  # accepts, never answers the upgrade
        started = time.monotonic()
        done = run_example("examples/quickstart.py", "--url", url, "--timeout", "1")
        elapsed = time.monotonic() - started
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"quickstart: timed out after 1 s waiting for {url} (is it an openapiopenai server?)"
    ]
    assert elapsed >= 1.0


def test_quickstart_with_a_wrong_key_says_which_variable_to_set() -> None:
    reply = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    with tcp_listener(reply) as url:
        done = run_example("examples/quickstart.py", "--url", url)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"quickstart: {url} refused the connection with HTTP 401: set OPENAPIOPENAI_API_KEY to the "
        "server's key"
    ]


def test_transcribe_prints_deltas_and_the_transcript_of_each_turn(server: ServerProcess) -> None:
    pytest.importorskip("faster_whisper")
    done = run_example("examples/transcribe.py", "--url", f"{server.http_url}/v1", "--timeout", "80")
    assert done.returncode == 0, done.stderr
    finals = [line for line in done.stdout.splitlines() if line.startswith("[item_")]
    assert len(finals) == 2, done.stdout  # one completed transcript per sentence of hello.wav
    text = done.stdout.lower()
    for word in HELLO_WORDS:
        assert word in text, done.stdout


def test_transcribe_without_a_server_says_so_in_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    done = run_example("examples/transcribe.py", "--url", url)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"transcribe: no server at {url}: start `openapiopenai serve` (connection refused)"
    ]


@pytest.mark.parametrize("script", ["quickstart.py", "transcribe.py", "twilio_bridge.py"])
def test_example_help_runs(script: str) -> None:
    done = run_example(f"examples/{script}", "--help")
    assert done.returncode == 0 and "usage:" in done.stdout


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def hello_ulaw() -> bytes:
    with wave.open(str(HELLO)) as clip:
        pcm = np.frombuffer(clip.readframes(clip.getnframes()), "<i2").astype(np.float32) / 32768
    return bytes(g711.ulaw_encode(soxr.resample(pcm, 24_000, 8_000).astype(np.float32)))


def twilio_messages(audio: bytes, call_sid: str, stream_sid: str) -> list[dict[str, Any]]:
    """What Twilio sends for a call: connected, start, 20 ms media frames, stop."""
    messages: list[dict[str, Any]] = [
        {"event": "connected", "protocol": "Call", "version": "1.0.0"},
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": stream_sid,
            "start": {
                "accountSid": "AC00000000000000000000000000000000",
                "callSid": call_sid,
                "streamSid": stream_sid,
                "tracks": ["inbound"],
                "customParameters": {},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        },
    ]
    for n, i in enumerate(range(0, len(audio), 160)):
        media = {"track": "inbound", "chunk": str(n + 1), "timestamp": str(n * 20)}
        media["payload"] = base64.b64encode(audio[i : i + 160]).decode()
        messages.append(
            {"event": "media", "sequenceNumber": str(n + 2), "streamSid": stream_sid, "media": media}
        )
    stop = {"accountSid": "AC00000000000000000000000000000000", "callSid": call_sid}
    messages.append(
        {"event": "stop", "sequenceNumber": str(len(messages)), "streamSid": stream_sid, "stop": stop}
    )
    return messages


async def test_twilio_bridge_reports_the_callers_turns_and_clears_playback(
    server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge = load_example("twilio_bridge")
    port = free_port()
    running = asyncio.create_task(bridge.main("127.0.0.1", port, server.ws_url, None))
    try:
        audio = hello_ulaw()
        for _ in range(600):  # until the bridge listens (a generous deadline: 60 s)
            try:
                twilio = await connect(f"ws://127.0.0.1:{port}/media")
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            pytest.fail("the bridge never listened")
        received: list[dict[str, Any]] = []
        async with twilio:
            for message in twilio_messages(audio, "CA1234", "MZ5678"):
                await twilio.send(json.dumps(message))
            async with asyncio.timeout(30):
                async for raw in twilio:  # until the bridge hangs up after the call
                    received.append(json.loads(raw))
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running  # the listener closes its socket
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    call_lines = [line for line in lines if line[0] == "CA1234"]
    assert call_lines[0][1:] == ["call", "started", "audio/x-mulaw", "8000"]
    assert call_lines[-1][1:] == ["call", "ended"]

    # the same bytes through the offline engine, as audio/pcmu, plus the bridge's second of silence
    detector = Detector(input_format=PCMU)
    expected = [
        (getattr(e, "type", ""), f"{getattr(e, 'audio_start_ms', getattr(e, 'audio_end_ms', None))}ms")
        for e in detector.feed(audio + b"\xff" * 8000) + detector.flush()
        if getattr(e, "type", "")
        in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped")
    ]
    seen = [(line[1], line[2]) for line in call_lines if line[1].startswith("input_audio_buffer.speech")]
    assert len(expected) == 4
    assert seen == expected
    assert sum(line[1] == "input_audio_buffer.committed" for line in call_lines) == 2
    # barge-in: one clear per turn, for this stream
    assert received == [{"event": "clear", "streamSid": "MZ5678"}] * 2
