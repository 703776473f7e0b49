"""The Session state machine: client events in, Realtime server events out, exactly."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openapiopenai.protocol.ids import IdFactory
from openapiopenai.protocol.session import Session, SessionLimits
from openapiopenai.turns import SpeechStarted, SpeechStopped, TurnDetectionConfig
from tests.sdk import validate_beta, validate_ga
from tests.synth import LoudnessModel, pcm16, silence, tone


def new_session(**kwargs: Any) -> Session:
    kwargs.setdefault("ids", IdFactory(seed=1))
    session = Session(LoudnessModel(), **kwargs)
    session.start()
    session.events_to_send()  # session.created: tested on its own
    return session


def pump(session: Session) -> None:
    model = LoudnessModel()
    while (request := session.frames_to_score()) is not None:
        session.receive_scores(model.score(request.frames, [request.state], request.sample_rate))


def send(session: Session, event: dict[str, Any], *, score: bool = True) -> list[dict[str, Any]]:
    session.receive_text(json.dumps(event))
    if score:
        pump(session)
    return [json.loads(text) for text in session.events_to_send()]


def append(audio: bytes) -> dict[str, Any]:
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode()}


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


# 1024 ms silence, 640 ms tone, 1024 ms silence: every boundary on a 32 ms frame boundary
TURN = pcm16(silence(1024), tone(640), silence(1024))


def test_session_created_is_first_and_sdk_valid() -> None:
    session = Session(LoudnessModel(), model_name="gpt-realtime")
    session.start()
    (created,) = session.events_to_send()
    event = validate_ga(created)
    assert event.type == "session.created"
    assert event.session.type == "realtime"
    td = event.session.audio.input.turn_detection
    assert (td.type, td.threshold, td.prefix_padding_ms, td.silence_duration_ms) == (
        "server_vad",
        0.5,
        300,
        500,
    )


def test_speech_started_includes_prefix_padding() -> None:
    events = send(new_session(), append(TURN))
    started = events[0]
    assert started["type"] == "input_audio_buffer.speech_started"
    assert started["audio_start_ms"] == 1024 - 300


def test_full_turn_event_sequence_with_same_item_id() -> None:
    events = send(new_session(), append(TURN))
    assert types(events) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    item_id = events[0]["item_id"]
    assert item_id.startswith("item_")
    assert events[1] == {**events[1], "item_id": item_id, "audio_end_ms": 1024 + 640 + 500}
    assert events[2]["item_id"] == item_id and events[2]["previous_item_id"] is None
    assert events[3]["item"]["id"] == item_id and events[3]["item"]["role"] == "user"
    for event in events:
        validate_ga(json.dumps(event))


def test_committed_chains_previous_item_id() -> None:
    session = new_session()
    first = send(session, append(TURN))
    second = send(session, append(TURN))
    assert second[2]["previous_item_id"] == first[2]["item_id"]
    assert second[0]["audio_start_ms"] == len(TURN) // 48 + 1024 - 300


def test_vad_commit_keeps_audio_after_audio_end_in_buffer() -> None:
    session = new_session()
    events = send(session, append(TURN))
    retrieved = send(session, {"type": "conversation.item.retrieve", "item_id": events[0]["item_id"]})
    audio = base64.b64decode(retrieved[0]["item"]["content"][0]["audio"])
    assert len(audio) == (1024 + 640 + 500) * 48  # buffer start .. audio_end_ms
    validate_ga(json.dumps(retrieved[0]))


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(0, len(TURN) * 2), max_size=12))
def test_events_do_not_depend_on_chunking(cuts: list[int]) -> None:
    audio = TURN + TURN
    whole = send(new_session(), append(audio))
    session = new_session()
    pieces: list[dict[str, Any]] = []
    bounds = [0, *sorted(cuts), len(audio)]
    for a, b in itertools.pairwise(bounds):
        if b > a:
            pieces += send(session, append(audio[a:b]))
    assert pieces == whole


def test_events_do_not_depend_on_scoring_delay() -> None:
    """A commit that arrives before the earlier audio is scored lands after that audio."""
    messages = [
        append(TURN[: len(TURN) // 2]),
        {"type": "input_audio_buffer.commit"},
        append(TURN[len(TURN) // 2 :]),
    ]
    prompt = new_session()
    immediate = [e for m in messages for e in send(prompt, m)]
    lazy = new_session()
    for message in messages:
        lazy.receive_text(json.dumps(message))
    pump(lazy)
    delayed = [json.loads(t) for t in lazy.events_to_send()]
    assert delayed == immediate
    assert "input_audio_buffer.committed" in types(immediate)


def test_manual_commit_during_speech_uses_pending_item_id() -> None:
    session = new_session()
    started = send(session, append(pcm16(silence(512), tone(320))))
    assert types(started) == ["input_audio_buffer.speech_started"]
    events = send(session, {"type": "input_audio_buffer.commit"})
    assert types(events) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert events[0]["item_id"] == started[0]["item_id"]
    # continued speech starts a new turn with a new item
    more = send(session, append(pcm16(tone(320), silence(1024))))
    assert more[0]["type"] == "input_audio_buffer.speech_started"
    assert more[0]["item_id"] != started[0]["item_id"]


def test_clear_during_speech_emits_cleared_and_no_speech_stopped() -> None:
    session = new_session()
    send(session, append(pcm16(silence(512), tone(320))))
    assert types(send(session, {"type": "input_audio_buffer.clear"})) == ["input_audio_buffer.cleared"]
    later = send(session, append(pcm16(silence(1024), tone(320), silence(1024))))
    assert types(later)[:2] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"]
    assert later[0]["audio_start_ms"] == 832 + 1024 - 300  # the timeline did not reset


def test_commit_of_less_than_100ms_is_an_error_and_keeps_the_buffer() -> None:
    session = new_session()
    send(
        session,
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        },
    )
    send(session, append(pcm16(silence(60))))
    (error,) = send(session, {"type": "input_audio_buffer.commit", "event_id": "evt_1"})
    assert error["error"]["code"] == "input_audio_buffer_commit_empty"
    assert error["error"]["event_id"] == "evt_1"
    assert "60.00ms" in error["error"]["message"]
    validate_ga(json.dumps(error))
    send(session, append(pcm16(silence(60))))
    events = send(session, {"type": "input_audio_buffer.commit"})
    assert types(events)[0] == "input_audio_buffer.committed"
    got = send(session, {"type": "conversation.item.retrieve", "item_id": events[0]["item_id"]})
    assert len(base64.b64decode(got[0]["item"]["content"][0]["audio"])) == 120 * 48


def test_manual_mode_emits_no_vad_events() -> None:
    session = new_session()
    send(
        session,
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        },
    )
    assert send(session, append(TURN)) == []
    assert types(send(session, {"type": "input_audio_buffer.commit"}))[0] == "input_audio_buffer.committed"


def test_odd_byte_counts_carry_over() -> None:
    whole = send(new_session(), append(TURN))
    session = new_session()
    events = send(session, append(TURN[:1001])) + send(session, append(TURN[1001:]))
    assert events == whole


@pytest.mark.parametrize(
    ("text", "code", "param"),
    [
        ("{not json", "invalid_json", None),
        ('["a list"]', "invalid_event", None),
        ('{"event_id": "e1"}', "invalid_event", None),
        ('{"type": "nope", "event_id": "e1"}', "invalid_value", "type"),
        ('{"type": "input_audio_buffer.append", "audio": "@@@", "event_id": "e1"}', "invalid_value", "audio"),
        ('{"type": "input_audio_buffer.append", "event_id": "e1"}', "missing_required_parameter", "audio"),
        ('{"type": "input_audio_buffer.append", "audio": 5, "event_id": "e1"}', "invalid_type", "audio"),
        ('{"type": "response.create", "event_id": "e1"}', "unsupported_feature", "type"),
        (
            '{"type": "conversation.item.delete", "item_id": "x", "event_id": "e1"}',
            "item_not_found",
            "item_id",
        ),
    ],
)
def test_bad_client_input_gets_one_error_and_session_goes_on(text: str, code: str, param: str | None) -> None:
    session = new_session()
    session.receive_text(text)
    (error,) = [json.loads(t) for t in session.events_to_send()]
    validate_ga(json.dumps(error))
    assert error["error"]["code"] == code
    assert error["error"]["param"] == param
    if '"event_id": "e1"' in text:
        assert error["error"]["event_id"] == "e1"
    assert types(send(session, append(TURN)))[0] == "input_audio_buffer.speech_started"


def test_binary_and_oversized_frames_are_errors() -> None:
    session = new_session()
    session.receive_bytes(b"\x00\x01")
    session.receive_oversized(99_000_000)
    codes = [json.loads(t)["error"]["code"] for t in session.events_to_send()]
    assert codes == ["invalid_event", "message_too_large"]


def test_a_bad_append_behind_a_waiting_commit_is_reported_after_the_commit() -> None:
    """Errors keep their place: an append that cannot be decoded, sent after a commit that waits
    for earlier audio to be scored, gets its error after the commit's events."""
    session = new_session(turn_detection=None)
    session.receive_text(json.dumps(append(pcm16(silence(300)))))
    session.receive_text(json.dumps({"type": "input_audio_buffer.commit"}))
    session.receive_text('{"type": "input_audio_buffer.append", "audio": "%%%"}')
    session.receive_text(json.dumps(append(pcm16(silence(200)))))
    pump(session)
    out = [json.loads(t) for t in session.events_to_send()]
    assert types(out)[0] == "input_audio_buffer.committed"
    assert types(out)[-1] == "error" and out[-1]["error"]["param"] == "audio"
    assert types(send(session, {"type": "input_audio_buffer.commit"}))[0] == "input_audio_buffer.committed"


