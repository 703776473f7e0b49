"""Session corners the main tests do not reach: client events that land while frames are still
being scored (the server's normal situation), nesting a client can send but a model cannot
serialise, stale answers from the shell, and models whose frames do not fit the input format."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openapiopenai.exceptions import AudioFormatError
from openapiopenai.protocol.session import MAX_EVENT_DEPTH, Session, SessionLimits
from tests.protocol.test_session import TURN, append, new_session, pump, send, types
from tests.protocol.test_work import session_with, transcribing, update
from tests.synth import LoudnessModel, pcm16, tone


def received(session: Session) -> list[dict[str, Any]]:
    return [json.loads(text) for text in session.events_to_send()]


def tools_nested(depth: int) -> str:
    """A session.update whose tool schema nests ``depth`` arrays (valid JSON, any depth)."""
    nested = "[" * depth + "]" * depth
    tool = '{"type": "function", "name": "f", "parameters": {"x": ' + nested + "}}"
    return (
        '{"type": "session.update", "event_id": "deep", "session": {"type": "realtime", "tools": ['
        + tool
        + "]}}"
    )


# ---------------------------------------------------------------- nesting


@pytest.mark.parametrize("depth", [300, 900])
def test_nesting_too_deep_to_serialise_is_an_error_not_a_crash(depth: int) -> None:
    # json.loads accepts it, but pydantic cannot dump it back: this used to raise out of the
    # session (the server closed it with 1011 and logged a traceback)
    session = new_session()
    session.receive_text(tools_nested(depth))
    (error,) = received(session)
    assert (error["type"], error["error"]["code"]) == ("error", "invalid_event")
    assert "nested too deeply" in error["error"]["message"]
    assert error["error"]["event_id"] == "deep"
    assert types(send(session, append(TURN)))[:2] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    ]


def test_nesting_up_to_the_limit_is_accepted_and_echoed() -> None:
    session = new_session()
    # event > session > tools > tool > parameters: 5 levels before the arrays
    session.receive_text(tools_nested(MAX_EVENT_DEPTH - 5))
    (updated,) = received(session)
    assert updated["type"] == "session.updated"
    assert updated["session"]["tools"][0]["name"] == "f"
    session.receive_text(tools_nested(MAX_EVENT_DEPTH - 4))
    (error,) = received(session)
    assert error["error"]["code"] == "invalid_event"


def test_too_deep_event_while_frames_are_scored_is_reported_after_their_events() -> None:
    session = new_session()
    session.receive_text(json.dumps(append(TURN)))
    session.receive_text(tools_nested(MAX_EVENT_DEPTH + 1))
    assert session.events_to_send() == []
    pump(session)
    events = received(session)
    assert types(events)[:2] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"]
    assert types(events)[-1] == "error" and events[-1]["error"]["event_id"] == "deep"


#: a pattern of nesting levels, repeated to the depth drawn: arrays, or objects under a key
pattern = st.lists(st.sampled_from(["[", '{"x": ']), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(1, 1100), kinds=pattern, where=st.sampled_from(["tool", "item", "unknown"]))
def test_any_nesting_gets_one_answer_and_never_breaks_the_session(
    depth: int, kinds: list[str], where: str
) -> None:
    opening = [kinds[i % len(kinds)] for i in range(depth)]
    closing = "".join("]" if o == "[" else "}" for o in reversed(opening))
    nested = "".join(opening) + closing
    if where == "tool":
        tool = '{"type": "function", "name": "f", "parameters": {"x": ' + nested + "}}"
        text = '{"type": "session.update", "session": {"type": "realtime", "tools": [' + tool + "]}}"
    elif where == "item":
        output = '{"type": "function_call_output", "call_id": "c", "output": "o", "x": ' + nested + "}"
        text = '{"type": "conversation.item.create", "item": ' + output + "}"
    else:
        text = '{"type": "input_audio_buffer.clear", "x": ' + nested + "}"
    session = new_session()
    session.receive_text(text)
    (answer,) = received(session)
    deep = depth + {"tool": 5, "item": 2, "unknown": 1}[where] > MAX_EVENT_DEPTH
    if deep:
        assert answer["error"]["code"] in ("invalid_event", "invalid_json")
    assert types(send(session, append(TURN)))[:2] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    ]


# ---------------------------------------------------------------- events behind unscored frames


def test_commit_while_frames_are_scored_lands_after_them() -> None:
    session = new_session()
    session.receive_text(json.dumps(append(TURN + pcm16(tone(320)))))
    session.receive_text(json.dumps({"type": "input_audio_buffer.commit", "event_id": "c"}))
    assert session.events_to_send() == []  # the commit waits for the frames before it
    pump(session)
    events = received(session)
    assert types(events) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "input_audio_buffer.speech_started",  # the trailing tone: a turn in progress
        "input_audio_buffer.committed",  # the client's commit closes it, under its item id
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert events[6]["item_id"] == events[5]["item_id"] != events[0]["item_id"]
    assert events[6]["previous_item_id"] == events[0]["item_id"]
    (retrieved,) = send(session, {"type": "conversation.item.retrieve", "item_id": events[6]["item_id"]})
    audio = base64.b64decode(retrieved["item"]["content"][0]["audio"])
    assert len(audio) == (len(TURN) // 48 - (1024 + 640 + 500) + 320) * 48  # after the first turn's end
    assert not session.turn_in_progress


def test_clear_while_frames_are_scored_lands_after_the_turn_they_hold() -> None:
    session = new_session()
    session.receive_text(json.dumps(append(TURN + pcm16(tone(320)))))
    session.receive_text(json.dumps({"type": "input_audio_buffer.clear"}))
    assert session.events_to_send() == []  # the clear waits for the frames before it
    pump(session)
    assert types(received(session)) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "input_audio_buffer.speech_started",  # the trailing tone, cleared before it ends
        "input_audio_buffer.cleared",
    ]
    assert not session.turn_in_progress


def test_update_while_frames_are_scored_applies_only_to_later_audio() -> None:
    session = new_session()
    session.receive_text(json.dumps(append(TURN)))
    longer = {"turn_detection": {"type": "server_vad", "silence_duration_ms": 800}}
    session.receive_text(
        json.dumps({"type": "session.update", "session": {"type": "realtime", "audio": {"input": longer}}})
    )
    session.receive_text(json.dumps(append(TURN)))
    pump(session)
    events = received(session)
    stops = [e["audio_end_ms"] for e in events if e["type"] == "input_audio_buffer.speech_stopped"]
    assert stops == [1024 + 640 + 500, 2688 + 1024 + 640 + 800]
    assert types(events).index("session.updated") == 5  # after the first turn's five events


def test_oversized_message_while_frames_are_scored_is_reported_in_order() -> None:
    session = new_session(limits=SessionLimits(max_message_bytes=1000))
    session.receive_text(json.dumps(append(TURN)))
    session.receive_oversized(5000)
    assert session.events_to_send() == []
    pump(session)
    events = received(session)
    assert types(events)[0] == "input_audio_buffer.speech_started"
    assert events[-1]["error"]["code"] == "message_too_large"


def test_errors_found_on_arrival_and_on_handling_keep_arrival_order_behind_frames() -> None:
    session = new_session()
    session.receive_text(json.dumps(append(TURN)))
    session.receive_text(json.dumps({"type": "conversation.item.retrieve", "item_id": "x", "event_id": "1"}))
    session.receive_text(json.dumps({"type": "nope", "event_id": "2"}))  # refused on arrival
    session.receive_text(json.dumps({"type": "input_audio_buffer.commit", "event_id": "3"}))
    session.receive_text(json.dumps({"type": "input_audio_buffer.commit", "event_id": "4"}))
    assert session.events_to_send() == []
    pump(session)
    events = received(session)
    assert types(events)[:5] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    rest = [
        (e["type"], e["error"]["code"], e["error"]["event_id"]) if e["type"] == "error" else e["type"]
        for e in events[5:]
    ]
    assert rest == [
        ("error", "item_not_found", "1"),
        ("error", "invalid_value", "2"),
        "input_audio_buffer.committed",  # the 524 ms of silence after the turn
        "conversation.item.added",
        "conversation.item.done",
        ("error", "input_audio_buffer_commit_empty", "4"),
    ]


# ---------------------------------------------------------------- stale answers from the shell


def test_completed_transcript_for_an_item_not_handed_out_is_ignored() -> None:
    session = transcribing()
    first = send(session, append(TURN))[0]["item_id"]
    second = send(session, append(TURN))[0]["item_id"]
    (request,) = session.work_to_do()
    assert request.item_id == first
    session.receive_transcript_done(second)  # not handed out: stale
    session.receive_transcript_failed(second, "late")
    assert session.events_to_send() == []
    session.receive_transcript_delta(first, "Hello.")
    session.receive_transcript_done(first)
    assert types(received(session)) == [
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
    ]
    (next_request,) = session.work_to_do()
    assert next_request.item_id == second


def test_turn_end_answer_under_server_vad_is_ignored() -> None:
    # the rule may have changed since the question: nobody waits for the answer
    session = session_with()
    session.receive_turn_end(query=1, probability=0.9)
    session.receive_turn_end(query=2, probability=None)
    assert session.events_to_send() == []
    assert types(send(session, append(TURN)))[:2] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    ]


def test_a_transcript_longer_than_the_text_budget_keeps_its_item_and_forgets_older_ones() -> None:
    session = session_with(limits=SessionLimits(max_item_bytes=2000))
    update(session, {"transcription": {"model": "whisper-1"}})
    note = {
        "type": "message",
        "role": "user",
        "id": "note",
        "content": [{"type": "input_text", "text": "hi"}],
    }
    send(session, {"type": "conversation.item.create", "item": note})
    item_id = send(session, append(TURN))[0]["item_id"]
    session.work_to_do()
    session.receive_transcript_delta(item_id, "word " * 1000)
    session.receive_transcript_done(item_id)
    completed, notice, deleted = received(session)[-3:]
    assert completed["type"] == "conversation.item.input_audio_transcription.completed"
    assert notice["error"]["code"] == "conversation_items_evicted" and "'note'" in notice["error"]["message"]
    assert (deleted["type"], deleted["item_id"]) == ("conversation.item.deleted", "note")
    (kept,) = send(session, {"type": "conversation.item.retrieve", "item_id": item_id})
    assert kept["item"]["content"][0]["transcript"] == "word " * 1000
    (gone,) = send(session, {"type": "conversation.item.retrieve", "item_id": "note"})
    assert gone["error"]["code"] == "item_not_found"


# ---------------------------------------------------------------- models that do not fit


@dataclass
class OddFrameModel(LoudnessModel):
    """A model with Silero's rates but ``frame`` samples at 16 kHz (511: 766.5 samples at 24 kHz)."""

    frame: int = 500

    def frame_samples(self, sample_rate: int) -> int:
        return self.frame if sample_rate == 16_000 else self.frame // 2


def test_a_model_whose_frames_are_no_whole_number_of_input_samples_is_refused() -> None:
    with pytest.raises(AudioFormatError, match="frames do not map onto audio/pcm samples"):
        Session(OddFrameModel(frame=511))


@dataclass
class FortyEightKiloHertzModel(LoudnessModel):
    """A 48 kHz model with 482-sample frames: 241 samples at 24 kHz, but 80.3 at 8 kHz."""

    def supported_rates(self) -> tuple[int, ...]:
        return (48_000,)

    def frame_samples(self, sample_rate: int) -> int:
        return 482


def test_a_format_the_model_cannot_frame_is_refused_and_the_session_keeps_its_own() -> None:
    session = Session(FortyEightKiloHertzModel())
    session.start()
    session.events_to_send()
    pcmu = {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcmu"}}}}
    (error,) = send(session, {"type": "session.update", "event_id": "f", "session": pcmu})
    assert (error["error"]["code"], error["error"]["param"]) == (
        "invalid_value",
        "session.audio.input.format",
    )
    assert "frames do not map onto audio/pcmu samples" in error["error"]["message"]
    assert session.config.format.ga_type == "audio/pcm"
    assert types(send(session, append(TURN)))[:2] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    ]
