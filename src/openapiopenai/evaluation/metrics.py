"""Accuracy metrics, pure numpy, as ``/work/shared/evaluation.md`` defines them.

Frame level: every 10 ms cell of a file is speech or not; a cell takes the label of whatever
covers its centre (a labelled segment, a model frame, a predicted turn). Precision, recall and F1
are pooled over all cells of a dataset; ROC-AUC ranks the raw probabilities of the cells.

Turn level: the truth is the labelled speech merged across pauses shorter than the silence
window (such a pause should not end a turn). A predicted turn *overlaps* a true turn when their
spans share time. Per true turn: missed (nothing overlaps it), split (two or more predicted
turns overlap it), merged with the previous one (the predicted turn that covers its start began
in the previous true turn: no stop came between them). Onset error is measured on true turns
whose first overlapping prediction started for them, end-of-turn latency on true turns whose
last overlapping prediction stopped before the next true turn. A predicted turn that overlaps
no labelled speech at all is a false start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "HOP_S",
    "Counts",
    "Turn",
    "TurnStats",
    "cells_from_frames",
    "cells_from_segments",
    "merge",
    "n_cells",
    "roc_auc",
]

HOP_S = 0.010
Segments = Sequence[tuple[float, float]]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


def n_cells(duration_s: float, hop_s: float = HOP_S) -> int:
    """Whole 10 ms cells in ``duration_s`` (a partial cell at the end is not scored)."""
    return int(np.floor(duration_s / hop_s + 1e-9))


def _centres(n: int, hop_s: float) -> FloatArray:
    return (np.arange(n, dtype=np.float64) + 0.5) * hop_s


def cells_from_segments(segments: Segments, n: int, hop_s: float = HOP_S) -> BoolArray:
    """Per cell: does its centre lie in some ``[start, end)``?"""
    centres = _centres(n, hop_s)
    mask = np.zeros(n, dtype=bool)
    for start, end in segments:
        mask[np.searchsorted(centres, start, "left") : np.searchsorted(centres, end, "left")] = True
    return mask


def cells_from_frames(
    values: npt.ArrayLike, frame_s: float, n: int, *, fill: float = 0.0, hop_s: float = HOP_S
) -> FloatArray:
    """Per cell: the value of the frame ``[k * frame_s, (k + 1) * frame_s)`` under its centre.

    Cells past the last frame (audio the stream had not scored yet) get ``fill``."""
    v = np.asarray(values, dtype=np.float64)
    index = np.floor(_centres(n, hop_s) / frame_s + 1e-9).astype(np.int64)
    out = np.full(n, fill, dtype=np.float64)
    inside = index < len(v)
    out[inside] = v[index[inside]]
    return out


def merge(segments: Segments, gap_s: float) -> list[tuple[float, float]]:
    """Join segments separated by pauses shorter than ``gap_s`` (overlaps always join)."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(segments):
        if merged and start - merged[-1][1] < gap_s:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass
class Counts:
    """Pooled frame counts: add files one by one, read precision/recall/F1 at the end."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: BoolArray, truth: BoolArray) -> None:
        if len(predicted) != len(truth):
            raise ValueError(f"{len(predicted)} predicted cells but {len(truth)} true ones")
        self.tp += int(np.count_nonzero(predicted & truth))
        self.fp += int(np.count_nonzero(predicted & ~truth))
        self.fn += int(np.count_nonzero(~predicted & truth))
        self.tn += int(np.count_nonzero(~predicted & ~truth))

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
    """Area under the ROC curve by the rank statistic (Mann-Whitney U), ties counted half.

    NaN when the labels hold only one class (no ranking to measure)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if s.shape != y.shape:
        raise ValueError(f"{s.shape} scores but {y.shape} labels")
    positives = int(np.count_nonzero(y))
    negatives = len(y) - positives
    if not positives or not negatives:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    sorted_scores = s[order]
    # 1-based ranks, averaged over each run of equal scores
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(s)]))
    mean_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(len(s), dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    u = float(ranks[y].sum()) - positives * (positives + 1) / 2.0
    return u / (positives * negatives)


@dataclass(frozen=True, slots=True)
class Turn:
    """A predicted turn (seconds): speech onset, speech end, and when the stop was known."""

    onset: float
    end: float
    known_at: float


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


@dataclass
class TurnStats:
    """Turn-level tallies pooled over files."""

    onset_errors_ms: list[float] = field(default_factory=list)
    eot_latencies_ms: list[float] = field(default_factory=list)
    true_turns: int = 0
    predicted_turns: int = 0
    missed: int = 0
    split: int = 0
    merged: int = 0
    false_starts: int = 0
    nonspeech_s: float = 0.0
    spans: Counts = field(default_factory=Counts)

    def add(self, turns: Sequence[Turn], speech: Segments, duration_s: float, silence_s: float) -> None:
        """Score one file: ``turns`` predicted, ``speech`` labelled, ``silence_s`` the turn setting."""
        truth = merge(speech, silence_s)
        predicted = sorted(turns, key=lambda t: t.onset)
        self.true_turns += len(truth)
        self.predicted_turns += len(predicted)

        def overlaps(t: Turn, start: float, end: float) -> bool:
            return t.onset < end and t.end > start

        for i, (start, end) in enumerate(truth):
            hits = [t for t in predicted if overlaps(t, start, end)]
            if not hits:
                self.missed += 1
                continue
            if len(hits) > 1:
                self.split += 1
            first, last = hits[0], hits[-1]
            if i > 0 and overlaps(first, *truth[i - 1]):
                self.merged += 1
            else:
                self.onset_errors_ms.append(abs(first.onset - start) * 1000.0)
            if not (i + 1 < len(truth) and overlaps(last, *truth[i + 1])):
                self.eot_latencies_ms.append((last.known_at - end) * 1000.0)
        self.false_starts += sum(1 for t in predicted if not any(overlaps(t, s, e) for s, e in speech))
        self.nonspeech_s += max(0.0, duration_s - sum(e - s for s, e in merge(speech, 0.0)))
        n = n_cells(duration_s)
        self.spans.add(
            cells_from_segments([(t.onset, t.end) for t in predicted], n), cells_from_segments(truth, n)
        )

    def summary(self) -> dict[str, float]:
        return {
            "turn_f1": self.spans.f1,
            "onset_err_median_ms": _percentile(self.onset_errors_ms, 50),
            "onset_err_p90_ms": _percentile(self.onset_errors_ms, 90),
            "eot_latency_median_ms": _percentile(self.eot_latencies_ms, 50),
            "eot_latency_p90_ms": _percentile(self.eot_latencies_ms, 90),
            "true_turns": self.true_turns,
            "predicted_turns": self.predicted_turns,
            "missed": self.missed,
            "split": self.split,
            "merged": self.merged,
            "false_starts": self.false_starts,
            "nonspeech_min": self.nonspeech_s / 60.0,
            "false_starts_per_min": self.false_starts / (self.nonspeech_s / 60.0)
            if self.nonspeech_s > 0
            else float("nan"),
        }
