"""Transcription: accuracy at turn cuts, latency, and capacity next to VAD-only sessions.

    python bench/bench_transcription.py wer                        # librispeech-dev WER table
    python bench/bench_transcription.py latency --duration 120     # 1 talking session
    python bench/bench_transcription.py capacity --talking 1 2 3 --vad-sessions 30 --duration 40
    python bench/bench_transcription.py batch                      # N queued items: one by one vs batched

``wer``: turn-by-turn vs whole-file WER, same model (see ``openapiopenai.evaluation.wer``).

``latency``: a fresh ``openapiopenai serve`` (one transcription worker, one CPU thread); clients
stream the librispeech-dev utterances (1.5 s pauses between them) at real-time pace with
``audio.input.transcription`` on. Per item: ``speech_stopped`` received -> ``...completed``
received (p50/p90), also as a fraction of the turn's duration (the target: p50 below 0.5).

``capacity``: the same talking sessions, N at a time, while ``--vad-sessions`` VAD-only clients
(bench/loadgen.py: real speech, real time, 20 ms appends) measure their turn-event latency. Each
run is a fresh server; runs with N = 0 (the reference) are interleaved with the loaded ones
(0, N1, 0, N2, ... for ``--rounds`` rounds), and the reference runs' VAD p99 spread is the noise
band. Capacity = the largest N (all smaller N passing too) with completed p50 < 0.5 x the turn,
nothing failed (``transcription_queue_full``, unfinished items, failed VAD clients), and the
median over its rounds of the VAD-only p99 within the band.

``batch``: N items waiting in the queue (librispeech-dev turns cut as the server cuts them:
the offline Detector, i.e. the server's Session and audio prep), decoded one by one vs as one
batch (one CTranslate2 encode + generate call for N clips), same model, same threads, the same
per-clip work; items/s and audio seconds/s, the ratio batched/sequential (wall and process CPU),
and whether the transcripts are identical.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import json
import sys
import time
from collections.abc import Iterator
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


@dataclass
class Run:
    """One capacity run: N talking sessions next to the VAD-only ones, on a fresh server."""

    n: int
    vad: dict[str, float]
    talk: Talk
    cores: float

    @property
    def latency(self) -> list[float]:
        return [x for x, _ in self.talk.items]

    @property
    def fraction(self) -> list[float]:
        return [x / sec for x, sec in self.talk.items if sec > 0]

    @property
    def failed(self) -> int:
        return sum(self.talk.failed.values()) + self.talk.unfinished


def capacity_run(args: argparse.Namespace, n: int, expected: list[int], loop_s: float, loop_ms: int) -> Run:
    server = loadgen.start_server(*server_args(args))
    try:
        warm_up(server.port)
        cpu0, t0 = server.cpu_seconds(), time.perf_counter()
        vad_results, t = asyncio.run(together(args, server.port, n, loop_s))
        cores = (server.cpu_seconds() - cpu0) / (time.perf_counter() - t0)
    finally:
        server.stop()
    return Run(n, loadgen.summarize(vad_results, expected, loop_ms), t, cores)


def capacity(args: argparse.Namespace) -> None:
    """Reference runs (N = 0) interleaved with the loaded ones: 0, N1, 0, N2, ... per round, for
    ``--rounds`` rounds, so drift of the machine's speed hits both alike. The VAD p99 of the
    reference runs gives the noise band; a talking count N is within capacity when its
    completed p50 is under 0.5 x the turn, nothing failed, and the median over its rounds of
    its VAD p99 is within the band (at most the highest reference p99). The median, not every
    round: one burst of load from outside hits a single run (and its neighbours), which the
    per-round column shows."""
    loop_s = 30.0
    vad_audio = loadgen.loop_audio(loop_s)
    expected = loadgen.expected_stops(vad_audio)
    loop_ms = len(vad_audio) // 48
    talking = [n for n in (args.talking or [1, 2, 4]) if n > 0]
    print(f"{args.vad_sessions} VAD-only sessions (20 ms appends) + N talking sessions with transcription")
    print(
        f"{args.duration:.0f} s per run; transcription workers {args.workers}, cpu threads "
        f"{args.cpu_threads}; {args.rounds} rounds of 0, N for N in {talking}"
    )
    header = (
        "round",
        "N talking",
        "VAD p50",
        "VAD p99",
        "missed",
        "stop->done p50",
        "p90",
        "frac p50",
        "items",
        "failed",
        "server CPU",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---:|" * len(header))
    runs: list[Run] = []
    for round_ in range(1, args.rounds + 1):
        for n in talking:
            for m in (0, n):
                run = capacity_run(args, m, expected, loop_s, loop_ms)
                runs.append(run)
                v = run.vad
                print(
                    f"| {round_} | {m} | {v['p50_ms']:.1f} ms | {v['p99_ms']:.1f} ms | "
                    f"{v['missed_turns']:.0f} | {pct(run.latency, 50) * 1000:.0f} ms | "
                    f"{pct(run.latency, 90) * 1000:.0f} ms | {pct(run.fraction, 50):.2f} | "
                    f"{len(run.talk.items)} | {run.failed} | {run.cores:.2f} |",
                    flush=True,
                )
    reference = [r.vad["p99_ms"] for r in runs if r.n == 0]
    low, high, mid = min(reference), max(reference), float(np.median(reference))
    print(
        f"\nreference (N = 0, {len(reference)} runs): VAD p99 median {mid:.1f} ms, "
        f"noise band {low:.1f}-{high:.1f} ms"
    )
    print(
        "| N talking | VAD p99 per round | median / reference median | median within band | "
        "stop->done p50 | p90 | frac p50 | items | failed | within capacity |"
    )
    print("|---:|---|---:|---|---:|---:|---:|---:|---:|---|")
    capacity_n, passing = 0, True
    for n in sorted(talking):
        mine = [r for r in runs if r.n == n]
        p99s = [r.vad["p99_ms"] for r in mine]
        latency = [x for r in mine for x in r.latency]
        fraction = [x for r in mine for x in r.fraction]
        failed = sum(r.failed + int(r.vad["failed_clients"]) for r in mine)
        in_band = float(np.median(p99s)) <= high
        ok = in_band and failed == 0 and pct(fraction, 50) < 0.5
        if ok and passing:  # every smaller N measured passed too
            capacity_n = n
        passing = passing and ok
        print(
            f"| {n} | {', '.join(f'{x:.1f}' for x in p99s)} ms | {float(np.median(p99s)) / mid:.2f} | "
            f"{'yes' if in_band else 'no'} | {pct(latency, 50) * 1000:.0f} ms | "
            f"{pct(latency, 90) * 1000:.0f} ms | {pct(fraction, 50):.2f} | {len(latency)} | {failed} | "
            f"{'yes' if ok else 'no'} |",
            flush=True,
        )
    print(
        f"\ncapacity: {capacity_n} talking session(s) (the largest N measured that, like every "
        "smaller N measured, has completed p50 < 0.5 x the turn, nothing failed, and the median "
        "over its rounds of the VAD-only p99 within the reference band)"
        + (" -- the largest N measured: measure larger N" if capacity_n == max(talking) else "")
    )


def wer(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(loadgen.ROOT / "src"))
    from openapiopenai.asr import load_transcriber
    from openapiopenai.evaluation.wer import evaluate_folder, table

    transcriber = load_transcriber(beam_size=args.beam_size)
    result = evaluate_folder(LIBRISPEECH, transcriber)
    print(f"beam size {args.beam_size}")
    print(table([result]))


# ---------------------------------------------------------------------------------- batch


class _Capture:
    """A transcriber that only records the audio it is given: the items as the server cuts them."""

    name = "capture"

    def __init__(self) -> None:
        self.clips: list[np.ndarray] = []

    def transcribe(self, audio: np.ndarray, options: object) -> Iterator[object]:
        self.clips.append(np.array(audio, dtype=np.float32))
        return iter(())


def server_turns(limit_files: int | None = None) -> list[np.ndarray]:
    """The librispeech-dev items as the server hands them to the transcriber: each file streamed
    (PCM16 24 kHz, 1 s appends) through the offline Detector (the server's Session, VAD and
    audio prep), the committed items' audio at 16 kHz in commit order."""
    sys.path.insert(0, str(loadgen.ROOT / "src"))
    from openapiopenai.audio.formats import PCM16_24K, encode
    from openapiopenai.evaluation.datasets import read_mono
    from openapiopenai.evaluation.wer import read_transcripts
    from openapiopenai.offline import DEFAULT_CHUNK_MS, Detector, chunked

    capture = _Capture()
    for path, _text in read_transcripts(LIBRISPEECH)[:limit_files]:
        samples, rate = read_mono(path)
        wire = encode(PCM16_24K, soxr.resample(samples, rate, PCM16_24K.sample_rate))
        detector = Detector(transcriber=capture)  # type: ignore[arg-type]
        for piece in chunked(wire, DEFAULT_CHUNK_MS * PCM16_24K.bytes_per_ms):
            detector.feed(piece)
        detector.flush()
    return capture.clips


