"""Study: G.711 on Silero's 8 kHz head (the default) vs upsampled to the 16 kHz head (issue 12).

    python bench/telephony_head.py [--conditions pcmu,pcma] [--data ../shared/data/]

The same G.711 bytes through a fresh session per file at the default turn settings; "8 kHz" is the
session's native choice, "16 kHz" a model that offers only 16 kHz (the session resamples up).
Prints turn F1, missed, split, false starts, onset p50 and EOT p90 per dataset and pooled.
"""

from __future__ import annotations

from _study import study_args
from openapiopenai.evaluation.datasets import load_dataset, read_mono
from openapiopenai.evaluation.metrics import TurnStats
from openapiopenai.evaluation.runner import CONDITIONS, run_session, wire_bytes
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.vad.registry import load_model

SETS = ("pyannote-ami-debug", "ten-vad-testset", "nonspeech-dev")
HEADS: dict[str, tuple[int, ...] | None] = {"8 kHz": None, "16 kHz": (16_000,)}


def row(label: str, stats: TurnStats) -> str:
    r = stats.summary()
    return (
        f"  {label:28s} turnF1 {r['turn_f1']:.3f}  missed {r['missed']:3.0f}  split {r['split']:3.0f}  "
        f"FS {r['false_starts']:3.0f}  onset p50 {r['onset_err_median_ms']:5.0f}  EOT p90 "
        f"{r['eot_latency_p90_ms']:5.0f}"
    )


def main() -> None:
    args = study_args(__doc__, "pcmu,pcma")
    silero = load_model("silero")
    config = TurnDetectionConfig()
    for condition in args.conditions.split(","):
        fmt = CONDITIONS[condition]
        print(f"== {condition}")
        for head, rates in HEADS.items():
            pooled = TurnStats()
            for name in SETS:
                stats = TurnStats()
                for file in load_dataset(args.data + name).files:
                    samples, rate = read_mono(file.path)
                    run = run_session(silero, wire_bytes(samples, rate, fmt), fmt, config, rates=rates)
                    gap_s = config.silence_duration_ms / 1000
                    for s in (stats, pooled):
                        s.add(run.turns, file.speech, run.scored.duration_s, gap_s)
                print(row(f"{head} {name}", stats))
            print(row(f"{head} pooled", pooled))


if __name__ == "__main__":
    main()
