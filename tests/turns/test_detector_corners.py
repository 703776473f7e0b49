"""Corners of the server_vad rule and its settings that the main tests leave out: a turn whose
minimum already exceeds its maximum, a commit while an onset is pending, the batch API, and
the ``semantic_vad`` settings' own checks."""

from __future__ import annotations

import pytest

from openapiopenai.exceptions import ConfigError
from openapiopenai.turns import SpeechStarted, SpeechStopped, TurnDetectionConfig, TurnDetector
from openapiopenai.turns.config import EAGERNESS_MAX_WAIT_MS, SemanticVadConfig
from tests.turns.test_detector import FRAME, MS, RATE, Buffer, detector, run


@pytest.mark.parametrize(("sample_rate", "frame_length"), [(RATE, 0), (0, FRAME), (RATE, -1)])
def test_a_detector_needs_positive_frames_and_rate(sample_rate: int, frame_length: int) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        TurnDetector(TurnDetectionConfig(), sample_rate=sample_rate, frame_length=frame_length)


def test_a_turn_reaching_its_maximum_as_it_starts_stops_on_the_same_frame() -> None:
    # three frames of speech are needed to start, but two are the most a turn may last
    det = detector(prefix_padding_ms=0, min_speech_duration_ms=3 * 32, max_speech_duration_ms=2 * 32)
    events = run(det, [0.0] * 5 + [0.9] * 3)
    assert events == [
        (7, SpeechStarted(onset=5 * FRAME, audio_start=5 * FRAME)),
        (7, SpeechStopped(speech_end=8 * FRAME, audio_end=8 * FRAME, reason="max_duration")),
    ]
    assert det.silent  # the next speech frame is a new onset
    assert run(det, [0.9] * 3)[0][1] == SpeechStarted(onset=8 * FRAME, audio_start=8 * FRAME)


def test_a_one_frame_maximum_stops_every_turn_as_it_starts() -> None:
    events = run(detector(prefix_padding_ms=0, max_speech_duration_ms=32), [0.0, 0.9, 0.0])
    assert [(i, type(e).__name__) for i, e in events] == [(1, "SpeechStarted"), (1, "SpeechStopped")]
    stopped = events[1][1]
    assert isinstance(stopped, SpeechStopped) and stopped.audio_end == 2 * FRAME


def test_a_commit_while_an_onset_is_pending_clamps_its_padding() -> None:
    buffer = Buffer()
    det = detector(buffer, min_speech_duration_ms=64, idle_timeout_ms=1000)
    run(det, [0.0] * 20 + [0.9])  # an onset at frame 20, not yet a turn
    assert not det.silent and not det.speaking
    committed_to = 20 * FRAME - 100 * MS
    buffer.start = committed_to
    ((_, started),) = run(det, [0.9])
    assert started == SpeechStarted(onset=20 * FRAME, audio_start=committed_to)  # not 300 ms before


def test_a_commit_while_silent_restarts_the_idle_timer_there() -> None:
    buffer = Buffer()
    det = detector(buffer, idle_timeout_ms=1000)
    run(det, [0.0] * 20)
    buffer.start = 20 * FRAME
    assert det.earliest_turn_start() == 20 * FRAME
    timeouts = [(i, e) for i, e in run(det, [0.0] * 40) if type(e).__name__ == "IdleTimeout"]
    assert [i for i, _ in timeouts] == [31]  # 1000 ms = 31.25 frames after the commit


def test_push_many_gives_what_pushing_frame_by_frame_gives() -> None:
    probs = [0.0] * 10 + [0.9] * 10 + [0.0] * 30 + [0.9] * 5
    levels = [-80.0] * 10 + [-20.0] * 10 + [-80.0] * 30 + [-60.0] * 5
    one_by_one = detector(min_level_dbfs=-40.0)
    expected = [event for p, level in zip(probs, levels, strict=True) for event in one_by_one.push(p, level)]
    batch = detector(min_level_dbfs=-40.0)
    assert batch.push_many(probs, levels) == expected
    assert len(expected) == 2  # the last, quiet speech is below the loudness floor
    assert detector(min_level_dbfs=-40.0).push_many(probs) == [
        *expected,
        SpeechStarted(50 * FRAME, 50 * FRAME - 300 * MS),
    ]


def test_a_config_survives_a_round_trip_through_its_dict() -> None:
    config = TurnDetectionConfig(threshold=0.6, exit_threshold=0.4, idle_timeout_ms=6000)
    as_dict = config.to_dict()
    assert as_dict["threshold"] == 0.6 and as_dict["idle_timeout_ms"] == 6000
    assert TurnDetectionConfig(**as_dict) == config
    assert TurnDetectionConfig().merged(**as_dict) == config


def test_semantic_eagerness_sets_the_longest_wait() -> None:
    assert [SemanticVadConfig(eagerness=e).max_wait_ms for e in ("low", "medium", "high")] == [
        8000,
        4000,
        2000,
    ]
    assert SemanticVadConfig().max_wait_ms == SemanticVadConfig(eagerness="medium").max_wait_ms
    assert set(EAGERNESS_MAX_WAIT_MS) == {"low", "medium", "high", "auto"}


def test_an_unknown_eagerness_is_refused() -> None:
    with pytest.raises(ConfigError, match="eagerness must be one of"):
        SemanticVadConfig(eagerness="eager")  # type: ignore[arg-type]