def test_appends_queued_behind_a_waiting_event_stay_behind_it() -> None:
    """An append arriving while a clear waits for scores is applied after the clear, not before:
    the turn it carries survives the clear."""
    session = new_session()
    session.receive_text(json.dumps(append(pcm16(silence(500)))))
    session.receive_text(json.dumps({"type": "input_audio_buffer.clear"}))
    session.receive_text(json.dumps(append(TURN)))
    pump(session)
    assert types([json.loads(t) for t in session.events_to_send()])[:4] == [
        "input_audio_buffer.cleared",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]


def test_an_append_with_an_unknown_parameter_is_refused_and_its_audio_not_kept() -> None:
    session = new_session()
    (error,) = send(session, {**append(pcm16(silence(100))), "codec": "opus", "event_id": "a1"})
    assert error["error"]["code"] == "unknown_parameter"
    assert error["error"]["param"] == "codec"
    assert error["error"]["event_id"] == "a1"
    validate_ga(json.dumps(error))
    # the session goes on, and the refused audio never reached the buffer
    assert types(send(session, {"type": "input_audio_buffer.commit"})) == ["error"]


def test_buffer_limit_rejects_the_append_only() -> None:
    session = new_session(limits=SessionLimits(max_buffer_bytes=48 * 200))
    send(session, append(pcm16(silence(150))))
    (error,) = send(session, append(pcm16(silence(100))))
    assert error["error"]["code"] == "input_audio_buffer_full"
    assert types(send(session, append(pcm16(silence(40))))) == []


