"""Study: the padding of segments for people (``Detector.segments(pad_ms)``, ``detect --segment-pad-ms``).

    python bench/segment_pad.py [--conditions clean,pcmu] [--data ../shared/data/]

Frame F1 (10 ms cells) of the default detector's speech segments ``[onset - pad, speech_end + pad)``,
clipped to the audio, against the labels, per padding; wire events are not affected by it.
"""

from __future__ import annotations

from _study import study_args
from openapiopenai.evaluation.datasets import load_dataset, read_mono
from openapiopenai.evaluation.metrics import Counts, cells_from_segments, n_cells
from openapiopenai.evaluation.runner import CONDITIONS, run_session, wire_bytes
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.vad.registry import load_model

SETS = ("ten-vad-testset", "pyannote-ami-debug")
PADS_MS = (0, 30, 50, 100, 150, 200)


def main() -> None:
    args = study_args(__doc__, "clean,pcmu")
    silero = load_model("silero")
    print("pad ms".ljust(28) + "".join(f"{p:>8d}" for p in PADS_MS))
    for condition in args.conditions.split(","):
        fmt = CONDITIONS[condition]
        for name in SETS:
            counts = {pad: Counts() for pad in PADS_MS}
            for file in load_dataset(args.data + name).files:
                samples, rate = read_mono(file.path)
                run = run_session(silero, wire_bytes(samples, rate, fmt), fmt, TurnDetectionConfig())
                duration = run.scored.duration_s
                n = n_cells(duration)
                truth = cells_from_segments(file.speech, n)
                for pad, tally in counts.items():
                    p = pad / 1000
                    spans = [(max(0.0, t.onset - p), min(duration, t.end + p)) for t in run.turns]
                    tally.add(cells_from_segments(spans, n), truth)
            print(f"{name} {condition}".ljust(28) + "".join(f"{counts[p].f1:8.3f}" for p in PADS_MS))


if __name__ == "__main__":
    main()
