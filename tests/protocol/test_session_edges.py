"""Session paths a shell meets under load: client mistakes while frames are still being scored,
and the less travelled corners of items and updates."""

from __future__ import annotations

import json

import numpy as np
import pytest

from openapiopenai.protocol.conversation import Conversation, Item
from tests.protocol.test_session import TURN, append, new_session, pump, send, types
from tests.sdk import validate_beta


def test_bad_json_while_frames_are_scored_is_reported_after_their_events() -> None:
    session = new_session()
    session.receive_text(json.dumps(append(TURN)))  # frames wait for their scores
    session.receive_text("{not json")
    session.receive_bytes(b"\x01")
    assert session.events_to_send() == []  # nothing may overtake the unscored audio
    pump(session)
    events = [json.loads(e) for e in session.events_to_send()]
    assert types(events)[:2] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"]
    assert [e["error"]["code"] for e in events if e["type"] == "error"] == ["invalid_json", "invalid_event"]
    assert types(events)[-2:] == ["error", "error"]


def test_scores_for_frames_never_requested_are_a_shell_bug() -> None:
    session = new_session()
    with pytest.raises(ValueError, match="expected 0 scores"):
        session.receive_scores(np.zeros(3, dtype=np.float32))


def test_audio_position_counts_whole_samples_appended() -> None:
    session = new_session()
    send(session, append(b"\x00" * 4801))  # 100 ms and a half sample
    assert session.audio_position_ms == 100  # 2400 whole samples at 24 kHz; the odd byte waits


def test_truncate_is_refused_for_user_audio_and_unknown_items() -> None:
    session = new_session()
    item_id = send(session, append(TURN))[0]["item_id"]
    truncate = {"type": "conversation.item.truncate", "content_index": 0, "audio_end_ms": 10}
    (known,) = send(session, {**truncate, "item_id": item_id})
    assert known["error"]["code"] == "unsupported_feature"
    (unknown,) = send(session, {**truncate, "item_id": "nope"})
    assert unknown["error"]["code"] == "item_truncate_invalid_item_id"


def test_item_after_an_unknown_previous_item_is_refused() -> None:
    session = new_session()
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    (error,) = send(session, {"type": "conversation.item.create", "item": item, "previous_item_id": "gone"})
    assert (error["error"]["code"], error["error"]["param"]) == ("item_not_found", "previous_item_id")


def test_item_inserted_after_an_older_item_follows_it() -> None:
    session = new_session()
    for item_id in ("a", "b"):
        item = {"type": "message", "role": "user", "id": item_id, "content": []}
        send(session, {"type": "conversation.item.create", "item": item})
    item = {"type": "message", "role": "user", "id": "c", "content": []}
    added = send(session, {"type": "conversation.item.create", "item": item, "previous_item_id": "a"})
    assert added[0]["previous_item_id"] == "a"


def test_beta_client_items_are_reported_as_realtime_items() -> None:
    session = new_session(dialect="beta")
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    (created,) = send(session, {"type": "conversation.item.create", "item": item})
    assert created["item"]["object"] == "realtime.item"
    validate_beta(json.dumps(created))


def test_interrupt_response_and_other_audio_settings_are_echoed() -> None:
    session = new_session()
    td = {"type": "server_vad", "interrupt_response": False}
    output = {"voice": "verse"}
    (updated,) = send(
        session,
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": td}, "output": output}},
        },
    )
    assert updated["session"]["audio"]["input"]["turn_detection"]["interrupt_response"] is False
    assert updated["session"]["audio"]["output"]["voice"] == "verse"


def test_conversation_forgets_audio_before_items() -> None:
    conversation = Conversation(max_audio_bytes=10, max_items=10, max_item_bytes=1000)
    conversation.insert(Item({"id": "a"}, audio=b"x" * 8), after=None)
    conversation.insert(Item({"id": "b"}, audio=b"y" * 8), after=None)
    first, second = conversation.get("a"), conversation.get("b")
    assert first is not None and first.audio == b""
    assert second is not None and second.audio == b"y" * 8


def test_conversation_keeps_an_item_that_alone_fills_the_budget() -> None:
    conversation = Conversation(max_audio_bytes=0, max_items=10, max_item_bytes=30)
    conversation.insert(Item({"id": "a"}), after=None)
    big = Item({"id": "b", "t": "x" * 12})
    assert conversation.fits(big)
    conversation.insert(big, after=None, at_root=True)
    assert not conversation.has_room(Item({"id": "c"}))
    assert conversation.make_room(keep="b") == ["a"]
    assert "b" in conversation and "a" not in conversation
    assert conversation.text_bytes == big.size


def test_transcript_of_a_forgotten_item_is_dropped_quietly() -> None:
    conversation = Conversation(max_audio_bytes=0, max_items=10, max_item_bytes=1000)
    conversation.set_transcript("missing", "hello")
    assert len(conversation) == 0