def test_session_update_partial_turn_detection_keeps_other_fields() -> None:
    session = new_session()
    send(
        session,
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 800}}},
            },
        },
    )
    (updated,) = send(
        session,
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 0.7}}},
            },
        },
    )
    validate_ga(json.dumps(updated))
    td = updated["session"]["audio"]["input"]["turn_detection"]
    assert (td["threshold"], td["silence_duration_ms"], td["prefix_padding_ms"]) == (0.7, 800, 300)


def test_session_update_applies_silence_duration() -> None:
    session = new_session()
    send(
        session,
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {
                    "input": {
                        "turn_detection": {
                            "type": "server_vad",
                            "silence_duration_ms": 200,
                            "prefix_padding_ms": 0,
                        }
                    }
                },
            },
        },
    )
    events = send(session, append(TURN))
    assert events[0]["audio_start_ms"] == 1024
    assert events[1]["audio_end_ms"] == 1024 + 640 + 200


@pytest.mark.parametrize(
    ("session_payload", "code", "param"),
    [
        (
            {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
            "invalid_value",
            "session.audio.input.format.rate",
        ),
        ({"audio": {}}, "missing_required_parameter", "session.type"),
        ({"type": "transcription"}, "invalid_value", "session.type"),
        ({"type": "realtime", "bogus": 1}, "unknown_parameter", "session.bogus"),
        (
            {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}},
            "feature_unavailable",
            "session.audio.input.turn_detection.type",
        ),
        (
            {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 2}}},
            },
            "invalid_value",
            None,
        ),
        (
            {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}},
            "feature_unavailable",
            "session.audio.input.transcription",
        ),
        (
            {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "semantic_vad", "threshold": 0.5}}},
            },
            "unknown_parameter",
            "session.audio.input.turn_detection.threshold",
        ),
    ],
)
def test_invalid_session_update_is_rejected_whole(
    session_payload: dict[str, Any], code: str, param: str | None
) -> None:
    session = new_session()
    payload = {"type": "session.update", "event_id": "u1", "session": session_payload}
    if "audio" in session_payload and session_payload.get("type") == "realtime":
        session_payload.setdefault("instructions", "changed")
    (error,) = send(session, payload)
    assert error["type"] == "error"
    assert error["error"]["code"] == code
    if param is not None:
        assert error["error"]["param"] == param
    assert error["error"]["event_id"] == "u1"
    (updated,) = send(session, {"type": "session.update", "session": {"type": "realtime"}})
    assert updated["session"]["instructions"] == ""  # nothing of the rejected update was applied
    assert updated["session"]["audio"]["input"]["turn_detection"]["threshold"] == 0.5


