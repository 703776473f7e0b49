"""semantic_vad inside the Session: questions handed to the shell as TurnEndRequests, answers back."""

from __future__ import annotations

import json
from typing import Any

from openapiopenai.protocol.session import Session
from openapiopenai.protocol.work import TURN_END_WINDOW_MS, TranscriptionRequest, TurnEndRequest
from tests.protocol.test_session import TURN, append, send, types
from tests.protocol.test_work import session_with, update
from tests.sdk import validate_beta
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


# ---------------------------------------------------------------- beta dialect, success path


def answered_turn(session: Session, probability: float = 0.99) -> list[dict[str, Any]]:
    """A turn with a pause, its question answered: every event the session sent for it."""
    events = send(session, append(TURN))
    (request,) = questions(session)
    session.receive_turn_end(request.query, probability)
    return events + [json.loads(e) for e in session.events_to_send()]


def test_beta_session_update_takes_semantic_vad_and_ends_turns_on_the_answer() -> None:
    session = session_with(dialect="beta", model_name="gpt-4o-realtime-preview")
    td = {"type": "semantic_vad", "eagerness": "high", "interrupt_response": False}
    (updated,) = send(session, {"type": "session.update", "session": {"turn_detection": td}})
    validate_beta(json.dumps(updated))
    assert updated["type"] == "session.updated"
    assert updated["session"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "high",
        "create_response": False,  # this server never creates responses
        "interrupt_response": False,
    }
    events = answered_turn(session)
    for event in events:
        validate_beta(json.dumps(event))
    assert types(events) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.created",
    ]
    # a partial update keeps semantic_vad and its eagerness
    (again,) = send(session, {"type": "session.update", "session": {"instructions": "hi"}})
    assert again["session"]["turn_detection"]["eagerness"] == "high"


def test_beta_transcription_session_update_takes_semantic_vad() -> None:
    session = session_with(intent="transcription", dialect="beta")
    payload = {
        "input_audio_transcription": {"model": "whisper-1"},
        "turn_detection": {"type": "semantic_vad", "eagerness": "low"},
    }
    (updated,) = send(session, {"type": "transcription_session.update", "session": payload})
    validate_beta(json.dumps(updated))
    assert updated["type"] == "transcription_session.updated"
    assert updated["session"]["turn_detection"] == {"type": "semantic_vad", "eagerness": "low"}
    events = answered_turn(session)
    for event in events:
        validate_beta(json.dumps(event))
    assert types(events)[:3] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]
    assert any(isinstance(w, TranscriptionRequest) for w in session.work_to_do())


# ---------------------------------------------------------------- clear / commit while a question waits


def test_clear_while_a_question_is_pending_drops_it_and_the_turn() -> None:
    session = semantic_session()
    started = send(session, append(TURN))
    (request,) = questions(session)
    assert session.pending_turn_end == request.query
    assert types(send(session, {"type": "input_audio_buffer.clear"})) == ["input_audio_buffer.cleared"]
    assert session.pending_turn_end is None
    session.receive_turn_end(request.query, 0.99)  # the answer arrives late: nothing to end
    assert session.events_to_send() == []
    # the next turn is a new one, asked about afresh
    later = send(session, append(TURN))
    assert types(later) == ["input_audio_buffer.speech_started"]
    assert later[0]["item_id"] != started[0]["item_id"]
    (fresh,) = questions(session)
    assert fresh.query > request.query


def test_commit_while_a_question_is_pending_commits_the_turn_and_drops_the_question() -> None:
    session = semantic_session()
    started = send(session, append(TURN))
    (request,) = questions(session)
    events = send(session, {"type": "input_audio_buffer.commit"})
    assert types(events) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert events[0]["item_id"] == started[0]["item_id"]
    assert session.pending_turn_end is None
    session.receive_turn_end(request.query, 0.99)  # stale: no speech_stopped after the commit
    assert session.events_to_send() == []
    later = send(session, append(TURN))
    assert types(later) == ["input_audio_buffer.speech_started"]
    assert later[0]["item_id"] != started[0]["item_id"]
    (fresh,) = questions(session)
    session.receive_turn_end(fresh.query, 0.99)
    ended = [json.loads(e) for e in session.events_to_send()]
    assert types(ended)[:2] == ["input_audio_buffer.speech_stopped", "input_audio_buffer.committed"]
    assert ended[1]["item_id"] == later[0]["item_id"]
