"""How much a client that stops reading slows the other sessions (moved here from a test).

Starts ``openapiopenai serve`` with a small send queue, measures a healthy session's turn
latency (seconds from sending the silence that ends a turn to its ``speech_stopped``) alone,
then while a second client floods itself with large ``conversation.item.retrieve`` answers
and never reads, until the server closes it. Prints the medians and their ratio (the
reference is measured in the same run; on a loaded machine only the ratio means anything).
``tests/server/test_wire.py`` checks the behaviour (the stalled session is closed alone).

    python bench/bench_stalled_client.py [--turns 5]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT / "tests" / "fixtures" / "speech_24k.wav"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def speech_pcm() -> bytes:
    samples, _ = sf.read(SPEECH, dtype="float32")
    return np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2").tobytes()


async def next_event(ws: ClientConnection, kind: str) -> None:
    while json.loads(await asyncio.wait_for(ws.recv(), 60))["type"] != kind:
        pass


async def turn_latency(ws: ClientConnection, speech: bytes) -> float:
    await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": b64(speech)}))
    await next_event(ws, "input_audio_buffer.speech_started")
    sent = time.perf_counter()
    silence = bytes(2 * 24_000 * 700 // 1000)
    await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": b64(silence)}))
    await next_event(ws, "input_audio_buffer.speech_stopped")
    return time.perf_counter() - sent


async def measure(url: str, turns: int) -> tuple[list[float], list[float]]:
    speech = speech_pcm()
    async with connect(url, max_size=None) as healthy:
        await next_event(healthy, "session.created")
        alone = [await turn_latency(healthy, speech) for _ in range(turns)]
        stalled = await connect(url, max_size=None, max_queue=1)
        await next_event(stalled, "session.created")
        item = {"type": "message", "role": "user", "id": "item_big",
                "content": [{"type": "input_audio", "audio": b64(bytes(1_500_000))}]}  # fmt: skip
        await stalled.send(json.dumps({"type": "conversation.item.create", "item": item}))
        for _ in range(64):
            await stalled.send(json.dumps({"type": "conversation.item.retrieve", "item_id": "item_big"}))
        beside = [await turn_latency(healthy, speech) for _ in range(turns)]
        await stalled.close()
    return alone, beside


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=5)
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [sys.executable, "-m", "openapiopenai", "serve", "--port", str(port), "--log-level", "warning",
            "--send-queue-events", "32", "--send-timeout", "1"]  # fmt: skip
    server = subprocess.Popen(argv)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        alone, beside = asyncio.run(measure(f"ws://127.0.0.1:{port}/v1/realtime", args.turns))
    finally:
        server.terminate()
        server.wait(timeout=30)
    a, b = statistics.median(alone), statistics.median(beside)
    print(f"turn latency, median of {args.turns}: alone {a * 1000:.0f} ms, beside a stalled client "
          f"{b * 1000:.0f} ms, ratio {b / a:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
