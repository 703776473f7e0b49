"""``conversation.item.create``: where an item goes, and what a bad one gets."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.protocol.test_session import new_session, send
from tests.sdk import validate_ga


def create(item_id: str, previous: str | None = None, **extra: Any) -> dict[str, Any]:
    item = {
        "id": item_id,
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "hi"}],
    }
    event: dict[str, Any] = {"type": "conversation.item.create", "item": item | extra, "event_id": "e1"}
    if previous is not None:
        event["previous_item_id"] = previous
    return event


def previous_of(events: list[dict[str, Any]]) -> str | None:
    (added,) = [e for e in events if e["type"] == "conversation.item.added"]
    validate_ga_events(events)
    return added["previous_item_id"]


def validate_ga_events(events: list[dict[str, Any]]) -> None:
    for event in events:
        validate_ga(json.dumps(event))


def test_an_item_goes_after_the_item_named_or_at_the_root_or_at_the_end() -> None:
    session = new_session()
    assert previous_of(send(session, create("item_a"))) is None
    assert previous_of(send(session, create("item_b"))) == "item_a"
    # in the middle: a, c, b
    assert previous_of(send(session, create("item_c", "item_a"))) == "item_a"
    # the end is still b
    assert previous_of(send(session, create("item_d"))) == "item_b"
    # at the root: nothing before it, and the end does not move
    assert previous_of(send(session, create("item_r", "root"))) is None
    assert previous_of(send(session, create("item_e"))) == "item_d"


@pytest.mark.parametrize(
    ("event", "code", "param"),
    [
        (create("item_x", "item_missing"), "item_not_found", "previous_item_id"),
        (
            create("item_x", content=[{"type": "input_audio", "audio": "@@@not base64"}]),
            "invalid_value",
            "item.content[0].audio",
        ),
    ],
)
def test_a_bad_item_gets_an_error_and_is_not_added(event: dict[str, Any], code: str, param: str) -> None:
    session = new_session()
    (error,) = send(session, event)
    validate_ga_events([error])
    assert (error["error"]["code"], error["error"]["param"], error["error"]["event_id"]) == (
        code,
        param,
        "e1",
    )
    assert previous_of(send(session, create("item_x"))) is None  # nothing was added before


def test_an_item_id_in_use_is_refused() -> None:
    session = new_session()
    send(session, create("item_a"))
    (error,) = send(session, create("item_a"))
    assert (error["error"]["code"], error["error"]["param"]) == ("invalid_value", "item.id")


def test_item_audio_is_kept_for_retrieve() -> None:
    session = new_session()
    audio = bytes(range(256)) * 20
    content = [{"type": "input_audio", "audio": base64.b64encode(audio).decode()}]
    send(session, create("item_a", content=content))
    (retrieved,) = send(session, {"type": "conversation.item.retrieve", "item_id": "item_a"})
    validate_ga_events([retrieved])
    assert base64.b64decode(retrieved["item"]["content"][0]["audio"]) == audio