class Decoder:
    """tiny.en through CTranslate2's Whisper ``generate``, one clip at a time or a batch at once.

    Both paths do exactly the same per clip (the server's 0.5 s edge padding, log-Mel features of
    one 30 s window, greedy decoding with timestamps, the same prompt), so any difference in the
    text comes from batching alone."""

    def __init__(self, cpu_threads: int) -> None:
        sys.path.insert(0, str(loadgen.ROOT / "src"))
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer

        from openapiopenai.asr import load_transcriber
        from openapiopenai.asr.whisper import EDGE_PADDING_S

        self.server = load_transcriber(cpu_threads=cpu_threads)
        self.model = self.server._model  # the faster_whisper.WhisperModel the server runs
        self.pad = np.zeros(int(EDGE_PADDING_S * 16_000), np.float32)
        self._pad_or_trim = pad_or_trim
        self.tokenizer = Tokenizer(self.model.hf_tokenizer, False, task="transcribe", language="en")
        self.prompt = self.model.get_prompt(self.tokenizer, [], without_timestamps=False)

    def features(self, clip: np.ndarray) -> np.ndarray:
        mel = self.model.feature_extractor(np.concatenate((self.pad, clip, self.pad)))[..., :-1]
        return np.asarray(self._pad_or_trim(mel), dtype=np.float32)

    def decode(self, clips: list[np.ndarray]) -> list[str]:
        """The clips' texts, decoded as one batch (one encoder call, one generate call)."""
        from faster_whisper.transcribe import get_ctranslate2_storage

        features = np.stack([self.features(c) for c in clips])
        encoded = self.model.model.encode(get_ctranslate2_storage(features))
        results = self.model.model.generate(
            encoded,
            [list(self.prompt) for _ in clips],
            beam_size=1,
            max_length=self.model.max_length,
            suppress_blank=True,
            suppress_tokens=[-1],
            max_initial_timestamp_index=50,  # faster-whisper's max_initial_timestamp 1.0 s
            return_scores=False,
        )
        eot = self.tokenizer.timestamp_begin
        return [self.tokenizer.decode([t for t in r.sequences_ids[0] if t < eot]).strip() for r in results]

    def server_path(self, clip: np.ndarray) -> str:
        """The text through the server's own ``WhisperTranscriber`` (faster-whisper's transcribe)."""
        sys.path.insert(0, str(loadgen.ROOT / "src"))
        from openapiopenai.asr import TranscriptionOptions

        return "".join(p.text for p in self.server.transcribe(clip, TranscriptionOptions()))


