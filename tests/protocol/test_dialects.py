"""Turn-detection and noise-reduction settings in both dialects: what the wire models let through
but the Realtime rules refuse, each as one ``error`` naming the field, the update refused whole."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openapiopenai.protocol.config import Features, InputConfig
from openapiopenai.protocol.dialects import BetaDialect, GaDialect
from openapiopenai.protocol.session import Session
from openapiopenai.turns.config import TurnDetectionConfig
from tests.protocol.test_session import TURN, append, send, types
from tests.protocol.test_work import session_with
from tests.sdk import validate_beta, validate_ga
from tests.synth import pcm16, silence


def update_in(session: Session, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """``settings`` (GA names: turn_detection, noise_reduction) in the session's own dialect."""
    if session.model_name == "beta":
        names = {"noise_reduction": "input_audio_noise_reduction"}
        body = {names.get(key, key): value for key, value in settings.items()}
    else:
        body = {"type": "realtime", "audio": {"input": settings}}
    return send(session, {"type": "session.update", "event_id": "u", "session": body})


def dialect_session(dialect: str) -> Session:
    return session_with(dialect=dialect, model_name=dialect)


PREFIX = {"ga": "session.audio.input", "beta": "session"}
NOISE = {"ga": "noise_reduction", "beta": "input_audio_noise_reduction"}


def stop_ms(session: Session) -> int:
    """``audio_end_ms`` of the next turn, relative to its speech end (the silence window)."""
    start = session.audio_position_ms
    events = send(session, append(TURN))
    stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
    return int(stopped["audio_end_ms"]) - start - 1024 - 640


@pytest.mark.parametrize("dialect", ["ga", "beta"])
@pytest.mark.parametrize("idle", [4999, 30001])
def test_idle_timeout_outside_the_api_range_is_refused_naming_the_field(dialect: str, idle: int) -> None:
    session = dialect_session(dialect)
    td = {"type": "server_vad", "idle_timeout_ms": idle, "silence_duration_ms": 800}
    (error,) = update_in(session, {"turn_detection": td})
    (validate_ga if dialect == "ga" else validate_beta)(json.dumps(error))
    assert error["error"]["code"] == "invalid_value"
    assert error["error"]["param"] == f"{PREFIX[dialect]}.turn_detection.idle_timeout_ms"
    assert error["error"]["event_id"] == "u"
    assert f"got {idle}" in error["error"]["message"]
    assert stop_ms(session) == 500  # the silence window of the refused update was not applied


@pytest.mark.parametrize("dialect", ["ga", "beta"])
@pytest.mark.parametrize(
    ("field", "value", "complaint"),
    [
        ("threshold", 1.5, "threshold must be within [0, 1], got 1.5"),
        ("prefix_padding_ms", -1, "prefix_padding_ms must be >= 0, got -1"),
        ("silence_duration_ms", -5, "silence_duration_ms must be >= 0, got -5"),
    ],
)
def test_turn_detection_values_the_detector_refuses_are_errors(
    dialect: str, field: str, value: float, complaint: str
) -> None:
    session = dialect_session(dialect)
    (error,) = update_in(session, {"turn_detection": {"type": "server_vad", field: value}})
    assert error["error"]["code"] == "invalid_value"
    assert error["error"]["param"] == f"{PREFIX[dialect]}.turn_detection"
    assert complaint in error["error"]["message"]
    assert types(send(session, append(TURN)))[:2] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    ]


