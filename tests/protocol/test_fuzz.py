"""Protocol fuzzing: random valid and malformed client events never break a session.

Invariants checked after every message: no exception escapes; a message that is certainly
invalid gets exactly one ``error`` carrying its ``event_id``, and no message gets more than
one; wire positions never move back; the detector's buffer start is never before the buffer's;
committed items chain onto the conversation's last item; and afterwards the session still
detects speech.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openapiopenai.protocol.ids import IdFactory
from openapiopenai.protocol.session import Session, SessionLimits
from tests.synth import LoudnessModel, pcm16, silence, tone

CHUNKS = [pcm16(silence(200)), pcm16(tone(320)), pcm16(tone(100), silence(600)), b"\x01", b"\x00" * 4801]
TURN = pcm16(silence(1024), tone(640), silence(1024))

#: keys a client could send that look like internal names: dunders, private fields of our own
#: classes (the Session once kept queued errors under ``__error__`` in the event itself)
internal_looking_keys = st.one_of(
    st.sampled_from(
        ["__error__", "__raw_audio__", "__class__", "__dict__", "_inbox", "_outbox", "_buffer", "_detector"]
    ),
    st.from_regex(r"\A_{1,2}[a-z]{1,8}_{0,2}\Z"),
)
keys = st.one_of(st.text(max_size=10), internal_looking_keys)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)

turn_detection = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["server_vad", "semantic_vad", "bogus"])},
        optional={
            "threshold": st.one_of(st.floats(-1, 2), st.text(max_size=3)),
            "prefix_padding_ms": st.integers(-100, 2000),
            "silence_duration_ms": st.integers(-100, 2000),
            "idle_timeout_ms": st.one_of(st.none(), st.integers(0, 40000)),
            "create_response": st.booleans(),
            "interrupt_response": st.booleans(),
        },
    ),
)
session_payload = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["realtime", "transcription", "nope"]),
        "instructions": st.text(max_size=10),
        "audio": st.fixed_dictionaries(
            {},
            optional={
                "input": st.fixed_dictionaries(
                    {},
                    optional={
                        "format": st.sampled_from(
                            [
                                {"type": "audio/pcm", "rate": 24000},
                                {"type": "audio/pcm", "rate": 16000},
                                {"type": "audio/pcmu"},
                                {"type": "audio/pcma"},
                                {"type": "audio/x"},
                            ]
                        ),
                        "turn_detection": turn_detection,
                        "transcription": st.none(),
                    },
                )
            },
        ),
        "bogus": json_values,
    },
)

# (message, certainly_invalid)
certain_errors = st.one_of(
    st.text(max_size=30).filter(lambda s: not s.strip().startswith("{")).map(lambda s: (s, True)),
    st.just(("{", True)),
    json_values.filter(lambda v: not isinstance(v, dict)).map(lambda v: (json.dumps(v), True)),
    st.text(min_size=1, max_size=15).filter(lambda t: "." not in t).map(lambda t: ({"type": t}, True)),
    st.just(({"type": "input_audio_buffer.append", "audio": "%%%notbase64"}, True)),
    st.just(({"type": "input_audio_buffer.append"}, True)),
    st.just(({"type": "input_audio_buffer.append", "audio": 12}, True)),
    st.just(({"type": "response.create"}, True)),
    st.just(({"type": "conversation.item.delete", "item_id": "item_unknown"}, True)),
    st.text(max_size=12)
    .filter(lambda t: len(t.strip()) % 4 != 0 or "!" in t)
    .map(
        lambda t: (
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": t}]},
            },
            True,
        )
    ),
    st.integers(1, 3000).map(lambda depth: ("[" * depth * 100, True)),
)
maybe_errors = st.one_of(
    st.sampled_from(CHUNKS).map(
        lambda b: ({"type": "input_audio_buffer.append", "audio": base64.b64encode(b).decode()}, False)
    ),
    st.just(({"type": "input_audio_buffer.commit"}, False)),
    st.just(({"type": "input_audio_buffer.clear"}, False)),
    st.dictionaries(internal_looking_keys, json_values, min_size=1, max_size=2).flatmap(
        lambda extra: st.sampled_from(
            [
                "input_audio_buffer.clear",
                "input_audio_buffer.commit",
                "input_audio_buffer.append",
                "session.update",
            ]
        ).map(lambda kind: ({**extra, "type": kind}, False))
    ),
    session_payload.map(lambda s: ({"type": "session.update", "session": s}, False)),
    json_values.map(lambda v: ({"type": "session.update", "session": v}, False)),
    st.dictionaries(keys, json_values, max_size=3).map(
        lambda d: ({**d, "type": "conversation.item.create"}, False)
    ),
)
messages = st.lists(st.one_of(certain_errors, maybe_errors), max_size=25)


def run_checked(
    session: Session, message: Any, certainly_invalid: bool, n: int, state: dict[str, Any]
) -> None:
    event_id = f"fz_{n}"
    if isinstance(message, dict):
        message = json.dumps({**message, "event_id": event_id})
        carries_id = True
    else:
        carries_id = False
    session.receive_text(message)
    model = LoudnessModel()
    while (request := session.frames_to_score()) is not None:
        session.receive_scores(model.score(request.frames, [request.state], request.sample_rate))
    events = [json.loads(t) for t in session.events_to_send()]
    # one owner of the buffer start: the detector reads it from the session's buffer, so a turn's
    # padding can never reach audio the buffer has given away (a commit, dropped silence)
    assert session._detector.buffer_start >= session._buffer.start
    errors = [e for e in events if e["type"] == "error"]
    mine = [e for e in errors if e["error"].get("event_id") == event_id]
    assert len(mine) <= 1
    if certainly_invalid:
        assert len(errors if not carries_id else mine) == 1
    for event in events:
        kind = event["type"]
        if kind == "input_audio_buffer.speech_started":
            assert event["audio_start_ms"] >= state["last_ms"]
            state["last_ms"] = event["audio_start_ms"]
        elif kind in ("input_audio_buffer.speech_stopped", "input_audio_buffer.timeout_triggered"):
            assert event["audio_end_ms"] >= state["last_ms"]
            state["last_ms"] = event["audio_end_ms"]
        elif kind == "input_audio_buffer.committed":
            assert event["previous_item_id"] == (state["items"][-1] if state["items"] else None)
        elif kind == "conversation.item.added":
            previous = event["previous_item_id"]
            position = 0 if previous is None else state["items"].index(previous) + 1
            state["items"].insert(position, event["item"]["id"])
        elif kind == "conversation.item.deleted":
            state["items"].remove(event["item_id"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=messages)
def test_random_client_events_never_break_the_session(script: list[tuple[Any, bool]]) -> None:
    session = Session(
        LoudnessModel(), ids=IdFactory(seed=3), limits=SessionLimits(max_buffer_bytes=2_000_000)
    )
    session.start()
    session.events_to_send()
    state: dict[str, Any] = {"last_ms": 0, "items": []}
    for n, (message, invalid) in enumerate(script):
        run_checked(session, message, invalid, n, state)
    # still detects speech afterwards
    reset = {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "audio": {
                "input": {
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "prefix_padding_ms": 300,
                        "silence_duration_ms": 500,
                    }
                }
            },
        },
    }
    run_checked(session, {"type": "input_audio_buffer.clear"}, False, 1000, state)
    run_checked(session, reset, False, 1001, state)
    session.receive_text(
        json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(TURN).decode()})
    )
    model = LoudnessModel()
    while (request := session.frames_to_score()) is not None:
        session.receive_scores(model.score(request.frames, [request.state], request.sample_rate))
    kinds = [json.loads(t)["type"] for t in session.events_to_send()]
    if session.config.format.ga_type == "audio/pcm":
        assert "input_audio_buffer.speech_started" in kinds
