"""A study, not a feature: candidate frame-decision rules for the default detector, side by side.

    python bench/candidates.py DIR... [--conditions clean,pcmu,pcma]

(The study that led to issue 12's defaults; moved out of the installed package. Row A is the
rule before issue 12: ``p >= threshold`` at its frame, no hysteresis, no onset dating.)

Each candidate is a small, general change to how the detector turns Silero's per-frame
probabilities into a per-frame speech decision, and where on the timeline that decision is put.
All of them keep the threshold (0.5), ``prefix_padding_ms`` and ``silence_duration_ms``. The
study scores each once per file (Silero through the real streaming path, as ``eval`` does) and
prints frame F1 per dataset and condition, then the turn-level effects at the Realtime defaults.

The knobs, in frames of the model (32 ms):

* ``exit``: hysteresis; while speech, a frame stays speech down to this probability;
* ``hangover``: a frame stays speech this many frames after the last frame over threshold
  (a causal hangover, as in the G.729 / AMR VADs); the silence window counts from its end;
* ``lookback``: the first speech frame of a run is dated this many frames earlier (onset only;
  clamped at the buffer start): a causal model crosses the threshold only after it has heard
  some of the speech;
* ``shift``: every decision is dated this many frames earlier (onset, end and the stop).

Nothing here is used by the detector; the lead turns a recommendation into detector code, and
``eval`` then measures the detector itself.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openapiopenai.evaluation.datasets import load_dataset
from openapiopenai.evaluation.metrics import HOP_S, Counts, Turn, TurnStats, cells_from_segments, roc_auc
from openapiopenai.evaluation.runner import (
    CONDITIONS,
    Scored,
    ScoredFile,
    before_config,
    iterator_frame_cells,
    run_detector,
    scored_files,
    speech_runs,
)
from openapiopenai.turns.config import TurnDetectionConfig

__all__ = ["CANDIDATES", "Candidate", "apply", "main"]

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    exit: float | None = None
    hangover: int = 0
    lookback: int = 0
    shift: int = 0
    #: bridge non-speech gaps shorter than this many ms (needs lookahead: a reference only)
    bridge_ms: int = 0
    pad_ms: int = 0


CANDIDATES: tuple[Candidate, ...] = (
    Candidate("A current: p >= 0.5 at its frame"),
    Candidate("B onset lookback 1 frame", lookback=1),
    Candidate("C onset lookback 2 frames", lookback=2),
    Candidate("D all dated 1 frame earlier", shift=1),
    Candidate("E hangover 1 frame", hangover=1),
    Candidate("F hangover 2 frames", hangover=2),
    Candidate("G hysteresis exit 0.35", exit=0.35),
    Candidate("H lookback 1 + hysteresis 0.35", lookback=1, exit=0.35),
    Candidate("I lookback 1 + hangover 1", lookback=1, hangover=1),
    Candidate("J lookback 1 + bridge < 64 ms", lookback=1, bridge_ms=64),
    Candidate("K bridge < 100 ms", bridge_ms=100),
    Candidate("L lookback 2 + hysteresis 0.35", lookback=2, exit=0.35),
    Candidate("M VADIterator-like (pad 30, bridge 100, 0.35)", exit=0.35, bridge_ms=100, pad_ms=30),
)


def _decisions(p: npt.NDArray[np.float32], threshold: float, exit: float | None, hangover: int) -> BoolArray:
    out = np.zeros(len(p), dtype=bool)
    speech, since = False, hangover + 1
    for i, x in enumerate(p.tolist()):
        raw = x >= (exit if speech and exit is not None else threshold)
        since = 0 if raw else since + 1
        speech = raw or (speech and since <= hangover)
        out[i] = speech
    return out


def apply(
    candidate: Candidate, scored: Scored, n: int, config: TurnDetectionConfig
) -> tuple[BoolArray, list[Turn]]:
    """The candidate's frame decision on the 10 ms grid, and its turns at ``config``."""
    frame_s = scored.frame_s
    decisions = _decisions(scored.probabilities, config.threshold, candidate.exit, candidate.hangover)
    segments: list[list[float]] = []
    for a, b in speech_runs(decisions):
        start = max(0.0, (a - candidate.lookback - candidate.shift) * frame_s - candidate.pad_ms / 1000)
        end = (b - candidate.shift) * frame_s + candidate.pad_ms / 1000
        if segments and start - segments[-1][1] < candidate.bridge_ms / 1000:
            segments[-1][1] = max(segments[-1][1], end)
        else:
            segments.append([start, end])
    cells = cells_from_segments([(a, b) for a, b in segments], n)
    # turns: the candidate's decisions (as 0/1 probabilities) through the real detector
    binary = Scored(
        decisions.astype(np.float32), scored.levels_dbfs, scored.frame_length, scored.sample_rate,
        scored.total_samples,
    )  # fmt: skip
    turns: list[Turn] = []
    floor = 0.0
    for t in run_detector(binary, TurnDetectionConfig(silence_duration_ms=config.silence_duration_ms)).turns:
        onset = max(floor, t.onset - (candidate.lookback + candidate.shift) * frame_s)
        back = candidate.shift * frame_s
        turns.append(Turn(onset, t.end - back, t.known_at - back))
        floor = t.known_at - back
    return cells, turns


def _row(counts: Counts) -> str:
    return f"{counts.f1:8.4f}"


LAGS_MS = (0, 8, 16, 24, 32, 48, 64)


