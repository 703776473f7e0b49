"""Noise reduction's CPU per stream, as a ratio to Silero's frame cost in the same run.

Three measurements, each over the same audio (looped real speech, PCM16 24 kHz, appended in
``--chunk-ms`` pieces), CPU time of this process only:

* per denoiser (``rnnoise``, ``deepfilternet``): one stream's ``DenoiseStream.process`` on the
  16 kHz samples, against Silero scoring the same stream's 32 ms frames (``score_sequence``,
  as the offline driver and a lone server session do). Also the cost of opening a stream
  (``new_state``: a session turning noise reduction on) in units of Silero frames;
* the whole session hot path (``Session.receive_text`` + scoring) with noise reduction on,
  against the same session with it off: what a session that asks for it pays in all;
* a VAD-only session on a server that offers noise reduction (factory given, never asked for)
  against one on a server that does not: the ratio should be 1 (nothing is built or run).

    python bench/bench_denoise.py [--seconds 20] [--chunk-ms 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np

import loadgen
from openapiopenai.audio.formats import PCM16_24K, decode
from openapiopenai.audio.pipeline import AudioPipeline
from openapiopenai.audio.resample import StreamingResampler
from openapiopenai.denoise import DENOISERS, Denoiser, DenoiseStream, load_denoiser, stream_factory
from openapiopenai.protocol.config import Features
from openapiopenai.protocol.session import DenoiserFactory, Session
from openapiopenai.vad.silero import SileroModel


def best_cpu(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        run()
        best = min(best, time.process_time() - t0)
    return best


def session_cpu(
    model: SileroModel, messages: list[str], factory: DenoiserFactory | None, mode: str | None
) -> float:
    session = Session(model, features=Features(noise_reduction=True), denoiser=factory)
    session.start()
    if mode is not None:
        update = {"type": "realtime", "audio": {"input": {"noise_reduction": {"type": mode}}}}
        session.receive_text(json.dumps({"type": "session.update", "session": update}))
    session.events_to_send()
    t0 = time.process_time()
    for text in messages:
        session.receive_text(text)
        while (request := session.frames_to_score()) is not None:
            session.receive_scores(model.score_sequence(request.frames, request.state, request.sample_rate))
        session.events_to_send()
    return time.process_time() - t0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per stream")
    parser.add_argument("--chunk-ms", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is kept")
    parser.add_argument("--denoisers", default=",".join(DENOISERS))
    args = parser.parse_args()

    audio = loadgen.loop_audio(args.seconds)
    step = args.chunk_ms * PCM16_24K.bytes_per_ms
    chunks = [audio[i : i + step] for i in range(0, len(audio), step)]
    # the 16 kHz samples each append turns into, and the frames cut from them, as a session makes them
    resampler = StreamingResampler(24_000, 16_000)
    samples16 = [resampler.push(decode(PCM16_24K, chunk)) for chunk in chunks]
    pipeline = AudioPipeline(PCM16_24K, 16_000, 512)
    frames = [pipeline.push(chunk) for chunk in chunks]
    all_frames = np.concatenate(frames)
    model = SileroModel()
    n_frames = len(all_frames)

    def silero_run() -> None:
        state = model.new_state(16_000)
        for f in frames:
            if len(f):
                model.score_sequence(f, state, 16_000)

    silero = best_cpu(silero_run, args.repeat)
    per_frame = silero / n_frames
    seconds = len(audio) / PCM16_24K.bytes_per_ms / 1000
    print(f"audio: {seconds:.1f} s in {args.chunk_ms} ms appends; Silero: {n_frames} frames")
    print(f"Silero, one stream: {silero / seconds * 100:.2f}% of a core (the reference, 1.0x)")
    print()
    print("denoiser       CPU per stream / Silero's       open a stream (in Silero frames)")
    messages = loadgen.append_messages(audio, args.chunk_ms)
    for name in [n.strip() for n in args.denoisers.split(",") if n.strip()]:
        denoiser = load_denoiser(name)

        def run(denoiser: Denoiser = denoiser) -> None:
            stream = DenoiseStream(denoiser, 16_000, "near_field")
            for piece in samples16:
                stream.process(piece)

        cpu = best_cpu(run, args.repeat)
        t0 = time.process_time()
        opened = [DenoiseStream(denoiser, 16_000, "near_field") for _ in range(5)]
        open_cpu = (time.process_time() - t0) / len(opened)
        del opened
        print(
            f"{name:14s} {cpu / silero:8.1f}x ({cpu / seconds * 100:5.2f}% of a core)"
            f"   {open_cpu / per_frame:10.0f}"
        )
    print()
    default = load_denoiser()
    factory = stream_factory(default)
    off = min(session_cpu(model, messages, None, None) for _ in range(args.repeat))
    offered = min(session_cpu(model, messages, factory, None) for _ in range(args.repeat))
    on = min(session_cpu(model, messages, factory, "near_field") for _ in range(args.repeat))
    print(f"session hot path, noise reduction on ({default.name}) / off: {on / off:.2f}x")
    print(f"VAD-only session, server offers noise reduction / does not: {offered / off:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
