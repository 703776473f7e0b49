"""semantic_vad capacity, measured on the server: N sessions streaming real speech with pauses.

    python bench/bench_semantic_capacity.py [--sessions 4,8,16,24] [--seconds 60] [--chunk-ms 20]

Starts ``openapiopenai serve`` (defaults: one end-of-turn worker thread, queue of 16) and runs N
``semantic_vad`` (eagerness auto) sessions at once, each streaming at real-time pace, in
``--chunk-ms`` appends, a loop of the turn-taking cases (``evaluation/turn_taking.py``, seed 11:
LibriSpeech sentences with 0.5-1.5 s pauses inserted mid-sentence, each followed by 5 s of
background), every session starting at another sentence. For each N it reports, from ``/metrics``
deltas, the end-of-turn questions per second, the fallback rate (questions answered ``None``:
queue full or waited > 0.5 s, so the turn fell back to the 500 ms silence window), and the
*answer wait*: for each turn end the model decided (offline: a "complete" answer; stops at the
maximum wait do not wait on answers), the server's ``speech_stopped.audio_end_ms`` minus the
offline driver's on the same audio and chunking, whose questions are answered at once. Streams
arrive in real time, so that difference is the audio that arrived while the question waited and
ran: queue wait + decision, in ms, at the resolution of a 32 ms frame. Each offline stop is paired
with the next server stop within 2 s; offline stops the server made differently (a late answer
moved the re-ask schedule, a fallback ended the pause on silence) are counted as unpaired.
The clients (``websockets``) run on the same 2 cores as the server and take CPU from it.
Prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt
import soxr
import websockets

from openapiopenai import Detector
from openapiopenai.audio.formats import PCM16_24K, encode
from openapiopenai.evaluation.turn_taking import build_cases
from openapiopenai.turns.config import SemanticVadConfig
from openapiopenai.turns.semantic import EAGERNESS_THRESHOLD
from openapiopenai.vad.smart_turn import SmartTurnModel

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("OPENAPIOPENAI_SHARED_DATA") or ROOT / ".." / "shared" / "data").resolve()
TAIL_S = 5.0
#: distinct stream offsets (each needs one offline run); session i plays offset i % OFFSETS
OFFSETS = 4
UPDATE = {
    "type": "session.update",
    "session": {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}},
}


def stream(offset: int, seconds: float) -> bytes:
    """The turn-taking cases from sentence ``offset`` on, 5 s tail each, looped, PCM16 24 kHz."""
    cases = build_cases(DATA / "librispeech-dev")
    cases = cases[offset * 7 % len(cases) :] + cases[: offset * 7 % len(cases)]
    parts: list[np.ndarray] = []
    total = 0
    while total < seconds * 16_000:
        for case in cases:
            clip = case.audio[: case.end + int(TAIL_S * 16_000)]
            parts.append(clip)
            total += len(clip)
    audio = np.asarray(soxr.resample(np.concatenate(parts), 16_000, 24_000), dtype=np.float32)
    return encode(PCM16_24K, audio[: int(seconds * 24_000)])


def chunks(pcm: bytes, chunk_ms: int) -> list[bytes]:
    step = 24 * chunk_ms * 2
    return [pcm[i : i + step] for i in range(0, len(pcm), step)]


class _Recorder:
    """Smart Turn, remembering whether its latest answer said "complete" (the offline driver asks
    synchronously, so a stop right after such an answer is the model's decision)."""

    def __init__(self) -> None:
        self.model = SmartTurnModel()
        self.complete = False

    def predict(self, audio: npt.NDArray[np.float32]) -> float:
        probability = self.model.predict(audio)
        self.complete = probability >= EAGERNESS_THRESHOLD["auto"]
        return probability


def offline_stops(pcm: bytes, chunk_ms: int) -> list[tuple[int, bool]]:
    """``(audio_end_ms, decided by the model)`` of every stop, questions answered at once."""
    recorder = _Recorder()
    detector = Detector(SemanticVadConfig(eagerness="auto"), end_of_turn=recorder)
    stops = []
    for chunk in chunks(pcm, chunk_ms):
        for event in detector.feed(chunk):
            fields = event.to_dict()
            if fields["type"] == "input_audio_buffer.speech_stopped":
                stops.append((int(fields["audio_end_ms"]), recorder.complete))
                recorder.complete = False
    return stops


async def session(url: str, pcm: bytes, chunk_ms: int, delay: float) -> list[int]:
    """Stream ``pcm`` in real time; the ``audio_end_ms`` of every ``speech_stopped``."""
    messages = [
        json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(c).decode()})
        for c in chunks(pcm, chunk_ms)
    ]
    stops: list[int] = []
    await asyncio.sleep(delay)
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps(UPDATE))

        async def receive() -> None:
            async for raw in ws:
                event = json.loads(raw)
                if event["type"] == "input_audio_buffer.speech_stopped":
                    stops.append(int(event["audio_end_ms"]))
                elif event["type"] == "error":
                    print("error:", event["error"], file=sys.stderr)

        reader = asyncio.create_task(receive())
        start = time.perf_counter()
        for i, message in enumerate(messages):
            await ws.send(message)
            wait = start + (i + 1) * chunk_ms / 1000 - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
        await asyncio.sleep(1.0)  # the last answers
        reader.cancel()
    return stops


