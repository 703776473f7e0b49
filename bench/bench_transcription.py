"""Transcription: accuracy at turn cuts, latency, and capacity next to VAD-only sessions.

    python bench/bench_transcription.py wer                        # librispeech-dev WER table
    python bench/bench_transcription.py latency --duration 120     # 1 talking session
    python bench/bench_transcription.py capacity --talking 0 1 2 4 --vad-sessions 50 --duration 60

``wer``: turn-by-turn vs whole-file WER, same model (see ``openapiopenai.evaluation.wer``).

``latency``: a fresh ``openapiopenai serve`` (one transcription worker, one CPU thread); clients
stream the librispeech-dev utterances (1.5 s pauses between them) at real-time pace with
``audio.input.transcription`` on. Per item: ``speech_stopped`` received -> ``...completed``
received (p50/p90), also as a fraction of the turn's duration (the target: p50 below 0.5).

``capacity``: the same talking sessions, N at a time, while ``--vad-sessions`` VAD-only clients
(bench/loadgen.py: real speech, real time, 20 ms appends) measure their turn-event latency. The
row with N = 0 is the reference of the same run: VAD p99 should stay within noise of it while
the talking sessions are transcribed; transcription keeps up while its latency stays flat and
nothing fails with ``transcription_queue_full``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen

LIBRISPEECH = loadgen.DATA / "librispeech-dev"
RATE = 24_000
CHUNK_MS = 40
PAUSE_S = 1.5


def talking_audio() -> bytes:
    """Every librispeech-dev utterance with a pause after it, PCM16 24 kHz."""
    parts: list[np.ndarray] = []
    with (LIBRISPEECH / "transcripts.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            samples, rate = sf.read(str(LIBRISPEECH / row["file"]), dtype="float32", always_2d=True)
            parts.append(soxr.resample(samples[:, 0], rate, RATE))
            parts.append(np.zeros(int(PAUSE_S * RATE), np.float32))
    audio = np.concatenate(parts)
    return np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2").tobytes()


@dataclass
class Talk:
    #: per item: (seconds from speech_stopped to completed, turn duration in seconds)
    items: list[tuple[float, float]] = field(default_factory=list)
    failed: dict[str, int] = field(default_factory=dict)
    unfinished: int = 0


async def talk(url: str, audio: bytes, duration_s: float, start_delay: float, out: Talk) -> None:
    """One real-time client with transcription on; records stop -> completed per item."""
    from websockets.asyncio.client import connect

    chunk = CHUNK_MS * RATE * 2 // 1000
    await asyncio.sleep(start_delay)
    stopped: dict[str, tuple[float, float]] = {}
    async with connect(url, max_size=None, ping_interval=None) as ws:
        update = {"type": "realtime", "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}}
        await ws.send(json.dumps({"type": "session.update", "session": update}))

        async def receive() -> None:
            started_ms = 0
            async for raw in ws:
                now = time.perf_counter()
                event = json.loads(raw)
                kind = event["type"]
                if kind == "input_audio_buffer.speech_started":
                    started_ms = event["audio_start_ms"]
                elif kind == "input_audio_buffer.speech_stopped":
                    stopped[event["item_id"]] = (now, (event["audio_end_ms"] - started_ms) / 1000)
                elif kind == "conversation.item.input_audio_transcription.completed":
                    t0, seconds = stopped.pop(event["item_id"])
                    out.items.append((now - t0, seconds))
                elif kind == "conversation.item.input_audio_transcription.failed":
                    stopped.pop(event["item_id"], None)
                    code = event["error"]["code"]
                    out.failed[code] = out.failed.get(code, 0) + 1

        reader = asyncio.create_task(receive())
        begin = time.perf_counter()
        n = int(duration_s * 1000 // CHUNK_MS)
        for k in range(n):
            delay = begin + k * CHUNK_MS / 1000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            offset = (k * chunk) % (len(audio) - chunk)
            message = {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(audio[offset : offset + chunk]).decode(),
            }
            await ws.send(json.dumps(message))
        deadline = time.perf_counter() + 30
        while stopped and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        out.unfinished += len(stopped)
        reader.cancel()


async def talkers(port: int, n: int, duration_s: float) -> Talk:
    audio = talking_audio()
    url = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
    out = Talk()
    # staggered starts, and each session starts at another point of the audio
    await asyncio.gather(
        *(talk(url, audio[i * 7 * RATE * 2 :] + audio, duration_s, i * 0.37, out) for i in range(n))
    )
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def server_args(args: argparse.Namespace) -> list[str]:
    return [
        "--transcription-workers", str(args.workers),
        "--transcription-cpu-threads", str(args.cpu_threads),
        *args.server_arg,
    ]  # fmt: skip


def warm_up(port: int) -> None:
    """One short transcription, so the model load is not in the figures."""
    asyncio.run(talkers(port, 1, 8.0))


def latency(args: argparse.Namespace) -> None:
    server = loadgen.start_server(*server_args(args))
    try:
        warm_up(server.port)
        t = asyncio.run(talkers(server.port, args.talking[0] if args.talking else 1, args.duration))
    finally:
        server.stop()
    lat = [x for x, _ in t.items]
    ratio = [x / s for x, s in t.items if s > 0]
    seconds = [s for _, s in t.items]
    print(f"items {len(t.items)}, turn duration p50 {pct(seconds, 50):.2f} s")
    print(f"failed {t.failed}, unfinished {t.unfinished}")
    print(f"speech_stopped -> completed: p50 {pct(lat, 50) * 1000:.0f} ms, p90 {pct(lat, 90) * 1000:.0f} ms")
    print(f"as a fraction of the turn's duration: p50 {pct(ratio, 50):.3f}, p90 {pct(ratio, 90):.3f}")


async def together(
    args: argparse.Namespace, port: int, n: int, loop_s: float
) -> tuple[list[loadgen.ClientResult], Talk]:
    """The VAD-only clients (their own processes) and ``n`` talking sessions at the same time."""
    vad = asyncio.to_thread(
        loadgen.run_clients, port, args.vad_sessions, chunk_ms=20, duration_s=args.duration,
        loop_s=loop_s, processes=args.processes, nice=args.client_nice,
    )  # fmt: skip
    talking = talkers(port, n, args.duration) if n else asyncio.sleep(0, Talk())
    vad_results, t = await asyncio.gather(vad, talking)
    return vad_results, t


def capacity(args: argparse.Namespace) -> None:
    loop_s = 30.0
    vad_audio = loadgen.loop_audio(loop_s)
    expected = loadgen.expected_stops(vad_audio)
    loop_ms = len(vad_audio) // 48
    print(f"{args.vad_sessions} VAD-only sessions (20 ms appends) + N talking sessions with transcription")
    print(f"{args.duration:.0f} s; transcription workers {args.workers}, cpu threads {args.cpu_threads}")
    header = (
        "N talking",
        "VAD p50",
        "VAD p99",
        "p99/ref",
        "stop->done p50",
        "p90",
        "frac p50",
        "items",
        "failed",
        "server CPU",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---:|" * len(header))
    reference = None
    for n in args.talking or [0, 1, 2, 4]:
        server = loadgen.start_server(*server_args(args))
        try:
            warm_up(server.port)

            cpu0, t0 = server.cpu_seconds(), time.perf_counter()
            vad_results, t = asyncio.run(together(args, server.port, n, loop_s))
            cores = (server.cpu_seconds() - cpu0) / (time.perf_counter() - t0)
        finally:
            server.stop()
        s = loadgen.summarize(vad_results, expected, loop_ms)
        if reference is None:
            reference = s["p99_ms"]
        lat = [x for x, _ in t.items]
        ratio = [x / sec for x, sec in t.items if sec > 0]
        failed = sum(t.failed.values()) + t.unfinished
        print(
            f"| {n} | {s['p50_ms']:.1f} ms | {s['p99_ms']:.1f} ms | {s['p99_ms'] / reference:.2f} | "
            f"{pct(lat, 50) * 1000:.0f} ms | {pct(lat, 90) * 1000:.0f} ms | {pct(ratio, 50):.2f} | "
            f"{len(t.items)} | {failed} | {cores:.2f} |",
            flush=True,
        )


def wer(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(loadgen.ROOT / "src"))
    from openapiopenai.asr import load_transcriber
    from openapiopenai.evaluation.wer import evaluate_folder, table

    transcriber = load_transcriber(beam_size=args.beam_size)
    result = evaluate_folder(LIBRISPEECH, transcriber)
    print(f"beam size {args.beam_size}")
    print(table([result]))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("wer", "latency", "capacity"))
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of audio per client")
    parser.add_argument(
        "--talking",
        type=int,
        nargs="+",
        default=None,
        help="talking sessions (latency: 1; capacity: 0 1 2 4)",
    )
    parser.add_argument("--vad-sessions", type=int, default=50)
    parser.add_argument("--processes", type=int, default=2, help="VAD client processes")
    parser.add_argument(
        "--client-nice", type=int, default=0, help="VAD clients' nice level (0: they compete with the server)"
    )
    parser.add_argument("--workers", type=int, default=1, help="--transcription-workers")
    parser.add_argument("--cpu-threads", type=int, default=1, help="--transcription-cpu-threads")
    parser.add_argument("--beam-size", type=int, default=1, help="wer only")
    parser.add_argument("--server-arg", action="append", default=[], help="extra option for serve")
    args = parser.parse_args()
    {"wer": wer, "latency": latency, "capacity": capacity}[args.what](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
