"""semantic_vad inside the Session: questions handed to the shell as TurnEndRequests, answers back."""

from __future__ import annotations

import json

from openapiopenai.protocol.session import Session
from openapiopenai.protocol.work import TURN_END_WINDOW_MS, TurnEndRequest
from tests.protocol.test_session import TURN, append, send, types
from tests.protocol.test_work import session_with, update
from tests.synth import pcm16, silence, tone

SEMANTIC = {"turn_detection": {"type": "semantic_vad"}}


def semantic_session() -> Session:
    session = session_with()
    (updated,) = update(session, SEMANTIC)
    assert updated["session"]["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    return session


def questions(session: Session) -> list[TurnEndRequest]:
    return [w for w in session.work_to_do() if isinstance(w, TurnEndRequest)]


def test_a_pause_becomes_a_question_with_the_turns_audio() -> None:
    session = semantic_session()
    assert types(send(session, append(TURN))) == ["input_audio_buffer.speech_started"]
    (request,) = questions(session)
    assert session.pending_turn_end == request.query
    # prefix padding (300 ms) + the tone (640 ms) + the silence before the question (224 ms)
    assert request.audio.seconds * 1000 == 300 + 640 + 224
    assert request.audio.format.sample_rate == 24_000
    assert questions(session) == []  # handed out once


def test_a_complete_answer_ends_and_commits_the_turn() -> None:
    session = semantic_session()
    send(session, append(TURN))
    (request,) = questions(session)
    session.receive_turn_end(request.query, 0.99)
    events = [json.loads(e) for e in session.events_to_send()]
    assert types(events)[:2] == ["input_audio_buffer.speech_stopped", "input_audio_buffer.committed"]
    assert events[0]["audio_end_ms"] >= 1024 + 640 + 224
    assert session.pending_turn_end is None
    session.receive_turn_end(request.query, 0.99)  # stale now
    assert session.events_to_send() == []


def test_an_incomplete_answer_waits_and_no_answer_falls_back_to_silence() -> None:
    session = semantic_session()
    send(session, append(TURN))
    (request,) = questions(session)
    session.receive_turn_end(request.query, 0.1)
    assert session.events_to_send() == []
    send(session, append(pcm16(silence(512))))
    (again,) = questions(session)
    assert again.query > request.query
    session.receive_turn_end(again.query, None)  # 1.5 s of silence heard: past the 500 ms window
    assert "input_audio_buffer.speech_stopped" in [json.loads(e)["type"] for e in session.events_to_send()]


def test_a_question_carries_at_most_the_last_eight_seconds() -> None:
    session = semantic_session()
    send(session, append(pcm16(silence(1024), tone(10_240), silence(1024))))
    (request,) = questions(session)
    assert request.audio.seconds * 1000 == TURN_END_WINDOW_MS


def test_switching_between_server_vad_and_semantic_vad_mid_session() -> None:
    session = semantic_session()
    update(session, {"turn_detection": {"type": "server_vad", "silence_duration_ms": 500}})
    assert types(send(session, append(TURN)))[:2] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    ]
    assert questions(session) == []
    update(session, {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}})
    send(session, append(TURN))
    assert len(questions(session)) == 1
    update(session, {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}})  # same rule: kept
    assert session.pending_turn_end is not None


def test_speech_resuming_drops_the_question() -> None:
    session = semantic_session()
    send(session, append(pcm16(silence(1024), tone(640), silence(320))))
    (request,) = questions(session)
    send(session, append(pcm16(tone(320), silence(100))))
    assert session.pending_turn_end is None
    session.receive_turn_end(request.query, 0.99)
    assert session.events_to_send() == []
