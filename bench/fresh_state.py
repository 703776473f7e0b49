"""Study: how long does Silero's fresh state over-score? (the warm-up default, issue 12)

    python bench/fresh_state.py [--data ../shared/data/]

Every file is scored twice at 16 kHz with the block graph: from a fresh state, and from the state
left by 10 s of another file of the same set (a session that has been listening). Prints, per
half second since the start, the mean and the largest difference fresh - warmed. Where the mean
difference has faded is how long a reset (session start, clear, manual commit) keeps the model
over-scoring, which is what ``warmup_ms`` covers.
"""

from __future__ import annotations

import argparse

import numpy as np
import soxr

from openapiopenai.evaluation.datasets import load_dataset, read_mono
from openapiopenai.vad.base import score_stream
from openapiopenai.vad.registry import load_model

RATE = 16_000
SETS = ("nonspeech-dev", "ten-vad-testset", "pyannote-ami-debug")
WARM_S = 10
SPAN_S = 8.0
STEP_S = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data/")
    args = parser.parse_args()
    model = load_model("silero")
    n = model.frame_samples(RATE)
    per_step = round(STEP_S * RATE / n)
    steps = round(SPAN_S / STEP_S)

    def score(audio: np.ndarray, warm: np.ndarray | None) -> np.ndarray:
        state = model.new_state(RATE)
        if warm is not None:
            score_stream(model, warm[: len(warm) // n * n].reshape(-1, n), state, RATE)
        return score_stream(model, audio[: len(audio) // n * n].reshape(-1, n), state, RATE)

    print(f"fresh - warmed Silero probability, per {STEP_S} s since the reset (16 kHz head)")
    for name in SETS:
        audio = []
        for file in load_dataset(args.data + name).files:
            samples, rate = read_mono(file.path)
            audio.append(soxr.resample(samples, rate, RATE).astype(np.float32))
        diffs = np.full((len(audio), steps * per_step), np.nan)
        for i, a in enumerate(audio):
            warm = audio[(i + 1) % len(audio)][: WARM_S * RATE]
            d = (score(a, None) - score(a, warm))[: steps * per_step]
            diffs[i, : len(d)] = d
        blocks = diffs.reshape(len(audio), steps, per_step)
        mean = np.nanmean(blocks, axis=(0, 2))
        worst = np.nanmax(np.abs(blocks), axis=(0, 2))
        print(f"{name}")
        print("  t (s)  " + " ".join(f"{t * STEP_S:6.1f}" for t in range(steps)))
        print("  mean   " + " ".join(f"{v:+6.3f}" for v in mean))
        print("  max|d| " + " ".join(f"{v:6.3f}" for v in worst))


if __name__ == "__main__":
    main()