def pair(wanted: list[int], got: list[int]) -> list[tuple[int, int]]:
    """Each offline stop with the first server stop at or after it (within 2 s), in order: the
    server's answers come later, never earlier; a stop the server made differently is left out."""
    pairs = []
    j = 0
    for w in wanted:
        while j < len(got) and got[j] < w:
            j += 1
        if j < len(got) and got[j] - w <= 2000:
            pairs.append((w, got[j]))
            j += 1
    return pairs


def metrics(url: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith("openapiopenai_turn_end_") and not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            totals[name] = totals.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return totals


def start_server() -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    log = open(Path(tempfile.gettempdir()) / f"bench-semantic-{port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "openapiopenai", "serve", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


async def run(
    n: int, streams: list[bytes], expected: list[list[tuple[int, bool]]], args: argparse.Namespace
) -> None:
    proc, port = start_server()
    url = f"http://127.0.0.1:{port}"
    ws_url = f"ws://127.0.0.1:{port}/v1/realtime"
    try:
        before = metrics(url)
        rng = np.random.default_rng(n)
        results = await asyncio.gather(
            *(
                session(
                    ws_url,
                    streams[i % OFFSETS],
                    args.chunk_ms,
                    rng.uniform(0, 2),
                )
                for i in range(n)
            )
        )
        after = metrics(url)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    decisions = delta.get("openapiopenai_turn_end_decisions_total", 0.0)
    fallbacks = delta.get("openapiopenai_turn_end_fallbacks_total", 0.0)
    questions = decisions + fallbacks
    waits: list[int] = []
    unpaired = 0
    for i, stops in enumerate(results):
        wanted = [s for s in expected[i % OFFSETS] if s[0] < (args.seconds - TAIL_S) * 1000]
        by_model = {end for end, model in wanted if model}
        paired = pair([end for end, _ in wanted], stops)
        waits += [g - w for w, g in paired if w in by_model]  # max-wait stops do not wait on answers
        unpaired += len(wanted) - len(paired)
    if args.dump:
        with args.dump.open("a") as fh:
            fh.write(
                json.dumps({"sessions": n, "stops": results, "expected": expected, "metrics": delta}) + "\n"
            )
    run_s = delta.get("openapiopenai_turn_end_seconds_sum", 0.0)

    def p(q: float) -> str:
        return f"{np.percentile(waits, q):.0f}" if waits else "-"

    print(
        f"| {n} | {questions / args.seconds:.1f} "
        f"| {fallbacks:.0f}/{questions:.0f} ({fallbacks / max(questions, 1):.1%}) "
        f"| {run_s / max(decisions, 1) * 1000:.0f} ms | {p(50)} ms | {p(90)} ms | {p(99)} ms "
        f"| {len(waits)} | {unpaired} |",
        flush=True,
    )


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run()'s finally stops the server
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", default="4,8,16,24")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--chunk-ms", type=int, default=20)
    parser.add_argument("--dump", type=Path, help="append each run's stops and metrics here (JSON lines)")
    args = parser.parse_args()
    streams = [stream(offset, args.seconds) for offset in range(OFFSETS)]
    expected = [offline_stops(pcm, args.chunk_ms) for pcm in streams]
    pauses = sum(len(e) for e in expected) / OFFSETS / args.seconds * 60
    print(f"{args.seconds:.0f} s per session, {args.chunk_ms} ms appends; {pauses:.1f} stops/min/session")
    print(
        "| sessions | questions/s | fallbacks | model run (mean) | answer wait p50 | p90 | p99 "
        "| stops paired | offline stops unpaired |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sessions.split(",")):
        asyncio.run(run(n, streams, expected, args))


if __name__ == "__main__":
    main()
