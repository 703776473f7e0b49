"""Client mistakes inside lists are reported with the list position, as the live API does."""

from __future__ import annotations

import json

from openapiopenai.protocol.errors import dotted
from tests.protocol.test_session import new_session
from tests.sdk import validate_ga


def test_a_bad_value_inside_a_list_names_its_position() -> None:
    session = new_session()
    content = [{"type": "input_text", "text": "hi"}, {"type": "input_audio", "audio": 5}]
    item = {"type": "message", "role": "user", "content": content}
    session.receive_text(json.dumps({"type": "conversation.item.create", "item": item, "event_id": "e1"}))
    (error,) = [json.loads(text) for text in session.events_to_send()]
    validate_ga(json.dumps(error))
    assert (error["error"]["code"], error["error"]["event_id"]) == ("invalid_type", "e1")
    assert error["error"]["param"] == "item.content[1].audio"


def test_dotted_params_drop_union_tags_and_bracket_positions() -> None:
    loc = ("session", "audio", "input", "format", "audio/pcm", "rate")
    assert dotted(loc) == "session.audio.input.format.rate"
    assert dotted(("item", "message.user", "content", 0, "text")) == "item.content[0].text"
    assert dotted(("tools", 2)) == "tools[2]"


def test_a_field_named_like_a_union_tag_stays_in_the_param_when_the_source_is_known() -> None:
    loc = ("session", "transcription", "audio", "input", "transcription", "foo")
    source = {"session": {"type": "transcription", "audio": {"input": {"transcription": {"foo": 1}}}}}
    assert dotted(loc, source) == "session.audio.input.transcription.foo"
    assert dotted(("item", "message.user", "content", 0, "text"), {"item": {"content": [{}]}}) == (
        "item.content[0].text"
    )
    assert dotted(("tools", 5, "x"), {"tools": []}) == "tools[5].x"
