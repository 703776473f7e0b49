"""Load generator shared by ``bench_load.py`` and ``soak.py``: real-time Realtime clients.

Each client streams a loop of real speech (the dev recordings, with pauses between them) at
real-time pace in fixed appends over a raw WebSocket, like a telephony bridge would, and
records when each append was sent. For every ``speech_started``/``speech_stopped`` it gets, the
latency is measured from the send time of the append that completed the deciding model frame
(frames lie on a fixed 32 ms grid of the session's audio; a stop is decided at the first frame
end at or after ``audio_end_ms``, a start at the frame where the offline engine, fed the same
appends, confirmed it: ``start_decisions``) *plus the resampler's
look-ahead*: 24 -> 16 kHz conversion (soxr HQ) needs about 21 ms of audio past a frame's end,
plus up to one 10 ms block, before that frame exists, so the deciding audio reaches
``LOOKAHEAD_MS`` past the frame end. Without this, an append boundary falling inside the
look-ahead would be charged to the server as a whole append period of waiting. Expected turns come
from the offline engine run on the same audio, so missed turns are counted exactly.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import multiprocessing as mp
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from openapiopenai.server.process_scorer import PROCESS_NAME as SCORER_PROCESS_NAME

ROOT = Path(__file__).resolve().parents[1]
#: the shared recordings (as the tests find them: ``$OPENAPIOPENAI_SHARED_DATA`` first)
DATA = Path(os.environ.get("OPENAPIOPENAI_SHARED_DATA") or ROOT / ".." / "shared" / "data").resolve()
RATE = 24_000
FRAME_MS = 32
PREFIX_MS = 300
#: audio the pipeline needs past a frame's end before it can score it (see above)
LOOKAHEAD_MS = 32


def loop_audio(seconds: float = 30.0, folder: Path | None = None) -> bytes:
    """Speech files with 1.2 s pauses, as PCM16 24 kHz, about ``seconds`` long (shorter when
    the files run out first). ``folder``: the ``*.wav`` files to string together, in name order
    (default: the shared dev recordings, ``ten-vad-testset``)."""
    folder = folder or DATA / "ten-vad-testset"
    files = sorted(folder.glob("*.wav"))
    if not files:
        raise SystemExit(f"no recordings found under {folder}")
    parts: list[np.ndarray] = []
    total = 0.0
    for path in files:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
        parts.append(soxr.resample(samples[:, 0], rate, RATE))
        parts.append(np.zeros(int(1.2 * RATE), np.float32))
        total += len(parts[-2]) / RATE + 1.2
        if total >= seconds:
            break
    audio = np.concatenate(parts)
    return np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2").tobytes()


def expected_stops(audio: bytes) -> list[int]:
    """``audio_end_ms`` of every turn the offline engine finds in ``audio``."""
    sys.path.insert(0, str(ROOT / "src"))
    from openapiopenai import Detector

    detector = Detector()
    return [e.audio_end_ms for e in detector.feed(audio) if e.type == "input_audio_buffer.speech_stopped"]  # type: ignore[attr-defined]


def start_decisions(audio: bytes, chunk_ms: int, appends: int) -> dict[int, int]:
    """``audio_start_ms`` -> the wire ms that decided it, for every ``speech_started`` a client
    sending ``appends`` appends of ``audio`` (looped, as ``run_client`` does) gets.

    The decision point of a start cannot be read off the wire: the onset is confirmed some frames
    after ``audio_start_ms + prefix_padding_ms`` (more when speech hesitates), and at the start of
    a stream or right after a commit ``audio_start_ms`` is clamped to the buffer's start. The
    offline engine, fed the same appends, says where each start was decided (events do not depend
    on chunking or scheduling, so the server decides at the same audio)."""
    sys.path.insert(0, str(ROOT / "src"))
    from openapiopenai import Detector

    chunk = chunk_ms * RATE * 2 // 1000
    pieces = [audio[i : i + chunk] for i in range(0, len(audio) - chunk + 1, chunk)]
    detector = Detector()
    decided: dict[int, int] = {}
    for k in range(appends):
        for event in detector.feed(pieces[k % len(pieces)]):
            if event.type == "input_audio_buffer.speech_started":
                point = detector.session.decision_point_ms(str(event.event_id))  # type: ignore[attr-defined]
                if point is not None:
                    decided[event.audio_start_ms] = point  # type: ignore[attr-defined]
    return decided


def append_messages(audio: bytes, chunk_ms: int) -> list[str]:
    """``audio`` (PCM16 24 kHz) as ``input_audio_buffer.append`` messages of ``chunk_ms`` each."""
    chunk = chunk_ms * RATE * 2 // 1000
    return [
        json.dumps(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio[i : i + chunk]).decode()}
        )
        for i in range(0, len(audio) - chunk + 1, chunk)
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int

    def pids(self) -> list[int]:
        """The server and its worker processes (``--workers``), recursively."""
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as fh:
                    todo.extend(int(child) for child in fh.read().split())
            except FileNotFoundError:
                pass
        return found

    def _cpu(self, stat_path: str, scorer: bool | None = None) -> float:
        """User + system CPU seconds over the server's processes, from ``stat_path`` (a format
        with ``{pid}``); processes that exited meanwhile count nothing. ``scorer``: only the
        scorer processes (``--scorer-process``), or all but them."""
        total = 0
        for pid in self.pids():
            try:
                with open(stat_path.format(pid=pid)) as fh:
                    name, stat = fh.read().split(" (", 1)[1].rsplit(")", 1)
            except FileNotFoundError:
                continue
            if scorer is not None and (name == SCORER_PROCESS_NAME) != scorer:
                continue
            fields = stat.split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def cpu_seconds(self) -> float:
        """CPU time of the server and its live workers."""
        return self._cpu("/proc/{pid}/stat")

    def loop_cpu_seconds(self) -> float:
        """CPU time of the event-loop threads (each process's main thread) of the server and its
        workers: the part of ``cpu_seconds`` that cannot spread over cores."""
        return self._cpu("/proc/{pid}/task/{pid}/stat", scorer=False)

    def scorer_process_cpu_seconds(self) -> float:
        """CPU time of the scorer processes (``--scorer-process``; 0 without them)."""
        return self._cpu("/proc/{pid}/stat", scorer=True)

    def rss_mib(self) -> float:
        """Resident memory of the server and its live workers."""
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as fh:
                    total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
            except (FileNotFoundError, StopIteration):
                continue
        return total / 1024 if total else float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_server(*args: str) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "openapiopenai", "serve", "--port", str(port), "--log-level", "warning",
            "--max-sessions", "100000", *args]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return Server(proc, port)
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


@dataclass
class ClientResult:
    latencies_ms: list[float] = field(default_factory=list)
    stops: list[int] = field(default_factory=list)
    sent_ms: int = 0
    errors: int = 0
    failed: bool = False


def record(
    event: dict[str, Any],
    now: float,
    sent_at: list[float],
    chunk_ms: int,
    starts: dict[int, int] | None,
    result: ClientResult,
) -> None:
    """Charge one received server event to the append that completed its deciding audio."""
    kind = event["type"]
    if kind == "input_audio_buffer.speech_stopped":
        result.stops.append(event["audio_end_ms"])
        deciding = math.ceil(event["audio_end_ms"] / FRAME_MS) * FRAME_MS + LOOKAHEAD_MS
    elif kind == "input_audio_buffer.speech_started":
        start = event["audio_start_ms"]
        # where the offline engine decided this start; the wire-only guess is
        # wrong for clamped starts and hesitant onsets (see ``start_decisions``)
        point = (starts or {}).get(start, start + PREFIX_MS + FRAME_MS)
        deciding = point + LOOKAHEAD_MS
    else:
        result.errors += kind == "error"
        return
    index = min(len(sent_at) - 1, max(0, math.ceil(deciding / chunk_ms) - 1))
    if 0 <= index < len(sent_at):
        result.latencies_ms.append((now - sent_at[index]) * 1000)


async def run_client(
    url: str,
    audio: bytes,
    chunk_ms: int,
    duration_s: float,
    start_delay: float,
    result: ClientResult,
    starts: dict[int, int] | None = None,
) -> None:
    from websockets.asyncio.client import connect

    pieces = append_messages(audio, chunk_ms)
    await asyncio.sleep(start_delay)
    sent_at: list[float] = []
    try:
        async with connect(url, max_size=None, ping_interval=None) as ws:

            async def receive() -> None:
                async for raw in ws:
                    record(json.loads(raw), time.perf_counter(), sent_at, chunk_ms, starts, result)

            reader = asyncio.create_task(receive())
            begin = time.perf_counter()
            n = int(duration_s * 1000 // chunk_ms)
            for k in range(n):
                delay = begin + k * chunk_ms / 1000 - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent_at.append(time.perf_counter())
                await ws.send(pieces[k % len(pieces)])
            result.sent_ms = n * chunk_ms
            await asyncio.sleep(1.0)  # let the last events arrive
            reader.cancel()
    except Exception:
        result.failed = True


#: the masking key of every client frame: RFC 6455 makes clients mask and lets the server accept
#: any key, so a fixed one lets each append be framed once, before the clock starts
MASK = b"\x37\xfa\x21\x3d"


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One final, masked client frame (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        header = bytes([0x80 | opcode, 0x80 | n])
    elif n < 1 << 16:
        header = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    key = np.frombuffer((MASK * (n // 4 + 1))[:n], np.uint8)
    return header + MASK + (np.frombuffer(payload, np.uint8) ^ key).tobytes()


class RawClient(asyncio.Protocol):
    """A WebSocket client reduced to what a load test needs: an upgrade request, pre-framed
    appends written straight to the socket, and a frame reader that parses only the events it
    times (and answers pings). The ``websockets`` client took the shared machine about 1.5-2x the
    CPU (docs/speed.md), which the server then lacks; clients on other machines would not take
    it from the server at all."""

    def __init__(
        self, host: str, path: str, result: ClientResult, chunk_ms: int, starts: dict[int, int]
    ) -> None:
        loop = asyncio.get_running_loop()
        self.host, self.path, self.result, self.chunk_ms, self.starts = host, path, result, chunk_ms, starts
        self.opened: asyncio.Future[None] = loop.create_future()
        self.sent_at: list[float] = []
        self.buffer = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the upgrade"))

    def send(self, frame: bytes) -> None:
        if self.transport is None:
            self.result.failed = True
            return
        self.sent_at.append(time.perf_counter())
        self.transport.write(frame)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.write(client_frame(b"\x03\xe8", 0x8))
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        buf = self.buffer
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(bytes(buf[:end]).decode(errors="replace")))
                return
            del buf[: end + 4]
            self.upgraded = True
            self.opened.set_result(None)
        pos = 0
        while len(buf) - pos >= 2:
            opcode, n, head = buf[pos] & 0x0F, buf[pos + 1] & 0x7F, 2
            if n == 126:
                n, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif n == 127:
                n, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if len(buf) - pos < head + n:
                break
            payload = bytes(buf[pos + head : pos + head + n])
            pos += head + n
            if opcode == 0x1 and (b"speech_st" in payload or b"error" in payload):
                record(json.loads(payload), now, self.sent_at, self.chunk_ms, self.starts, self.result)
            elif opcode == 0x9 and self.transport is not None:
                self.transport.write(client_frame(payload, 0xA))
        del buf[:pos]


async def run_raw_clients(
    url: str, frames: list[bytes], chunk_ms: int, duration_s: float, phases: list[float],
    results: list[ClientResult], starts: dict[int, int],
) -> None:  # fmt: skip
    """``len(results)`` clients, each sending ``frames`` in turn at real-time pace from its phase
    (seconds after the common start), on one scheduler instead of a task per client."""
    import heapq
    from urllib.parse import urlsplit

    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = f"{parts.path}?{parts.query}" if parts.query else parts.path
    clients: list[RawClient | None] = []
    for result in results:
        try:
            _, proto = await loop.create_connection(
                lambda r=result: RawClient(f"{host}:{port}", path, r, chunk_ms, starts),  # type: ignore[misc]
                host,
                port,
            )
            await proto.opened
            clients.append(proto)
        except (OSError, ConnectionError):
            result.failed = True
            clients.append(None)
    n = int(duration_s * 1000 // chunk_ms)
    period = chunk_ms / 1000
    begin = time.perf_counter() + 0.05
    due = [(begin + phase, i, 0) for i, phase in enumerate(phases) if clients[i] is not None]
    heapq.heapify(due)
    while due:
        at, i, k = heapq.heappop(due)
        delay = at - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        client = clients[i]
        assert client is not None
        client.send(frames[k % len(frames)])
        if k + 1 < n:
            heapq.heappush(due, (at + period, i, k + 1))
    for result in results:
        result.sent_ms = n * chunk_ms
    await asyncio.sleep(1.0)  # let the last events arrive
    for client in clients:
        if client is not None:
            client.close()


def worker(
    url: str,
    clients: int,
    chunk_ms: int,
    duration_s: float,
    loop_s: float,
    seed: int,
    out: Any,
    nice: int = 0,
    client: str = "raw",
    audio_dir: Path | None = None,
) -> None:
    if nice:
        os.nice(nice)
    audio = loop_audio(loop_s, audio_dir)
    starts = start_decisions(audio, chunk_ms, int(duration_s * 1000 // chunk_ms))
    rng = random.Random(seed)
    results = [ClientResult() for _ in range(clients)]
    # stagger starts over one second so the clients' appends do not all land together
    phases = [rng.random() for _ in results]

    async def main() -> None:
        if client == "raw":
            frames = [client_frame(m.encode()) for m in append_messages(audio, chunk_ms)]
            await run_raw_clients(url, frames, chunk_ms, duration_s, phases, results, starts)
        else:
            await asyncio.gather(
                *(
                    run_client(url, audio, chunk_ms, duration_s, phase, result, starts)
                    for phase, result in zip(phases, results, strict=True)
                )
            )

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put(
        (
            [(r.latencies_ms, r.stops, r.sent_ms, r.errors, r.failed) for r in results],
            usage.ru_utime + usage.ru_stime,
        )
    )


def _next_result(queue: Any, procs: list[Any]) -> Any:
    """The next client process's results; fails, instead of waiting forever, once a client
    process has died without sending them."""
    import queue as queues

    while True:
        try:
            return queue.get(timeout=2.0)
        except queues.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"client process exited with {dead[0].exitcode}") from None


def add_client_option(parser: Any) -> None:
    """``--client``, the real-time client ``run_clients`` runs (an ``argparse`` parser)."""
    parser.add_argument(
        "--client",
        choices=["raw", "websockets"],
        default="raw",
        help="real-time client: raw (pre-framed appends on one scheduler per process, the lightest on "
        "the CPU the server shares) or websockets (the library's client, one task per client)",
    )


def run_clients(
    port: int,
    n: int,
    *,
    chunk_ms: int,
    duration_s: float,
    loop_s: float,
    processes: int,
    nice: int = 0,
    client: str = "raw",
    audio_dir: Path | None = None,
) -> list[ClientResult]:
    """Run ``n`` clients in ``processes`` processes; ``nice`` lowers their CPU priority, so
    that they take what the server leaves (closer to clients on other machines; their own
    delays in reading events still count against the server's latency). ``client``: ``raw``
    (``RawClient``, the lightest on the shared CPU) or ``websockets`` (the library's client).
    ``audio_dir``: the recordings the clients loop (``loop_audio``'s ``folder``)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    per = [n // processes + (i < n % processes) for i in range(processes)]
    url = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
    procs = [
        ctx.Process(
            target=worker, args=(url, k, chunk_ms, duration_s, loop_s, i, queue, nice, client, audio_dir)
        )
        for i, k in enumerate(per)
        if k
    ]
    for p in procs:
        p.start()
    results: list[ClientResult] = []
    cpu = 0.0
    for _ in procs:
        rows, seconds = _next_result(queue, procs)
        cpu += seconds
        for lat, stops, sent, errors, failed in rows:
            results.append(ClientResult(lat, stops, sent, errors, failed))
    for p in procs:
        p.join()
    run_clients.client_cpu_seconds = cpu  # type: ignore[attr-defined]
    return results


def summarize(results: list[ClientResult], expected: list[int], loop_ms: int) -> dict[str, float]:
    latencies = np.array([x for r in results for x in r.latencies_ms]) if results else np.zeros(0)
    missed = 0
    for r in results:
        if r.failed:
            continue
        want = [e + cycle * loop_ms for cycle in range(r.sent_ms // loop_ms + 1) for e in expected]
        want = [e for e in want if e + 200 < r.sent_ms]
        missed += max(0, len(want) - len([s for s in r.stops if s + 200 < r.sent_ms]))
    return {
        "p50_ms": float(np.percentile(latencies, 50)) if len(latencies) else float("nan"),
        "p99_ms": float(np.percentile(latencies, 99)) if len(latencies) else float("nan"),
        "events": float(len(latencies)),
        "missed_turns": float(missed),
        "failed_clients": float(sum(r.failed for r in results)),
        "errors": float(sum(r.errors for r in results)),
    }
