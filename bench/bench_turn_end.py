"""semantic_vad capacity: end-of-turn decisions per second per core, and sessions per core.

    python bench/bench_turn_end.py [--decisions 60] [--pauses-per-minute 12] [--batch 4]

One *decision* is what ``server/turn_end.py`` runs per question: decode + resample the turn's
PCM16 24 kHz audio to 16 kHz, the Whisper log-mel of its last 8 s (float64 numpy), one Smart Turn
v3.2 call (onnxruntime, 1 thread). The turns are real LibriSpeech sentences cut at random points
(seed 11), 1-8 s long. CPU time is measured with ``time.process_time`` (one thread: CPU seconds
are core seconds), and each cost is also given as a ratio to a reference measured in the same run:
scoring one 32 ms Silero frame (batch of one), the unit of the VAD that every session pays.

Sessions per core = decisions per core-second / questions per session-second, where a session
pauses ``--pauses-per-minute`` times a minute and each pause costs the mean number of questions
per pause that ``openapiopenai eval --turn-taking`` counted at eagerness auto (``--questions-per-pause``).
Batching is measured too (``--batch`` turns per call): on CPU it does not make a decision cheaper.
Prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from openapiopenai.audio.analysis import analysis_audio
from openapiopenai.audio.formats import PCM16_24K, encode
from openapiopenai.protocol.work import AudioSlice
from openapiopenai.vad.silero import SileroModel
from openapiopenai.vad.smart_turn import SmartTurnModel

DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "librispeech-dev").resolve()


def turns(count: int) -> list[AudioSlice]:
    rng = np.random.default_rng(11)
    with (DATA / "speech_segments.csv").open(newline="") as fh:
        names = [row["file"] for row in csv.DictReader(fh)]
    out = []
    for i in range(count):
        audio, rate = sf.read(str(DATA / names[i % len(names)]), dtype="float32")
        audio = soxr.resample(audio, rate, 24_000).astype(np.float32)
        end = int(rng.uniform(1.0, min(8.0, len(audio) / 24_000)) * 24_000)
        out.append(AudioSlice(encode(PCM16_24K, audio[:end]), PCM16_24K))
    return out


def cpu(fn: object, repeat: int) -> float:
    """CPU seconds per call of ``fn()`` (best of 3 rounds of ``repeat`` calls)."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for _ in range(repeat):
            fn()  # type: ignore[operator]
        best = min(best, (time.process_time() - start) / repeat)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=60)
    parser.add_argument("--pauses-per-minute", type=float, default=12.0)
    parser.add_argument("--questions-per-pause", type=float, default=2.2)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()

    slices = turns(args.decisions)
    model = SmartTurnModel(threads=1)
    silero = SileroModel(threads=1)
    frame = np.zeros((1, 512), dtype=np.float32)
    state = silero.new_state(16_000)
    silero_frame = cpu(lambda: silero.score(frame, [state], 16_000), 2000)

    audio = [analysis_audio(s) for s in slices]
    features = [model.features(a) for a in audio]
    prep = cpu(lambda: [analysis_audio(s) for s in slices], 1) / len(slices)
    mel = cpu(lambda: [model.features(a) for a in audio], 1) / len(slices)
    net = cpu(lambda: [model.predict_features(f[np.newaxis]) for f in features], 1) / len(slices)
    batch = np.stack(features[: args.batch])
    net_batched = cpu(lambda: model.predict_features(batch), 3) / args.batch
    decision = prep + mel + net
    per_core = 1.0 / decision
    questions_per_s = args.pauses_per_minute / 60 * args.questions_per_pause
    rows = [
        ("Silero frame (reference)", silero_frame),
        ("decode + resample to 16 kHz", prep),
        ("Whisper log-mel, 8 s, float64", mel),
        ("Smart Turn call, batch of 1", net),
        (f"Smart Turn call, batch of {args.batch}, per turn", net_batched),
        ("one decision (prep + mel + call)", decision),
    ]
    print(f"{args.decisions} real turns of 1-8 s; onnxruntime 1 thread; CPU time per item")
    print(f"{'stage':48} {'ms':>8} {'x Silero frame':>15}")
    for name, seconds in rows:
        print(f"{name:48} {seconds * 1000:8.2f} {seconds / silero_frame:15.0f}")
    print(f"decisions per second per core: {per_core:.1f}")
    print(
        f"sessions per core at {args.pauses_per_minute:g} pauses/min x {args.questions_per_pause:g} "
        f"questions/pause ({questions_per_s:.2f} questions/s/session): {per_core / questions_per_s:.0f}"
    )


if __name__ == "__main__":
    main()
