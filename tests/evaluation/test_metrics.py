"""Accuracy metrics on hand-made inputs whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from openapiopenai.evaluation.metrics import Counts, Turn, TurnStats, grid, merge, roc_auc
from openapiopenai.evaluation.runner import Scored, ours, vaditerator
from openapiopenai.turns.config import TurnDetectionConfig


def test_roc_auc_of_perfect_inverted_and_tied_scores() -> None:
    labels = np.array([0, 0, 1, 1], dtype=bool)
    assert roc_auc([0.1, 0.2, 0.8, 0.9], labels) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], labels) == 0.0
    assert roc_auc([0.5, 0.5, 0.5, 0.5], labels) == 0.5
    assert roc_auc([0.1, 0.6, 0.4, 0.9], labels) == 0.75


def test_frame_f1_counts() -> None:
    counts = Counts()
    counts.add(np.array([1, 1, 0, 0], dtype=bool), np.array([1, 0, 1, 0], dtype=bool))
    assert (counts.tp, counts.fp, counts.fn) == (1, 1, 1)
    assert counts.precision == counts.recall == counts.f1 == 0.5


def test_grid_labels_cells_by_their_centre() -> None:
    assert grid([(0.0, 0.02)], 0.05).tolist() == [True, True, False, False, False]
    assert grid([(0.016, 0.031)], 0.05).tolist() == [False, False, True, False, False]


def test_truth_is_merged_across_pauses_shorter_than_the_silence_window() -> None:
    assert merge([(0, 1), (1.3, 2), (3, 4)], 0.5) == [(0, 2), (3, 4)]


def test_turn_stats_count_missed_split_and_false_starts() -> None:
    stats = TurnStats.empty()
    speech = [(1.0, 2.0), (5.0, 6.0), (8.0, 9.0)]
    turns = [
        Turn(1.1, 1.5, 2.0),  # first half of turn 1
        Turn(1.6, 2.0, 2.5),  # second half: turn 1 split in two
        Turn(5.0, 6.0, 6.5),  # turn 2 exact
        Turn(3.0, 3.5, 4.0),  # no speech there: a false start
    ]  # turn 3 missed
    stats.add(turns, speech, 10.0, silence_s=0.05)
    summary = stats.summary()
    assert (summary["true_turns"], summary["missed"], summary["split"]) == (3, 1, 1)
    assert summary["false_starts_per_min"] == pytest.approx(1 / (7 / 60))
    assert stats.onset_errors_ms == pytest.approx([100.0, 0.0])
    assert stats.eot_latencies_ms == pytest.approx([500.0, 500.0])


def scripted(probabilities: list[float], frame_s: float = 0.032) -> Scored:
    return Scored(np.array(probabilities, dtype=np.float32), frame_s, len(probabilities) * frame_s)


def test_vaditerator_rule_hysteresis_min_silence_and_padding() -> None:
    # speech frames 2-4, a dip to 0.4 (above exit) at 5, speech at 6, then silence
    p = [0.0, 0.0, 0.9, 0.9, 0.9, 0.4, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1]
    (turn,) = vaditerator(scripted(p, frame_s=0.05), min_silence_s=0.1, pad_s=0.03)
    assert turn.onset == pytest.approx(2 * 0.05 - 0.03)
    assert turn.end == pytest.approx(7 * 0.05 + 0.03)
    assert turn.known_at == pytest.approx(9 * 0.05)  # two silent frames = 100 ms heard


def test_our_frame_decisions_are_the_detectors_threshold_decisions() -> None:
    p = [0.0, 0.6, 0.4, 0.6] + [0.0] * 20
    decisions, turns = ours(scripted(p), TurnDetectionConfig(silence_duration_ms=96))
    assert decisions[:5].tolist() == [False, True, False, True, False]
    assert len(turns) == 1
    assert turns[0].onset == pytest.approx(0.032)
    assert turns[0].end == pytest.approx(0.128)
    assert turns[0].known_at == pytest.approx(0.128 + 0.096)
