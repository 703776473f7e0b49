"""The harness feeds our detector exactly as the Session does, and chunking never matters."""

from __future__ import annotations

import numpy as np
import pytest

from openapiopenai.audio import formats
from openapiopenai.evaluation.runner import Scored, iterator_turns, run_detector, score_audio, wire_bytes
from openapiopenai.turns.config import TurnDetectionConfig
from openapiopenai.turns.detector import TurnDetector
from openapiopenai.vad.registry import load_model

RATE = 24_000
FRAME = 768  # a Silero frame (512 at 16 kHz) on the 24 kHz input timeline


def scripted(probabilities: list[float]) -> Scored:
    p = np.array(probabilities, dtype=np.float32)
    return Scored(p, np.full(len(p), -30.0), FRAME, RATE, len(p) * FRAME)


def test_frame_decisions_are_the_detectors_own_threshold_decisions() -> None:
    run = run_detector(
        scripted([0.0, 0.6, 0.4, 0.6] + [0.0] * 20), TurnDetectionConfig(silence_duration_ms=96)
    )
    assert run.decisions[:5].tolist() == [False, True, False, True, False]
    (turn,) = run.turns
    assert turn.onset == pytest.approx(0.032)
    assert turn.end == pytest.approx(0.128)
    assert turn.known_at == pytest.approx(0.128 + 0.096)


def test_frame_decision_cells_follow_the_frames_under_each_cell_centre() -> None:
    run = run_detector(scripted([0.0, 0.9, 0.0, 0.0]), TurnDetectionConfig(silence_duration_ms=32))
    assert run.speech == [(pytest.approx(0.032), pytest.approx(0.064))]
    assert run.cells(10).tolist() == [False] * 3 + [True] * 3 + [False] * 4


def test_a_detector_that_dates_onsets_back_has_its_frame_decision_dated_back_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(TurnDetector, "onset_lookback", FRAME, raising=False)
    run = run_detector(scripted([0.0, 0.0, 0.9, 0.0, 0.9]), TurnDetectionConfig(silence_duration_ms=500))
    assert run.speech == [
        (pytest.approx(0.032), pytest.approx(0.096)),
        (pytest.approx(0.096), pytest.approx(0.160)),
    ]
    first = run_detector(scripted([0.9, 0.0]), TurnDetectionConfig()).speech[0]
    assert first[0] == 0.0  # clamped at the stream start


def test_frame_decisions_follow_the_detectors_hysteresis_when_configured() -> None:
    config = TurnDetectionConfig(exit_threshold=0.35, silence_duration_ms=96)
    run = run_detector(scripted([0.0, 0.6, 0.4, 0.3, 0.4] + [0.0] * 10), config)
    assert run.decisions[:5].tolist() == [False, True, True, False, False]


def test_a_turn_open_at_the_end_of_the_stream_is_closed_at_its_last_speech_frame() -> None:
    (turn,) = run_detector(scripted([0.0, 0.9, 0.9]), TurnDetectionConfig()).turns
    assert (turn.onset, turn.end, turn.known_at) == pytest.approx((0.032, 0.096, 0.096))


def test_vaditerator_turns_use_the_silence_window_and_no_padding() -> None:
    (turn,) = iterator_turns(
        scripted([0.0, 0.9, 0.9] + [0.0] * 20), TurnDetectionConfig(silence_duration_ms=96)
    )
    assert turn.onset == pytest.approx(0.032)
    assert turn.end == pytest.approx(0.096)
    # the pending end is marked at the end of the first silent frame (128 ms); 96 ms later: 224 ms
    assert turn.known_at == pytest.approx(0.224)


@pytest.mark.parametrize("fmt", [formats.PCM16_24K, formats.PCMU, formats.PCMA], ids=lambda f: f.ga_type)
def test_scores_do_not_depend_on_how_the_audio_is_chunked(fmt: formats.AudioFormat) -> None:
    rng = np.random.default_rng(3)
    t = np.arange(16_000 * 2) / 16_000
    samples = (0.3 * np.sin(2 * np.pi * 220 * t) * (t > 0.7) + 0.01 * rng.standard_normal(len(t))).astype(
        np.float32
    )
    audio = wire_bytes(samples, 16_000, fmt)
    for name in ("silero", "energy"):
        model = load_model(name)
        a = score_audio(model, audio, fmt, chunk_ms=20)
        b = score_audio(model, audio, fmt, chunk_ms=100)
        c = score_audio(model, audio, fmt, chunk_ms=7)
        assert a.probabilities.tolist() == b.probabilities.tolist() == c.probabilities.tolist()
        assert a.total_samples == len(audio) // fmt.bytes_per_sample
        assert a.sample_rate == fmt.sample_rate


def test_telephony_audio_is_g711_at_8_khz_and_decodes_back_close_to_the_original() -> None:
    t = np.arange(8000) / 8000
    samples = (0.25 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    for fmt in (formats.PCMU, formats.PCMA):
        audio = wire_bytes(samples, 8000, fmt)
        assert len(audio) == 8000
        assert np.max(np.abs(formats.decode(fmt, audio) - samples)) < 0.01
    assert len(wire_bytes(samples, 8000, formats.PCM16_24K)) == 2 * 24_000


def test_the_studys_current_rule_reproduces_the_detector_exactly() -> None:
    from openapiopenai.evaluation.candidates import Candidate, apply

    p = [0.0, 0.6, 0.4, 0.6, 0.7, 0.2] + [0.0] * 20 + [0.9, 0.9, 0.1]
    scored, config = scripted(p), TurnDetectionConfig()
    cells, turns = apply(Candidate("current"), scored, 80, config)
    run = run_detector(scored, config)
    assert cells.tolist() == run.cells(80).tolist()
    assert turns == run.turns


def test_the_studys_onset_lookback_dates_every_run_one_frame_earlier() -> None:
    from openapiopenai.evaluation.candidates import Candidate, apply

    cells, turns = apply(
        Candidate("lookback", lookback=1), scripted([0.0, 0.0, 0.9] + [0.0] * 30), 20, TurnDetectionConfig()
    )
    assert cells.tolist()[:11] == [False] * 3 + [True] * 7 + [False]  # 32 ms .. 96 ms
    assert turns[0].onset == pytest.approx(0.032)