@pytest.mark.parametrize(("name", "encode"), [("audio/pcmu", "ulaw_encode"), ("audio/pcma", "alaw_encode")])
def test_g711_input_gives_the_same_turn_times(name: str, encode: str) -> None:
    from openapiopenai.audio import g711

    session = new_session()
    send(
        session,
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"format": {"type": name}}}},
        },
    )
    audio = getattr(g711, encode)(np.concatenate([silence(1024, 8000), tone(640, 8000), silence(1024, 8000)]))
    events = send(session, append(audio))
    assert events[0]["audio_start_ms"] == 1024 - 300
    assert events[1]["audio_end_ms"] == 1024 + 640 + 500


def test_format_change_with_buffered_audio_is_refused() -> None:
    session = new_session()
    send(session, append(pcm16(silence(100))))
    (error,) = send(
        session,
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcmu"}}}},
        },
    )
    assert error["error"]["code"] == "input_audio_format_change_with_buffered_audio"


def test_idle_timeout_triggers_and_commits() -> None:
    session = new_session()
    send(
        session,
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000}}},
            },
        },
    )
    events = send(session, append(pcm16(silence(6000))))
    assert types(events)[:2] == ["input_audio_buffer.timeout_triggered", "input_audio_buffer.committed"]
    assert events[0]["audio_start_ms"] == 0 and events[0]["audio_end_ms"] == 5024
    assert events[0]["item_id"] == events[1]["item_id"]
    validate_ga(json.dumps(events[0]))


def test_conversation_item_create_delete_retrieve() -> None:
    session = new_session()
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    added = send(session, {"type": "conversation.item.create", "item": {**item, "id": "item_a"}})
    assert types(added) == ["conversation.item.added", "conversation.item.done"]
    first = send(
        session,
        {"type": "conversation.item.create", "item": {**item, "id": "item_root"}, "previous_item_id": "root"},
    )
    assert first[0]["previous_item_id"] is None
    (got,) = send(session, {"type": "conversation.item.retrieve", "item_id": "item_a"})
    assert got["item"]["content"][0]["text"] == "hi"
    assert types(send(session, {"type": "conversation.item.delete", "item_id": "item_a"})) == [
        "conversation.item.deleted"
    ]
    (error,) = send(session, {"type": "conversation.item.retrieve", "item_id": "item_a"})
    assert error["error"]["code"] == "item_not_found"


def test_finish_turn_closes_turn_in_progress() -> None:
    session = new_session()
    send(session, append(pcm16(silence(512), tone(320), silence(64))))
    assert session.turn_in_progress
    session.finish_turn()
    events = [json.loads(t) for t in session.events_to_send()]
    assert types(events)[:2] == ["input_audio_buffer.speech_stopped", "input_audio_buffer.committed"]
    assert events[0]["audio_end_ms"] == 512 + 320 + 64
    assert not session.turn_in_progress


def test_beta_dialect_shapes() -> None:
    session = Session(
        LoudnessModel(), dialect="beta", model_name="gpt-4o-realtime-preview", ids=IdFactory(seed=2)
    )
    session.start()
    created, conversation = session.events_to_send()
    assert validate_beta(created).session.input_audio_format == "pcm16"
    assert validate_beta(conversation).type == "conversation.created"
    events = send(session, append(TURN))
    assert types(events) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.created",
    ]
    for event in events:
        validate_beta(json.dumps(event))
    send(session, {"type": "input_audio_buffer.clear"})  # the format changes only on an empty buffer
    (updated,) = send(
        session,
        {
            "type": "session.update",
            "session": {"input_audio_format": "g711_ulaw", "turn_detection": {"type": "server_vad"}},
        },
    )
    assert validate_beta(json.dumps(updated)).session.input_audio_format == "g711_ulaw"


