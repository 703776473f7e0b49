"""Accuracy metrics on hand-made inputs whose answers are known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from openapiopenai.evaluation.metrics import (
    Counts,
    Turn,
    TurnStats,
    cells_from_frames,
    cells_from_segments,
    merge,
    n_cells,
    roc_auc,
)


def brute_force_auc(scores: list[float], labels: list[bool]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auc_is_one_for_perfect_and_zero_for_inverted_scores() -> None:
    labels = np.array([0, 0, 1, 1], dtype=bool)
    assert roc_auc([0.1, 0.2, 0.8, 0.9], labels) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], labels) == 0.0


def test_auc_counts_ties_as_half_a_win() -> None:
    labels = np.array([0, 0, 1, 1], dtype=bool)
    assert roc_auc([0.5, 0.5, 0.5, 0.5], labels) == 0.5
    assert roc_auc([0.1, 0.6, 0.4, 0.9], labels) == 0.75
    assert roc_auc([0.0, 1.0, 1.0, 1.0], labels) == 0.75


def test_auc_matches_pairwise_counting_on_random_tied_scores() -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 5, 200).astype(float).tolist()
    labels = (rng.random(200) < 0.3).tolist()
    assert roc_auc(scores, labels) == pytest.approx(brute_force_auc(scores, labels))


def test_auc_of_random_scores_is_about_one_half() -> None:
    rng = np.random.default_rng(0)
    assert roc_auc(rng.random(20_000), rng.random(20_000) < 0.5) == pytest.approx(0.5, abs=0.02)


def test_auc_is_undefined_with_a_single_class() -> None:
    assert np.isnan(roc_auc([0.1, 0.9], [True, True]))


def test_f1_precision_and_recall_from_pooled_counts() -> None:
    counts = Counts()
    counts.add(np.array([1, 1, 0, 0], dtype=bool), np.array([1, 0, 1, 0], dtype=bool))
    assert (counts.tp, counts.fp, counts.fn, counts.tn) == (1, 1, 1, 1)
    assert counts.precision == counts.recall == counts.f1 == 0.5
    counts.add(np.array([1, 1, 1], dtype=bool), np.array([1, 1, 1], dtype=bool))
    assert counts.precision == pytest.approx(4 / 5)
    assert counts.recall == pytest.approx(4 / 5)
    assert counts.f1 == pytest.approx(4 / 5)


def test_f1_is_zero_when_nothing_is_predicted() -> None:
    counts = Counts()
    counts.add(np.zeros(3, dtype=bool), np.ones(3, dtype=bool))
    assert counts.f1 == 0.0


def test_cells_take_the_label_of_the_segment_under_their_centre() -> None:
    assert n_cells(0.05) == 5
    assert cells_from_segments([(0.0, 0.02)], 5).tolist() == [True, True, False, False, False]
    assert cells_from_segments([(0.016, 0.031)], 5).tolist() == [False, False, True, False, False]


def test_cells_take_the_model_frame_under_their_centre() -> None:
    # 32 ms frames: cell centres 5, 15, 25 ms lie in frame 0; 35 .. 55 ms in frame 1; 65 ms in frame 2
    values = cells_from_frames([0.1, 0.7], 0.032, 7, fill=-1.0)
    assert values.tolist() == [0.1, 0.1, 0.1, 0.7, 0.7, 0.7, -1.0]


def test_truth_is_merged_across_pauses_shorter_than_the_silence_window() -> None:
    assert merge([(0, 1), (1.3, 2), (3, 4)], 0.5) == [(0, 2), (3, 4)]
    assert merge([(0, 1), (0.5, 0.8)], 0.0) == [(0, 1)]


def test_turn_stats_count_missed_split_and_false_starts() -> None:
    stats = TurnStats()
    speech = [(1.0, 2.0), (5.0, 6.0), (8.0, 9.0)]
    turns = [
        Turn(1.1, 1.5, 2.0),  # first half of turn 1
        Turn(1.6, 2.0, 2.5),  # second half: turn 1 split in two
        Turn(5.0, 6.0, 6.5),  # turn 2 exact
        Turn(3.0, 3.5, 4.0),  # no speech there: a false start
    ]  # turn 3 missed
    stats.add(turns, speech, 10.0, silence_s=0.05)
    summary = stats.summary()
    assert (summary["true_turns"], summary["missed"], summary["split"], summary["merged"]) == (3, 1, 1, 0)
    assert summary["false_starts"] == 1
    assert summary["false_starts_per_min"] == pytest.approx(1 / (7 / 60))
    assert stats.onset_errors_ms == pytest.approx([100.0, 0.0])
    assert stats.eot_latencies_ms == pytest.approx([500.0, 500.0])


def test_one_turn_over_two_true_turns_counts_as_merged_and_times_only_its_own_ends() -> None:
    stats = TurnStats()
    stats.add([Turn(0.9, 4.2, 4.7)], [(1.0, 2.0), (3.0, 4.0)], 6.0, silence_s=0.5)
    summary = stats.summary()
    assert (summary["missed"], summary["split"], summary["merged"]) == (0, 0, 1)
    assert stats.onset_errors_ms == pytest.approx([100.0])  # the first turn's onset only
    assert stats.eot_latencies_ms == pytest.approx([700.0])  # the second turn's end only


def test_a_pause_shorter_than_the_silence_window_is_not_a_turn_end() -> None:
    stats = TurnStats()
    stats.add([Turn(1.0, 2.5, 3.0)], [(1.0, 1.5), (1.8, 2.5)], 4.0, silence_s=0.5)
    assert (stats.true_turns, stats.merged, stats.split) == (1, 0, 0)
    assert stats.spans.f1 == 1.0


def test_false_starts_are_counted_per_minute_of_non_speech_in_speechless_files() -> None:
    stats = TurnStats()
    stats.add([Turn(10.0, 11.0, 11.5), Turn(20.0, 21.0, 21.5)], [], 60.0, silence_s=0.5)
    assert stats.summary()["false_starts_per_min"] == pytest.approx(2.0)
    assert stats.true_turns == 0
