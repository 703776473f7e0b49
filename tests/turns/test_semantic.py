"""The semantic_vad rule with a scripted end-of-turn model: every rule, exact sample positions."""

from __future__ import annotations

import pytest

from openapiopenai.turns.config import EAGERNESS_MAX_WAIT_MS, SemanticVadConfig, TurnDetectionConfig
from openapiopenai.turns.detector import IdleTimeout, SpeechStarted, SpeechStopped, TurnDetector
from openapiopenai.turns.semantic import (
    EAGERNESS_THRESHOLD,
    FIRST_ASK_MS,
    REASK_MS,
    SemanticEvent,
    SemanticTurnDetector,
    TurnEndQuery,
)
from tests.turns.test_detector import Buffer

RATE = 16_000
FRAME = 160  # 10 ms: every millisecond setting falls on a frame boundary
MS = RATE // 1000
PREFIX = 300 * MS


#: onsets on the first speech frame, undated, so positions below are easy to read (the onset rules
#: themselves are the TurnDetector's, tested with their defaults in test_detector.py)
EXACT_ONSET = {"min_speech_duration_ms": 0, "warmup_ms": 0, "onset_lookback_ms": 0}


def detector(eagerness: str = "auto", buffer: Buffer | None = None, **vad: object) -> SemanticTurnDetector:
    settings = {**EXACT_ONSET, **vad}
    config = SemanticVadConfig(eagerness=eagerness, vad=TurnDetectionConfig(**settings))  # type: ignore[arg-type]
    return SemanticTurnDetector(config, sample_rate=RATE, frame_length=FRAME, buffer=buffer)


def push(det: SemanticTurnDetector, p: float, frames: int) -> list[SemanticEvent]:
    events: list[SemanticEvent] = []
    for _ in range(frames):
        events.extend(det.push(p))
    return events


