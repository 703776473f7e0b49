"""The server against the bare model, in one run: flood throughput and real-time sessions.

    python bench/bench_ratios.py [--flood-sessions 200] [--sessions 100 200 300 400]

Reference: the single-stream frame-model loop (``SileroModel`` frame by frame, one onnxruntime call
per 32 ms frame, one thread) on 60 s of dev speech at 16 kHz: its real-time factor ``R``, i.e. how
many real-time streams one core running that loop would keep up with.

* flood: ``--flood-sessions`` clients (in ``--processes`` processes) each send ``--flood-seconds``
  of speech in ``--chunk-ms`` appends as fast as the server reads them, then
  ``input_audio_buffer.clear``; the server answers ``cleared`` only after every earlier frame is
  scored. Throughput = audio seconds / wall seconds from the first append to the last ``cleared``.
  Flood ratio = throughput / ``R``.
* real-time: for each ``--sessions`` N, N real-time clients (as ``bench_load.py``, clients at nice
  ``--client-nice``) for ``--duration`` s; the largest N with p99 latency < 100 ms, no missed turns
  and no failed client. Real-time ratio = that N / ``R``.

Clients share the machine with the server; the server uses what the machine gives it (event loop
plus scorer threads). Ratios, not times, are the result: both sides are measured in this run. R is
measured at the start and again at the end (these machines' speed drifts within minutes); the
final ratios use the faster of the two.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import soxr

import loadgen
from openapiopenai.vad.silero import SileroModel


def loop_reference(seconds: float = 60.0, repeat: int = 2) -> float:
    """Real-time factor of the single-stream frame-model loop (best of ``repeat``)."""
    pcm = np.frombuffer(loadgen.loop_audio(seconds), dtype="<i2").astype(np.float32) / 32768
    audio = soxr.resample(pcm, loadgen.RATE, 16_000).astype(np.float32)
    frames = np.ascontiguousarray(audio[: len(audio) // 512 * 512].reshape(-1, 512))
    model = SileroModel()
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        model._score_loop(frames, model.new_state(16_000), 16_000)
        best = min(best, time.perf_counter() - started)
    return len(frames) * 0.032 / best


async def flood_client(ws: Any, pieces: list[str], out: list[float]) -> None:
    done = asyncio.Event()

    async def receive() -> None:
        async for raw in ws:
            if '"input_audio_buffer.cleared"' in str(raw):
                out.append(time.time())
                done.set()
                return

    reader = asyncio.create_task(receive())
    for piece in pieces:
        await ws.send(piece)
    await ws.send('{"type": "input_audio_buffer.clear"}')
    await done.wait()
    await reader


def flood_worker(
    url: str, clients: int, chunk_ms: int, seconds: float, ready: Any, go: Any, queue: Any
) -> None:
    from websockets.asyncio.client import connect

    audio = loadgen.loop_audio(seconds)
    pieces = loadgen.append_messages(audio, chunk_ms)[: int(seconds * 1000 // chunk_ms)]
    ends: list[float] = []

    async def main() -> None:
        sockets = [await connect(url, max_size=None, ping_interval=None) for _ in range(clients)]
        for ws in sockets:
            await ws.recv()  # session.created: connected and set up
        ready.put(clients)
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        await asyncio.gather(*(flood_client(ws, pieces, ends) for ws in sockets))
        for ws in sockets:
            await ws.close()

    asyncio.run(main())
    queue.put((len(ends), max(ends) if ends else float("nan"), len(pieces) * chunk_ms / 1000))


def flood(
    sessions: int, chunk_ms: int, seconds: float, processes: int, server_args: list[str]
) -> tuple[float, float]:
    """Audio seconds per wall second for ``sessions`` flooding clients, and the server's cores.
    Every client connects first; the clock starts when all are connected."""
    server = loadgen.start_server(*server_args)
    try:
        url = f"ws://127.0.0.1:{server.port}/v1/realtime?model=gpt-realtime"
        ctx = mp.get_context("spawn")
        queue, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
        per = [sessions // processes + (i < sessions % processes) for i in range(processes)]
        procs = [
            ctx.Process(target=flood_worker, args=(url, k, chunk_ms, seconds, ready, go, queue))
            for k in per
            if k
        ]
        for p in procs:
            p.start()
        for _ in procs:
            ready.get()
        cpu0, t0 = server.cpu_seconds(), time.time()
        go.set()
        results = [queue.get() for _ in procs]
        elapsed = max(r[1] for r in results) - t0
        cores = (server.cpu_seconds() - cpu0) / elapsed
        for p in procs:
            p.join()
    finally:
        server.stop()
    finished = sum(r[0] for r in results)
    if finished != sessions:
        print(f"  ({sessions - finished} flood clients did not finish)")
    return sum(r[0] * r[2] for r in results) / elapsed, cores


def realtime(n: int, args: argparse.Namespace, expected: list[int], loop_ms: int) -> dict[str, float]:
    server = loadgen.start_server(*args.server_arg)
    try:
        results = loadgen.run_clients(
            server.port, n, chunk_ms=args.chunk_ms, duration_s=args.duration, loop_s=30.0,
            processes=args.processes, nice=args.client_nice, client=args.client,
        )  # fmt: skip
    finally:
        server.stop()
    return loadgen.summarize(results, expected, loop_ms)


def main() -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--flood-sessions", type=int, default=200)
    parser.add_argument("--flood-seconds", type=float, default=10.0, help="audio per flooding client")
    parser.add_argument("--sessions", type=int, nargs="+", default=[100, 200, 300, 400])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per real-time client")
    parser.add_argument("--chunk-ms", type=int, default=100)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    loadgen.add_client_option(parser)
    parser.add_argument("--client-nice", type=int, default=10)
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help="extra option for `openapiopenai serve` (repeat; e.g. --server-arg=--workers=2)",
    )
    args = parser.parse_args()

    reference = loop_reference()
    print(f"single-stream frame-model loop: {reference:.0f}x real time (R)")
    throughput, cores = flood(
        args.flood_sessions, args.chunk_ms, args.flood_seconds, args.processes, args.server_arg
    )
    print(
        f"flood, {args.flood_sessions} clients, {args.chunk_ms} ms appends: {throughput:.0f}x real time"
        f" on {cores:.2f} server cores -> flood ratio {throughput / reference:.2f}"
    )
    audio = loadgen.loop_audio(30.0)
    expected = loadgen.expected_stops(audio)
    loop_ms = len(audio) // 48
    held = 0
    for n in sorted(args.sessions):
        s = realtime(n, args, expected, loop_ms)
        ok = s["p99_ms"] < 100 and s["missed_turns"] == 0 and s["failed_clients"] == 0
        print(
            f"real time, {n} sessions: p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms,"
            f" missed {s['missed_turns']:.0f}, failed {s['failed_clients']:.0f}"
            f" -> {'held' if ok else 'not held'}"
        )
        if not ok:
            break
        held = n
    # the machine's speed drifts within a run: R again at the end, and the ratios on the faster R
    # of the two (the conservative choice)
    again = loop_reference()
    print(f"single-stream frame-model loop again: {again:.0f}x real time")
    reference = max(reference, again)
    print(f"R = {reference:.0f}x (the faster of the two)")
    print(f"real-time sessions held: {held} -> real-time ratio {held / reference:.2f} (target >= 2.0)")
    print(f"flood ratio {throughput / reference:.2f} (target >= 2.0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