def lagged_probabilities(scored: Scored, n: int, lag_ms: float) -> npt.NDArray[np.float64]:
    """Per 10 ms cell, the probability of the frame ``lag_ms`` *later*: the model's output
    dated ``lag_ms`` earlier. The lag that maximises AUC is the model's decision lag."""
    centres = (np.arange(n) + 0.5) * HOP_S + lag_ms / 1000
    index = np.floor(centres / scored.frame_s + 1e-9).astype(np.int64)
    out = np.zeros(n)
    inside = index < len(scored.probabilities)
    out[inside] = scored.probabilities[index[inside]]
    return out


def boundary_bias_ms(
    runs: list[tuple[float, float]], truth: list[tuple[float, float]]
) -> tuple[list[float], list[float]]:
    """Signed start and end errors (detected - labelled) of each labelled segment against the
    nearest detected run start / end within 300 ms (segments with none are left out)."""
    starts, ends = [], []
    for a, b in truth:
        near = [s - a for s, _ in runs if abs(s - a) <= 0.3]
        if near:
            starts.append(min(near, key=abs) * 1000)
        near = [e - b for _, e in runs if abs(e - b) <= 0.3]
        if near:
            ends.append(min(near, key=abs) * 1000)
    return starts, ends


def diagnostics(items: Sequence[ScoredFile], names: Sequence[str], conditions: Sequence[str]) -> None:
    print("\nSilero's decision lag: ROC-AUC of the probabilities dated LAG ms earlier")
    print("lag ms" + "".join(f"{d[:8] + '/' + c:>18}" for c in conditions for d in names))
    for lag in LAGS_MS:
        cells = []
        for c in conditions:
            for d in names:
                group = [i for i in items if i.dataset == d and i.condition == c]
                scores = [lagged_probabilities(i.systems["ours"][0], len(i.truth), lag) for i in group]
                cells.append(roc_auc(np.concatenate(scores), np.concatenate([i.truth for i in group])))
        print(f"{lag:6d}" + "".join(f"{x:18.4f}" for x in cells))
    print("\nboundary bias of p >= 0.5 runs (detected - labelled, ms): median start / median end")
    for c in conditions:
        for d in names:
            starts: list[float] = []
            ends: list[float] = []
            for i in items:
                if i.dataset == d and i.condition == c:
                    s = i.systems["ours"][0]
                    runs = [(a * s.frame_s, b * s.frame_s) for a, b in speech_runs(s.probabilities >= 0.5)]
                    st, en = boundary_bias_ms(runs, list(i.file.speech))
                    starts += st
                    ends += en
            print(
                f"{d:20} {c:6} start {np.median(starts):+5.0f} (n={len(starts)})"
                f"   end {np.median(ends):+5.0f} (n={len(ends)})"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folders", nargs="+", metavar="DIR")
    parser.add_argument("--conditions", default="clean,pcmu,pcma")
    parser.add_argument("--limit-files", type=int, default=None)
    args = parser.parse_args(argv)
    conditions = [c for c in args.conditions.split(",") if c]
    if any(c not in CONDITIONS for c in conditions):
        parser.error(f"conditions: choose from {', '.join(CONDITIONS)}")
    config = TurnDetectionConfig()
    datasets = [load_dataset(f, args.limit_files) for f in args.folders]
    items: list[ScoredFile] = list(scored_files(datasets, conditions, before_config(config)))
    names = [d.name for d in datasets]
    frames: dict[tuple[str, str, str], Counts] = {}
    turn_stats: dict[tuple[str, str], TurnStats] = {}
    for item in items:
        scored, n = item.systems["ours"][0], len(item.truth)
        for candidate in CANDIDATES:
            cells, turns = apply(candidate, scored, n, config)
            for dataset in (item.dataset, "overall"):
                frames.setdefault((candidate.name, dataset, item.condition), Counts()).add(cells, item.truth)
            if item.condition == "clean":
                turn_stats.setdefault((candidate.name, item.dataset), TurnStats()).add(
                    turns, item.file.speech, item.duration_s, config.silence_duration_ms / 1000
                )
        iterator = iterator_frame_cells(scored, n)
        for dataset in (item.dataset, "overall"):
            frames.setdefault(("VADIterator baseline", dataset, item.condition), Counts()).add(
                iterator, item.truth
            )
    columns = [(d, c) for c in conditions for d in [*names, "overall"]]
    width = max(len(c.name) for c in CANDIDATES) + 2
    print("frame F1 (10 ms grid), Silero, threshold 0.5")
    print(" " * width + "".join(f"{d[:8] + '/' + c:>18}" for d, c in columns))
    for name in [c.name for c in CANDIDATES] + ["VADIterator baseline"]:
        print(name.ljust(width) + "".join(f"{frames[(name, d, c)].f1:18.4f}" for d, c in columns))
    if "clean" in conditions:
        print("\nturn level, clean, Realtime defaults (threshold 0.5, silence 500 ms)")
        header = "onset50  onset90   eot50   eot90  FS/min  missed  split  turnF1"
        for dataset in names:
            print(f"\n{dataset}\n" + " " * width + header)
            for candidate in CANDIDATES:
                s = turn_stats[(candidate.name, dataset)].summary()
                print(
                    candidate.name.ljust(width)
                    + f"{s['onset_err_median_ms']:7.0f}  {s['onset_err_p90_ms']:7.0f} "
                    f"{s['eot_latency_median_ms']:7.0f} {s['eot_latency_p90_ms']:7.0f} "
                    f"{s['false_starts_per_min']:7.2f} {s['missed']:7.0f} {s['split']:6.0f} "
                    f"{s['turn_f1']:7.3f}"
                )
    diagnostics(items, names, conditions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