def speak(det: SemanticTurnDetector, ms: int) -> list[SemanticEvent]:
    return push(det, 0.9, ms // 10)


def pause(det: SemanticTurnDetector, ms: int) -> list[SemanticEvent]:
    return push(det, 0.1, ms // 10)


def first_query(det: SemanticTurnDetector) -> TurnEndQuery:
    """Silence 1 s, speech 1 s, then silence until the first question; returns it."""
    pause(det, 1000)
    speak(det, 1000)
    events = pause(det, FIRST_ASK_MS)
    assert len(events) == 1 and isinstance(events[0], TurnEndQuery)
    return events[0]


def test_speech_started_exactly_as_server_vad() -> None:
    probs = [0.1] * 250 + [0.6] * 3 + [0.4] * 2 + [0.45] * 2 + [0.9] * 30
    semantic = SemanticTurnDetector(SemanticVadConfig(), sample_rate=RATE, frame_length=FRAME)
    server = TurnDetector(TurnDetectionConfig(), sample_rate=RATE, frame_length=FRAME)
    got = [e for p in probs for e in semantic.push(p)]
    want = [e for p in probs for e in server.push(p)]
    assert got == want
    assert [type(e) for e in got] == [SpeechStarted]


def test_the_first_question_comes_after_a_short_silence_and_covers_the_turn() -> None:
    det = detector()
    pause(det, 1000)
    assert speak(det, 1000) == [SpeechStarted(onset=1000 * MS, audio_start=700 * MS)]
    assert pause(det, FIRST_ASK_MS - 10) == []
    assert det.push(0.1) == [TurnEndQuery(query=1, start=700 * MS, end=(2000 + FIRST_ASK_MS) * MS)]
    assert det.pending_query == 1


def test_a_complete_answer_ends_the_turn_at_the_decision_point() -> None:
    det = detector()
    query = first_query(det)
    events = det.answer(query.query, 0.99)
    assert events == [SpeechStopped(speech_end=2000 * MS, audio_end=query.end, reason="model")]
    assert det.silent and det.buffer_start == query.end and det.pending_query is None


def test_a_late_answer_counts_the_silence_waited_for_it() -> None:
    det = detector()
    query = first_query(det)
    pause(det, 120)  # the model took 120 ms of audio time
    (stopped,) = det.answer(query.query, 0.99)
    assert isinstance(stopped, SpeechStopped)
    assert stopped.audio_end == query.end + 120 * MS == det.position


def test_an_incomplete_answer_waits_and_asks_again_as_silence_grows() -> None:
    det = detector()
    query = first_query(det)
    assert det.answer(query.query, 0.1) == []
    assert det.speaking
    assert pause(det, REASK_MS - 10) == []
    assert det.push(0.1) == [TurnEndQuery(query=2, start=query.start, end=query.end + REASK_MS * MS)]


def test_no_second_question_while_one_is_outstanding() -> None:
    det = detector()
    query = first_query(det)
    assert pause(det, 3 * REASK_MS) == []
    assert det.answer(query.query, 0.2) == []
    # the next question is overdue: it goes out with the next frame
    (again,) = det.push(0.1)
    assert isinstance(again, TurnEndQuery) and again.query == 2


def test_speech_resuming_before_the_decision_continues_the_same_turn() -> None:
    det = detector()
    query = first_query(det)
    assert speak(det, 500) == []  # no new SpeechStarted: the same turn goes on
    assert det.pending_query is None
    assert det.answer(query.query, 0.99) == []  # stale: it judged a pause that is over
    assert det.speaking
    (again,) = pause(det, FIRST_ASK_MS)
    assert isinstance(again, TurnEndQuery)
    assert (again.query, again.start) == (2, query.start)
    (stopped,) = det.answer(again.query, 0.99)
    assert isinstance(stopped, SpeechStopped) and stopped.speech_end == 2700 * MS


@pytest.mark.parametrize("eagerness", ["low", "medium", "high", "auto"])
def test_never_waits_longer_than_the_eagerness_maximum(eagerness: str) -> None:
    det = detector(eagerness)
    max_wait = EAGERNESS_MAX_WAIT_MS[eagerness]
    pause(det, 1000)
    speak(det, 1000)
    stops: list[SpeechStopped] = []
    for _ in range(max_wait // 10):
        for event in det.push(0.1):
            if isinstance(event, TurnEndQuery):
                assert det.answer(event.query, 0.0) == []
            elif isinstance(event, SpeechStopped):
                stops.append(event)
    assert stops == [SpeechStopped(speech_end=2000 * MS, audio_end=(2000 + max_wait) * MS, reason="max_wait")]
    assert det.silent


def test_each_eagerness_has_its_own_threshold() -> None:
    assert EAGERNESS_THRESHOLD["auto"] == EAGERNESS_THRESHOLD["medium"]
    assert EAGERNESS_THRESHOLD["low"] > EAGERNESS_THRESHOLD["medium"] > EAGERNESS_THRESHOLD["high"]
    between = (EAGERNESS_THRESHOLD["low"] + EAGERNESS_THRESHOLD["medium"]) / 2
    patient, normal = detector("low"), detector("medium")
    assert patient.answer(first_query(patient).query, between) == []
    assert len(normal.answer(first_query(normal).query, between)) == 1


def test_no_answer_falls_back_to_the_silence_window() -> None:
    det = detector(silence_duration_ms=500)
    query = first_query(det)
    assert det.answer(query.query, None) == []
    events = pause(det, 500 - FIRST_ASK_MS)
    assert events == [SpeechStopped(speech_end=2000 * MS, audio_end=2500 * MS, reason="silence")]


def test_no_answer_after_the_silence_window_ends_the_turn_at_once() -> None:
    det = detector(silence_duration_ms=100)
    query = first_query(det)
    pause(det, 50)
    events = det.answer(query.query, None)
    assert events == [SpeechStopped(speech_end=2000 * MS, audio_end=det.position, reason="silence")]


def test_the_fallback_lasts_only_for_its_pause() -> None:
    det = detector(silence_duration_ms=500)
    query = first_query(det)
    det.answer(query.query, None)
    speak(det, 100)
    (again,) = pause(det, FIRST_ASK_MS)  # a new pause asks the model again
    assert isinstance(again, TurnEndQuery) and again.query == 2


def test_unknown_and_stale_answers_are_ignored() -> None:
    det = detector()
    assert det.answer(1, 1.0) == []
    query = first_query(det)
    assert det.answer(query.query + 1, 1.0) == []
    assert det.answer(query.query, 1.0) != []
    assert det.answer(query.query, 1.0) == []  # the turn is over
    det2 = detector()
    q2 = first_query(det2)
    det2.reset(det2.position)
    assert det2.answer(q2.query, 1.0) == [] and det2.silent


def test_queries_keep_increasing_across_turns_and_the_next_turn_starts_fresh() -> None:
    det = detector()
    query = first_query(det)
    det.answer(query.query, 1.0)
    pause(det, 500)
    (started,) = speak(det, 500)
    assert started == SpeechStarted(onset=query.end + 500 * MS, audio_start=query.end + 200 * MS)
    (again,) = pause(det, FIRST_ASK_MS)
    assert again == TurnEndQuery(query=2, start=started.audio_start, end=det.position)


def test_padding_never_reaches_before_the_decision_point() -> None:
    det = detector()
    query = first_query(det)
    det.answer(query.query, 1.0)
    (started,) = speak(det, 100)
    assert started == SpeechStarted(onset=query.end, audio_start=query.end)


def test_finish_closes_a_turn_in_progress_and_forgets_the_question() -> None:
    det = detector()
    query = first_query(det)
    events = det.finish(det.position + 50 * MS)
    assert events == [SpeechStopped(speech_end=2000 * MS, audio_end=2250 * MS, reason="end_of_stream")]
    assert det.answer(query.query, 1.0) == []
    assert det.finish() == []


def test_max_speech_duration_and_idle_timeout_work_as_in_server_vad() -> None:
    det = detector(max_speech_duration_ms=1000, idle_timeout_ms=5000)
    (started,) = speak(det, 100)
    assert isinstance(started, SpeechStarted)
    (stopped,) = speak(det, 900)
    assert stopped == SpeechStopped(speech_end=1000 * MS, audio_end=1000 * MS, reason="max_duration")
    (idle,) = pause(det, 5000)
    assert idle == IdleTimeout(audio_start=1000 * MS, audio_end=6000 * MS)


def test_configure_mid_turn_applies_the_new_eagerness() -> None:
    det = detector("low")
    query = first_query(det)
    det.configure(SemanticVadConfig(eagerness="high"))
    assert det.config.eagerness == "high" and det.threshold == EAGERNESS_THRESHOLD["high"]
    assert det.answer(query.query, EAGERNESS_THRESHOLD["high"]) != []


def test_the_detector_surface_follows_the_onset_detector() -> None:
    buffer = Buffer()
    det = detector(buffer=buffer, prefix_padding_ms=300)
    assert det.silent and not det.speaking and not det.frame_speech
    pause(det, 1000)
    assert det.earliest_turn_start() == 700 * MS
    buffer.start = 900 * MS
    assert det.buffer_start == 900 * MS and det.earliest_turn_start() == 900 * MS
    det.push(0.9)
    assert det.speaking and det.frame_speech and det.position == 1010 * MS


def test_the_onset_detector_reads_the_same_buffer_start() -> None:
    buffer = Buffer()
    det = detector(buffer=buffer, prefix_padding_ms=300)
    pause(det, 1000)
    buffer.start = 950 * MS
    (started,) = det.push(0.9)
    assert started == SpeechStarted(onset=1000 * MS, audio_start=950 * MS)
