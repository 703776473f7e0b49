"""Regression guard on issue 11's target, on the full turn-taking evaluation (real model, real
speech; skips without the shared LibriSpeech recordings, fails in CI where they are required).

At eagerness ``auto``: fewer than half the mid-utterance cut-offs of ``server_vad`` at 500 ms, and
end-of-turn latency p50 under 1 s at the true sentence ends. Checked on the draw of pauses the
thresholds were chosen on (seed 11) and on a held-out draw (seed 23: the same 38 sentences, other
word gaps and pause lengths); numbers in docs/semantic-vad.md. Only the two rows the target names
are run: 32 s of CPU per draw (37 s wall at load average 4.5, 97 s with ~9 jobs on the 2 cores).
"""

from __future__ import annotations

import pytest

from openapiopenai.evaluation.turn_taking import SEED, build_cases, evaluate_turn_taking
from openapiopenai.vad.smart_turn import SmartTurnModel
from tests.audio._data import shared_dataset

HELD_OUT_SEED = 23


@pytest.fixture(scope="module")
def model() -> SmartTurnModel:
    return SmartTurnModel()


@pytest.mark.slow
@pytest.mark.timeout(900)  # 32 s of CPU per draw; a loaded 2-core machine took 97 s
@pytest.mark.parametrize("seed", [SEED, HELD_OUT_SEED])
def test_auto_halves_server_vad_cut_offs_at_a_p50_under_1_s(seed: int, model: SmartTurnModel) -> None:
    cases = build_cases(shared_dataset("librispeech-dev"), seed=seed)
    server, auto = evaluate_turn_taking(cases, model.predict, silences_ms=(500,), eagernesses=("auto",))
    assert auto.setting.startswith("eagerness=auto")
    assert auto.pauses == server.pauses >= 50
    assert auto.cut_offs < server.cut_offs / 2, (auto.cut_offs, server.cut_offs)
    assert len(auto.latencies_ms) >= 35  # nearly every sentence's true end was reached
    assert auto.latency(50) < 1000, auto.latency(50)
