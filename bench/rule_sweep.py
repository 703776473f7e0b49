"""Study: the issue 12 rules one at a time, on the same Silero probabilities.

    python bench/rule_sweep.py [--conditions clean,pcmu] [--data ../shared/data/]

Each file is streamed once through a fresh session (the eval path), its probabilities recorded; then the pure
``TurnDetector`` replays them under each variant (a test pins that a replay gives the session's turns). Prints
turn F1, onset p50, missed and split per speech set and the false starts on ``nonspeech-dev``, beside the
VADIterator baseline on the same probabilities.
"""

from __future__ import annotations

from _study import study_args
from openapiopenai.evaluation.datasets import load_dataset, read_mono
from openapiopenai.evaluation.metrics import Turn, TurnStats
from openapiopenai.evaluation.runner import (
    CONDITIONS,
    Scored,
    before_config,
    iterator_turns,
    run_detector,
    run_session,
    wire_bytes,
)
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.vad.registry import load_model

SETS = ("pyannote-ami-debug", "ten-vad-testset", "nonspeech-dev")
DEFAULT = TurnDetectionConfig()
VARIANTS: dict[str, TurnDetectionConfig | None] = {
    "defaults": DEFAULT,
    "no warm-up": DEFAULT.merged(warmup_ms=0),
    "no warm-up, no min speech": DEFAULT.merged(warmup_ms=0, min_speech_duration_ms=0),
    "onset dating off": DEFAULT.merged(onset_lookback_ms=0),
    "onset dating 32 ms": DEFAULT.merged(onset_lookback_ms=32),
    "onset dating 96 ms": DEFAULT.merged(onset_lookback_ms=96),
    "no hysteresis": DEFAULT.merged(exit_threshold=DEFAULT.threshold),
    "before issue 12": before_config(DEFAULT),
    "VADIterator": None,
}


def main() -> None:
    args = study_args(__doc__, "clean,pcmu")
    silero = load_model("silero")
    for condition in args.conditions.split(","):
        fmt = CONDITIONS[condition]
        files: list[tuple[str, Scored, tuple[tuple[float, float], ...]]] = []
        for name in SETS:
            for file in load_dataset(args.data + name).files:
                samples, rate = read_mono(file.path)
                run = run_session(silero, wire_bytes(samples, rate, fmt), fmt, DEFAULT)
                files.append((name, run.scored, file.speech))
        print(f"\n== {condition}")
        for label, config in VARIANTS.items():
            stats: dict[str, TurnStats] = {}
            for name, scored, speech in files:
                turns: list[Turn] = (
                    iterator_turns(scored, DEFAULT) if config is None else run_detector(scored, config).turns
                )
                stats.setdefault(name, TurnStats()).add(turns, speech, scored.duration_s, 0.5)
            cells = []
            for name, s in stats.items():
                row = s.summary()
                if name == "nonspeech-dev":
                    cells.append(f"FS {row['false_starts']:.0f}")
                else:
                    cells.append(
                        f"{name[:7]} F1 {row['turn_f1']:.3f} on50 {row['onset_err_median_ms']:.0f} "
                        f"missed {row['missed']:.0f} split {row['split']:.0f}"
                    )
            print(f"{label:28s}" + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
