"""semantic_vad's threshold against the turn-taking evaluation, on one pause draw (a seed).

    python bench/sweep_semantic_threshold.py [--seed 11] [--thresholds 0.5,0.8,...] [--data DIR]

Builds the cases of ``openapiopenai eval --turn-taking`` (``evaluation/turn_taking.py``) with the
given seed for the inserted pauses, runs ``server_vad`` at each silence window, ``semantic_vad`` at
each eagerness with the shipped thresholds, then eagerness ``auto`` at each ``--thresholds`` value
(``turns.semantic.EAGERNESS_THRESHOLD["auto"]`` patched for the run). The model's answers are cached
per question (same audio span, same answer), so the sweep costs little more than one run.
Seed 11 is the draw the thresholds were chosen on; any other seed is a held-out draw of pauses
(the same 38 sentences, other word gaps and pause lengths). Prints Markdown tables; asserts nothing.
EOT latency is audio time (the silence waited): it excludes the model's run time, which a server
adds on top (one decision's CPU cost plus any queue wait, see ``bench/bench_turn_end.py``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from openapiopenai.evaluation import turn_taking
from openapiopenai.evaluation.turn_taking import (
    EAGERNESSES,
    SERVER_SILENCES_MS,
    TurnTakingResult,
    _Answers,
    _score,
    build_cases,
    evaluate_turn_taking,
    run_semantic,
    silero_probabilities,
    table,
)
from openapiopenai.turns import semantic
from openapiopenai.turns.config import SemanticVadConfig
from openapiopenai.vad.smart_turn import SmartTurnModel

DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "librispeech-dev").resolve()
THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.96, 0.97, 0.975, 0.98, 0.99)


def sweep(seed: int, thresholds: tuple[float, ...], data: Path) -> None:
    started = time.perf_counter()
    cases = build_cases(data, seed=seed)
    model = SmartTurnModel()
    calls = 0

    def predict(audio: turn_taking.FloatArray) -> float:
        nonlocal calls
        calls += 1
        return model.predict(audio)

    answers = {case.name: _Answers(case.audio, predict) for case in cases}
    probs = {case.name: silero_probabilities(case.audio) for case in cases}
    print(f"seed {seed}: {len(cases)} sentences, {sum(len(c.pauses) for c in cases)} inserted pauses\n")
    results = evaluate_turn_taking(cases, predict, silences_ms=SERVER_SILENCES_MS, eagernesses=EAGERNESSES)
    print(table(results), "\n")
    shipped = dict(semantic.EAGERNESS_THRESHOLD)
    rows = []
    try:
        for threshold in thresholds:
            semantic.EAGERNESS_THRESHOLD["auto"] = threshold
            result = TurnTakingResult("semantic_vad", f"auto, threshold {threshold}")
            for case in cases:
                stops, questions, pauses = run_semantic(
                    probs[case.name], SemanticVadConfig(eagerness="auto"), answers[case.name]
                )
                _score(result, case, stops)
                result.questions += questions
                result.asked_pauses += pauses
            rows.append((threshold, result))
    finally:
        semantic.EAGERNESS_THRESHOLD.update(shipped)
    print("| threshold | cut-offs at inserted pauses | other stops mid-sentence | EOT p50 | EOT p90 |")
    print("|---:|---:|---:|---:|---:|")
    for threshold, r in rows:
        print(
            f"| {threshold} | {r.cut_offs}/{r.pauses} ({r.cut_off_rate:.0%}) | {r.other_stops} "
            f"| {r.latency(50):.0f} ms | {r.latency(90):.0f} ms |"
        )
    print(f"\n({calls} model calls, {time.perf_counter() - started:.0f} s wall)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=turn_taking.SEED)
    parser.add_argument("--thresholds", default=",".join(map(str, THRESHOLDS)))
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    sweep(args.seed, tuple(float(t) for t in args.thresholds.split(",")), args.data)


if __name__ == "__main__":
    main()