def batch(args: argparse.Namespace) -> None:
    """N items waiting in the queue: decode them one by one, or as one batch."""
    clips = server_turns(args.limit_files)
    sizes = args.batch_sizes
    decoder = Decoder(args.cpu_threads)
    total = max(sizes) * args.groups
    clips = (clips * (total // len(clips) + 1))[:total]
    audio_s = sum(len(c) for c in clips) / 16_000
    print(
        f"{len(clips)} items (librispeech-dev turns cut by the server's VAD, {audio_s:.0f} s of audio, "
        f"p50 {np.median([len(c) / 16_000 for c in clips]):.1f} s); tiny.en int8, greedy, "
        f"cpu threads {args.cpu_threads}; {args.repeat} interleaved rounds, best per cell"
    )
    decoder.decode(clips[:2])  # warm-up
    server_s = time.perf_counter()
    server_texts = [decoder.server_path(c) for c in clips]
    server_s = time.perf_counter() - server_s
    one_by_one = [decoder.decode([c])[0] for c in clips]
    # per (N, mode): wall and process CPU seconds of each round; within a round the two modes
    # alternate group by group (which goes first alternates too), so drift hits both alike
    wall: dict[tuple[int, str], list[float]] = {}
    cpu: dict[tuple[int, str], list[float]] = {}
    same: dict[int, bool] = {}
    for _ in range(args.repeat):
        for n in sizes:
            groups = [clips[i : i + n] for i in range(0, len(clips), n)]
            sums = {(mode, kind): 0.0 for mode in ("sequential", "batched") for kind in ("wall", "cpu")}
            texts: list[str] = []
            for g, group in enumerate(groups):
                for mode in ("sequential", "batched") if g % 2 == 0 else ("batched", "sequential"):
                    w0, c0 = time.perf_counter(), time.process_time()
                    if mode == "batched":
                        texts += decoder.decode(group)
                    else:
                        _ = [decoder.decode([c])[0] for c in group]
                    sums[mode, "wall"] += time.perf_counter() - w0
                    sums[mode, "cpu"] += time.process_time() - c0
            same[n] = same.get(n, True) and texts == one_by_one
            for mode in ("sequential", "batched"):
                wall.setdefault((n, mode), []).append(sums[mode, "wall"])
                cpu.setdefault((n, mode), []).append(sums[mode, "cpu"])
    agree = sum(a.split() == b.split() for a, b in zip(server_texts, one_by_one, strict=True))
    print(
        f"server path (WhisperTranscriber.transcribe, one by one): {len(clips) / server_s:.2f} items/s, "
        f"{audio_s / server_s:.1f} audio s/s; same text as the generate path: {agree}/{len(clips)} items"
    )
    print(
        "| N | sequential items/s | batched items/s | sequential audio s/s | batched audio s/s | "
        "batched / sequential (wall) | (CPU) | transcripts identical |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for n in sizes:
        seq, bat = min(wall[n, "sequential"]), min(wall[n, "batched"])
        cpu_ratio = min(cpu[n, "sequential"]) / min(cpu[n, "batched"])
        print(
            f"| {n} | {len(clips) / seq:.2f} | {len(clips) / bat:.2f} | {audio_s / seq:.1f} | "
            f"{audio_s / bat:.1f} | {seq / bat:.2f} | {cpu_ratio:.2f} | {'yes' if same[n] else 'no'} |",
            flush=True,
        )
    print("wall: best round per cell; CPU: process CPU seconds (all threads), best round per cell")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("wer", "latency", "capacity", "batch"))
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of audio per client")
    parser.add_argument(
        "--talking",
        type=int,
        nargs="+",
        default=None,
        help="talking sessions (latency: 1; capacity: 1 2 4, each interleaved with N = 0)",
    )
    parser.add_argument("--vad-sessions", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="capacity: rounds of 0, N per N")
    parser.add_argument("--processes", type=int, default=2, help="VAD client processes")
    parser.add_argument(
        "--client-nice",
        type=int,
        default=5,
        help="VAD clients' nice level (above the server, below transcription)",
    )
    parser.add_argument("--workers", type=int, default=1, help="--transcription-workers")
    parser.add_argument("--cpu-threads", type=int, default=1, help="--transcription-cpu-threads")
    parser.add_argument("--beam-size", type=int, default=1, help="wer only")
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[1, 2, 4, 8], help="batch: queued items N"
    )
    parser.add_argument("--groups", type=int, default=3, help="batch: groups of the largest N")
    parser.add_argument("--repeat", type=int, default=3, help="batch: interleaved rounds")
    parser.add_argument("--limit-files", type=int, default=None, help="batch: librispeech-dev files")
    parser.add_argument("--server-arg", action="append", default=[], help="extra option for serve")
    args = parser.parse_args()
    {"wer": wer, "latency": latency, "capacity": capacity, "batch": batch}[args.what](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