@pytest.mark.parametrize("dialect", ["ga", "beta"])
@pytest.mark.parametrize("noise", [{}, {"type": None}])
def test_noise_reduction_without_a_type_is_a_missing_parameter(dialect: str, noise: dict[str, Any]) -> None:
    session = dialect_session(dialect)
    (error,) = update_in(session, {"noise_reduction": noise})
    assert error["error"]["code"] == "missing_required_parameter"
    assert error["error"]["param"] == f"{PREFIX[dialect]}.{NOISE[dialect]}.type"
    (updated,) = update_in(session, {"noise_reduction": {"type": "near_field"}})
    assert updated["type"] == "session.updated"


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_automatic_responses_are_refused_but_turning_them_off_is_fine(dialect: str) -> None:
    session = dialect_session(dialect)
    (error,) = update_in(session, {"turn_detection": {"type": "server_vad", "create_response": True}})
    assert error["error"]["code"] == "unsupported_feature"
    assert error["error"]["param"] == f"{PREFIX[dialect]}.turn_detection.create_response"
    (updated,) = update_in(session, {"turn_detection": {"type": "server_vad", "create_response": False}})
    assert updated["type"] == "session.updated"


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_an_update_is_read_from_the_validated_model_and_the_rest_echoed_as_written(dialect: str) -> None:
    """The dialect takes the typed session model (never a dict dumped from it): the input settings
    come from its fields, explicit nulls included; what the server does not act on is the echo."""
    shape = GaDialect() if dialect == "ga" else BetaDialect()
    td = {"type": "server_vad", "silence_duration_ms": 800, "interrupt_response": False}
    if dialect == "ga":
        body: dict[str, Any] = {
            "type": "realtime",
            "instructions": "hi",
            "audio": {"input": {"turn_detection": td, "noise_reduction": None}, "output": {"voice": "ash"}},
        }
        echoed: dict[str, Any] = {"instructions": "hi", "audio": {"output": {"voice": "ash"}}}
    else:
        body = {
            "instructions": "hi",
            "voice": "ash",
            "turn_detection": td,
            "input_audio_noise_reduction": None,
        }
        echoed = {"instructions": "hi", "voice": "ash"}
    before = InputConfig(noise_reduction="near_field")
    parsed = shape.parse_client_event({"type": "session.update", "session": body}, before).session
    config, echo = shape.apply_update(
        "realtime", before, {}, parsed, TurnDetectionConfig(), Features(noise_reduction=True), None
    )
    assert config.turn_detection == TurnDetectionConfig(silence_duration_ms=800)
    assert config.interrupt_response is False and config.noise_reduction is None
    assert echo == echoed


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_a_turn_detection_update_without_a_type_keeps_the_current_rule(dialect: str) -> None:
    """GA as beta: a missing ``type`` means the session's current rule, decided before the fields
    are validated (GA once validated ``{"eagerness": ...}`` as server_vad and refused it)."""
    session = dialect_session(dialect)
    (updated,) = update_in(session, {"turn_detection": {"silence_duration_ms": 800}})
    assert updated["type"] == "session.updated"
    assert stop_ms(session) == 800  # server_vad, merged
    (updated,) = update_in(session, {"turn_detection": {"type": "semantic_vad"}})
    (updated,) = update_in(session, {"turn_detection": {"eagerness": "high"}})
    assert updated["type"] == "session.updated", updated
    echoed = updated["session"]["audio"]["input"] if dialect == "ga" else updated["session"]
    assert echoed["turn_detection"]["type"] == "semantic_vad"
    assert echoed["turn_detection"]["eagerness"] == "high"
    (error,) = update_in(session, {"turn_detection": {"threshold": 0.6}})  # server_vad's field
    assert error["error"]["code"] == "unknown_parameter"
    assert error["error"]["param"] == f"{PREFIX[dialect]}.turn_detection.threshold"


def test_a_switch_to_semantic_vad_drops_the_server_vad_idle_timeout() -> None:
    """``idle_timeout_ms`` is server_vad's alone: after a switch no hidden timer fires, and a
    switch back does not bring it back."""
    session = dialect_session("ga")
    td = {"type": "server_vad", "idle_timeout_ms": 5000}
    (updated,) = update_in(session, {"turn_detection": td})
    assert updated["session"]["audio"]["input"]["turn_detection"]["idle_timeout_ms"] == 5000
    (updated,) = update_in(session, {"turn_detection": {"type": "semantic_vad"}})
    assert "idle_timeout_ms" not in updated["session"]["audio"]["input"]["turn_detection"]
    assert send(session, append(pcm16(silence(7000)))) == []  # no timeout_triggered
    (updated,) = update_in(session, {"turn_detection": {"type": "server_vad"}})
    assert updated["session"]["audio"]["input"]["turn_detection"]["idle_timeout_ms"] is None
    assert send(session, append(pcm16(silence(7000)))) == []


TRANSCRIPTION = {"ga": "session.audio.input.transcription", "beta": "session.input_audio_transcription"}


def transcription_update(session: Session, dialect: str, transcription: Any) -> list[dict[str, Any]]:
    if dialect == "beta":
        body: dict[str, Any] = {"input_audio_transcription": transcription}
    else:
        body = {"type": session.kind, "audio": {"input": {"transcription": transcription}}}
    return send(session, {"type": "session.update", "event_id": "u", "session": body})


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_transcription_is_echoed_as_asked_explicit_nulls_included(dialect: str) -> None:
    session = dialect_session(dialect)
    asked = {"model": "whisper-1", "language": None}
    (updated,) = transcription_update(session, dialect, asked)
    echoed = updated["session"]["audio"]["input"] if dialect == "ga" else updated["session"]
    assert echoed["transcription" if dialect == "ga" else "input_audio_transcription"] == asked


@pytest.mark.parametrize(
    ("dialect", "kind"),
    [("ga", "realtime"), ("ga", "transcription"), ("beta", "realtime"), ("beta", "transcription")],
)
def test_an_unknown_transcription_field_is_reported_inside_transcription(dialect: str, kind: str) -> None:
    """``transcription`` is also the tag of GA's transcription session type, which pydantic puts in
    error locations; the field of ``audio.input`` is not a tag and stays in the ``param``."""
    session = session_with(dialect=dialect, intent=kind)
    (error,) = transcription_update(session, dialect, {"model": "whisper-1", "foo": 1})
    assert error["error"]["code"] == "unknown_parameter"
    assert error["error"]["param"] == f"{TRANSCRIPTION[dialect]}.foo"
    assert error["error"]["event_id"] == "u"
