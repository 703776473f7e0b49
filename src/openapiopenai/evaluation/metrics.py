"""Accuracy metrics, pure numpy: frame level on a 10 ms grid, and turn level (``evaluation.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

HOP_S = 0.010
Segments = Sequence[tuple[float, float]]
BoolArray = npt.NDArray[np.bool_]


def grid(segments: Segments, duration_s: float, hop_s: float = HOP_S) -> BoolArray:
    """Per 10 ms cell: does its centre lie inside a segment?"""
    centres = (np.arange(round(duration_s / hop_s)) + 0.5) * hop_s
    mask = np.zeros(len(centres), dtype=bool)
    for start, end in segments:
        mask |= (centres >= start) & (centres < end)
    return mask


def merge(segments: Segments, gap_s: float) -> list[tuple[float, float]]:
    """Join segments separated by pauses shorter than ``gap_s`` (a pause that short is no turn end)."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(segments):
        if merged and start - merged[-1][1] < gap_s:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: BoolArray, truth: BoolArray) -> None:
        n = min(len(predicted), len(truth))
        p, t = predicted[:n], truth[:n]
        self.tp += int(np.sum(p & t))
        self.fp += int(np.sum(p & ~t))
        self.fn += int(np.sum(~p & t))

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def roc_auc(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """Area under the ROC curve by the rank statistic (Mann-Whitney U), ties counted half."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if not positives or not negatives:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_scores = s[order]
    # average ranks over ties
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(s)]))
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b + 1) / 2  # ranks are 1-based
    u = ranks[y].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


@dataclass(frozen=True, slots=True)
class Turn:
    """A predicted turn: speech onset, speech end, and when the stop was known (seconds)."""

    onset: float
    end: float
    known_at: float


@dataclass
class TurnStats:
    onset_errors_ms: list[float]
    eot_latencies_ms: list[float]
    true_turns: int = 0
    missed: int = 0
    split: int = 0
    false_starts: int = 0
    nonspeech_s: float = 0.0
    spans: Counts | None = None

    @classmethod
    def empty(cls) -> TurnStats:
        return cls([], [], spans=Counts())

    def add(self, turns: Sequence[Turn], speech: Segments, duration_s: float, silence_s: float) -> None:
        truth = merge(speech, silence_s)
        self.true_turns += len(truth)
        for start, end in truth:
            hits = [t for t in turns if t.onset < end and t.end > start]
            if not hits:
                self.missed += 1
                continue
            self.split += len(hits) > 1
            self.onset_errors_ms.append(abs(hits[0].onset - start) * 1000)
            self.eot_latencies_ms.append((hits[-1].known_at - end) * 1000)
        self.false_starts += sum(1 for t in turns if not any(t.onset < e and t.end > s for s, e in speech))
        self.nonspeech_s += duration_s - sum(e - s for s, e in merge(speech, 0.0))
        assert self.spans is not None
        self.spans.add(grid([(t.onset, t.end) for t in turns], duration_s), grid(truth, duration_s))

    def summary(self) -> dict[str, float]:
        def pct(values: list[float], q: float) -> float:
            return float(np.percentile(values, q)) if values else float("nan")

        assert self.spans is not None
        return {
            "turn_f1": self.spans.f1,
            "onset_err_median_ms": pct(self.onset_errors_ms, 50),
            "onset_err_p90_ms": pct(self.onset_errors_ms, 90),
            "eot_latency_median_ms": pct(self.eot_latencies_ms, 50),
            "eot_latency_p90_ms": pct(self.eot_latencies_ms, 90),
            "true_turns": self.true_turns,
            "missed": self.missed,
            "split": self.split,
            "false_starts_per_min": self.false_starts / (self.nonspeech_s / 60)
            if self.nonspeech_s > 0
            else 0.0,
        }


__all__ = ["HOP_S", "Counts", "Turn", "TurnStats", "grid", "merge", "roc_auc"]
