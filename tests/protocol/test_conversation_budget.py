"""The conversation's text budget as transcripts arrive: only the audio part gets the transcript,
and what it costs is counted against the budget."""

from __future__ import annotations

import pytest

from openapiopenai.protocol.conversation import Conversation, Item, item_size


def user_item(item_id: str) -> dict[str, object]:
    return {
        "id": item_id,
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "note"}, {"type": "input_audio", "transcript": None}],
    }


def test_an_item_costs_the_bytes_of_its_json() -> None:
    record = Item(user_item("a"), audio=b"\x00" * 100)
    assert (
        record.size
        == item_size(record.item)
        == len(
            b'{"id":"a","type":"message","role":"user","content":[{"type":"input_text","text":"note"},'
            b'{"type":"input_audio","transcript":null}]}'
        )
    )


def test_a_transcript_fills_the_audio_part_only_and_is_counted() -> None:
    conversation = Conversation(max_audio_bytes=1000, max_items=10, max_item_bytes=10_000)
    conversation.insert(Item(user_item("a")), after=None)
    before = conversation.text_bytes
    conversation.set_transcript("a", "hello")
    record = conversation.get("a")
    assert record is not None
    assert record.item["content"] == [
        {"type": "input_text", "text": "note"},
        {"type": "input_audio", "transcript": "hello"},
    ]
    assert conversation.text_bytes == before + len('"hello"') - len("null") == record.size


def test_a_transcript_that_overflows_the_budget_keeps_its_item_alone() -> None:
    conversation = Conversation(max_audio_bytes=1000, max_items=10, max_item_bytes=500)
    conversation.insert(Item(user_item("old")), after=None)
    conversation.insert(Item(user_item("a")), after=None)
    conversation.set_transcript("a", "x" * 600)  # the item alone is now over the budget
    assert "old" in conversation  # nothing is forgotten until the caller makes room
    assert conversation.make_room(keep="a") == ["old"]
    assert "old" not in conversation and "a" in conversation
    assert conversation.text_bytes > 500
    record = conversation.get("a")
    assert record is not None and record.item["content"][1]["transcript"] == "x" * 600


def test_the_budgets_have_no_defaults_of_their_own() -> None:
    """``SessionLimits`` is the one home of the defaults: a conversation must be given all three."""
    with pytest.raises(TypeError):
        Conversation(max_audio_bytes=1000)  # type: ignore[call-arg]


def test_an_item_whose_audio_alone_exceeds_the_audio_budget_keeps_its_place_without_audio() -> None:
    conversation = Conversation(max_audio_bytes=4, max_items=10, max_item_bytes=10_000)
    conversation.insert(Item(user_item("a"), audio=b"\x00" * 8), after=None)
    record = conversation.get("a")
    assert record is not None and record.audio == b""
    assert conversation.last_id == "a"
