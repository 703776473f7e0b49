"""The turn-taking evaluation: pauses inserted at word gaps, cut-offs and end-of-turn latency."""

from __future__ import annotations

import json

import numpy as np
import pytest

from openapiopenai.cli import main
from openapiopenai.evaluation.turn_taking import (
    FRAME,
    PAUSE_RANGE_S,
    RATE,
    TAIL_S,
    TurnTakingCase,
    TurnTakingResult,
    _score,
    build_cases,
    evaluate_turn_taking,
    table,
    word_gaps,
)
from openapiopenai.turns.detector import SpeechStopped
from tests.audio._data import shared_dataset


def test_word_gaps_are_non_speech_runs_away_from_the_ends() -> None:
    second = RATE // FRAME  # frames per ~second
    probs = [1.0] * (3 * second) + [0.1] * 3 + [1.0] * (3 * second) + [0.1] * 1 + [1.0] * (3 * second)
    gaps = word_gaps(probs, 0, len(probs) * FRAME)
    assert gaps == [(3 * second * FRAME, (3 * second + 3) * FRAME)]  # the 1-frame dip is too short
    assert word_gaps(probs, 0, (3 * second + 10) * FRAME) == []  # too close to the end


def test_cases_stretch_real_word_gaps_into_pauses_and_keep_the_true_end() -> None:
    libri = shared_dataset("librispeech-dev")
    cases = build_cases(libri, limit_files=3)
    assert sum(len(case.pauses) for case in cases) >= 2
    for case in cases:
        assert len(case.pauses) <= 2
        for start, end in case.pauses:
            assert PAUSE_RANGE_S[0] * RATE <= end - start
            assert case.end - end > RATE  # inserted well inside the sentence
        assert len(case.audio) == case.end + int(TAIL_S * RATE)
    assert [c.pauses for c in build_cases(libri, limit_files=3)] == [c.pauses for c in cases]  # fixed seed


def test_scoring_counts_cut_offs_other_stops_and_the_final_latency() -> None:
    case = TurnTakingCase("x", np.zeros(10 * RATE, dtype=np.float32), ((RATE, 2 * RATE),), 5 * RATE)
    result = TurnTakingResult("d", "s")
    stops = [
        SpeechStopped(speech_end=RATE, audio_end=RATE + RATE // 2),  # in the inserted pause
        SpeechStopped(speech_end=3 * RATE, audio_end=3 * RATE + RATE // 2),  # elsewhere mid-sentence
        SpeechStopped(speech_end=5 * RATE, audio_end=5 * RATE + RATE // 4),  # the true end
    ]
    _score(result, case, stops)
    assert (result.pauses, result.cut_offs, result.other_stops) == (1, 1, 1)
    assert result.latencies_ms == [250.0]
    assert result.row()["cut_off_rate"] == 1.0


@pytest.fixture(scope="module")
def two_cases() -> list[TurnTakingCase]:
    libri = shared_dataset("librispeech-dev")
    return build_cases(libri, limit_files=3)


def test_a_model_that_always_says_incomplete_waits_the_maximum_and_never_cuts(
    two_cases: list[TurnTakingCase],
) -> None:
    results = evaluate_turn_taking(two_cases, lambda audio: 0.0, silences_ms=(500,), eagernesses=("auto",))
    server, semantic = results
    assert server.cut_off_rate == 1.0  # every inserted pause is longer than 500 ms
    assert semantic.cut_offs == 0
    # the maximum wait, counted from the VAD's last speech frame (a little after the labelled end)
    assert all(3900 <= ms <= 4500 for ms in semantic.latencies_ms)
    assert semantic.questions > semantic.asked_pauses > 0
    assert "semantic_vad" in table(results)


def test_without_a_model_only_server_vad_is_measured(two_cases: list[TurnTakingCase]) -> None:
    results = evaluate_turn_taking(two_cases, None, silences_ms=(200, 1200))
    assert [r.detector for r in results] == ["server_vad", "server_vad"]
    assert results[0].latency(50) < results[1].latency(50)


def test_eval_turn_taking_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    libri = shared_dataset("librispeech-dev")
    assert main(["eval", "--turn-taking", "--json", "--limit-files", "2", str(libri)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["detector"] for r in rows} == {"server_vad", "semantic_vad"}
    assert all(r["inserted_pauses"] >= 1 for r in rows)