def test_scripted_probabilities_honour_threshold_config() -> None:
    session = new_session(turn_detection=TurnDetectionConfig(threshold=1.0))
    assert types(send(session, append(TURN)))[0] == "input_audio_buffer.speech_started"  # p == 1.0 >= 1.0


def test_deeply_nested_json_is_an_error_not_a_crash() -> None:
    session = new_session()
    session.receive_text("[" * 100_000)
    (error,) = [json.loads(t) for t in session.events_to_send()]
    assert error["error"]["code"] == "invalid_json"
    deep = '{"type": "session.update", "event_id": "deep", "session": ' + '{"a": ' * 5000 + "1" + "}" * 5001
    session.receive_text(deep)
    (error,) = [json.loads(t) for t in session.events_to_send()]
    assert error["type"] == "error"


def test_item_create_with_bad_base64_audio_is_an_error_naming_the_part() -> None:
    session = new_session()
    item = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "abc"}]}
    (error,) = send(session, {"type": "conversation.item.create", "event_id": "bad", "item": item})
    assert error["error"]["param"] == "item.content[0].audio"
    assert error["error"]["event_id"] == "bad"
    item["content"] = [{"type": "input_audio", "audio": base64.b64encode(b"\x00\x01").decode()}]
    assert types(send(session, {"type": "conversation.item.create", "item": item})) == [
        "conversation.item.added",
        "conversation.item.done",
    ]


def test_a_silent_server_vad_session_never_fills_its_buffer_and_still_hears_the_next_turn() -> None:
    # a caller on hold: a buffer of 8 s, a minute of silence, then a turn
    limits = SessionLimits(max_buffer_bytes=48 * 8000, max_leading_silence_ms=2000)
    session = new_session(limits=limits)
    for _ in range(60):
        assert send(session, append(pcm16(silence(1000)))) == []
    events = send(session, append(TURN))
    assert types(events)[:3] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]
    # the timeline still counts every millisecond appended
    assert events[0]["audio_start_ms"] == 60_000 + 1024 - 300
    assert events[1]["audio_end_ms"] == 60_000 + 1024 + 640 + 500
    retrieved = send(session, {"type": "conversation.item.retrieve", "item_id": events[0]["item_id"]})
    audio = base64.b64decode(retrieved[0]["item"]["content"][0]["audio"])
    # the item holds the turn and a bounded leading silence: 2 to 4 s kept before the last
    # scored frame (minus padding), plus the 1024 ms of silence that opens TURN (and a frame or
    # two of resampler look-ahead)
    leading_ms = len(audio) / 48 - (300 + 640 + 500)
    assert 2000 + 1024 <= leading_ms <= 4000 + 1024 + 64


def test_manual_mode_keeps_all_audio_until_the_client_commits() -> None:
    session = new_session(limits=SessionLimits(max_buffer_bytes=48 * 6000, max_leading_silence_ms=2000))
    send(
        session,
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        },
    )
    session.events_to_send()
    for _ in range(5):
        assert send(session, append(pcm16(silence(1000)))) == []
    events = send(session, {"type": "input_audio_buffer.commit"})
    got = send(session, {"type": "conversation.item.retrieve", "item_id": events[0]["item_id"]})
    assert len(base64.b64decode(got[0]["item"]["content"][0]["audio"])) == 5000 * 48


def test_record_turns_keeps_the_detectors_own_events_with_exact_positions() -> None:
    """``record_turns``: the turn events as the detector made them (samples, the exact onset),
    for the offline tools; off by default, so a server session keeps no log."""
    session = new_session(record_turns=True)
    send(session, append(TURN))
    ms = 24  # samples per ms at 24 kHz
    assert session.turn_log == [
        SpeechStarted(onset=1024 * ms, audio_start=(1024 - 300) * ms),
        SpeechStopped(speech_end=(1024 + 640) * ms, audio_end=(1024 + 640 + 500) * ms, reason="silence"),
    ]
    quiet = new_session()
    send(quiet, append(TURN))
    assert quiet.turn_log == []
