"""The wire models: the generated-client surface, and agreement with the official SDK's types."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent

import openapiopenai.models as models
from openapiopenai.models.unions import (
    BETA_SERVER_EVENTS,
    CLIENT_EVENTS,
    SERVER_EVENTS,
    UnknownEventTypeError,
    parse_beta_server_event,
    parse_client_event,
    parse_server_event,
)
from tests.models.sdk_samples import model_sample, union_members

SEED = '{"event_id":"event_1","type":"input_audio_buffer.speech_started","audio_start_ms":1000,"item_id":"item_1"}'  # noqa: E501 - the seed example, verbatim

GA_SERVER = union_members(RealtimeServerEvent)
GA_CLIENT = union_members(RealtimeClientEvent)
BETA_SERVER = union_members(BetaServerEvent)
#: the beta events this server sends (its input side); the rest of the beta union is model output
BETA_INPUT_SIDE = {
    "session.created",
    "session.updated",
    "transcription_session.updated",
    "conversation.created",
    "conversation.item.created",
    "conversation.item.deleted",
    "conversation.item.retrieved",
    "error",
    "input_audio_buffer.cleared",
    "input_audio_buffer.committed",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
}


def event_type(sdk_cls: Any) -> str:
    return str(sdk_cls.model_fields["type"].annotation.__args__[0])


def strict(union: Any) -> pydantic.TypeAdapter[Any]:
    members = union_members(union)
    return pydantic.TypeAdapter(
        typing_annotated(members),
    )


def typing_annotated(members: tuple[Any, ...]) -> Any:
    from typing import Annotated, Union

    return Annotated[Union[members], pydantic.Field(discriminator="type")]  # noqa: UP007


def test_seed_example_runs_verbatim() -> None:
    from openapiopenai.models.realtime_server_event_input_audio_buffer_speech_started import (
        RealtimeServerEventInputAudioBufferSpeechStarted,
    )

    event = RealtimeServerEventInputAudioBufferSpeechStarted.from_json(SEED)
    assert event.audio_start_ms == 1000 and event.item_id == "item_1"
    assert json.loads(event.to_json()) == json.loads(SEED)
    as_dict = event.to_dict()
    assert as_dict == json.loads(SEED)
    assert RealtimeServerEventInputAudioBufferSpeechStarted.from_dict(as_dict) == event
    assert RealtimeServerEventInputAudioBufferSpeechStarted.from_dict(None) is None
    assert "audio_start_ms" in event.to_str()


def test_every_model_is_importable_from_the_package() -> None:
    for cls in [*SERVER_EVENTS.values(), *CLIENT_EVENTS.values(), *BETA_SERVER_EVENTS.values()]:
        assert getattr(models, cls.__name__) is cls


def test_to_dict_omits_unset_fields_but_keeps_type_and_explicit_nulls() -> None:
    committed = models.RealtimeServerEventInputAudioBufferCommitted(event_id="e", item_id="i")
    assert committed.to_dict() == {"type": "input_audio_buffer.committed", "event_id": "e", "item_id": "i"}
    chained = models.RealtimeServerEventInputAudioBufferCommitted(
        event_id="e", item_id="i", previous_item_id=None
    )
    assert chained.to_dict()["previous_item_id"] is None
    fmt = models.RealtimeAudioFormatsAudioPCMU()
    assert fmt.to_dict() == {"type": "audio/pcmu"}


@pytest.mark.parametrize("full", [False, True], ids=["required-fields", "all-fields"])
@pytest.mark.parametrize("sdk_cls", GA_SERVER, ids=event_type)
def test_ga_server_event_agrees_with_sdk(sdk_cls: Any, full: bool) -> None:
    kind = event_type(sdk_cls)
    assert kind in SERVER_EVENTS, f"server event {kind!r} is not modelled"
    sdk_event = sdk_cls.model_validate(model_sample(sdk_cls, full=full))
    sdk_dict = sdk_event.to_dict()
    ours = parse_server_event(sdk_event.to_json())
    assert type(ours) is SERVER_EVENTS[kind]
    assert ours.to_dict() == sdk_dict
    again = strict(RealtimeServerEvent).validate_json(ours.to_json(), strict=True)
    assert again.to_dict() == sdk_dict


@pytest.mark.parametrize("full", [False, True], ids=["required-fields", "all-fields"])
@pytest.mark.parametrize("sdk_cls", GA_CLIENT, ids=event_type)
def test_ga_client_event_agrees_with_sdk(sdk_cls: Any, full: bool) -> None:
    kind = event_type(sdk_cls)
    assert kind in CLIENT_EVENTS, f"client event {kind!r} is not modelled"
    sdk_event = sdk_cls.model_validate(model_sample(sdk_cls, full=full))
    sdk_dict = sdk_event.to_dict()
    ours = parse_client_event(sdk_event.to_json())
    assert type(ours) is CLIENT_EVENTS[kind]
    assert ours.to_dict() == sdk_dict
    strict(RealtimeClientEvent).validate_json(ours.to_json(), strict=True)


@pytest.mark.parametrize(
    "sdk_cls", [c for c in BETA_SERVER if event_type(c) in BETA_INPUT_SIDE], ids=event_type
)
def test_beta_server_event_agrees_with_sdk(sdk_cls: Any) -> None:
    kind = event_type(sdk_cls)
    sdk_event = sdk_cls.model_validate(model_sample(sdk_cls, full=True))
    ours = parse_beta_server_event(sdk_event.to_json())
    assert ours.to_dict() == sdk_event.to_dict()
    strict(BetaServerEvent).validate_json(ours.to_json(), strict=True)
    assert kind in BETA_SERVER_EVENTS


def test_unknown_type_raises_a_clear_error() -> None:
    with pytest.raises(UnknownEventTypeError, match=r"input_audio_buffer\.speech_begun"):
        parse_server_event('{"type": "input_audio_buffer.speech_begun", "event_id": "e"}')
    with pytest.raises(UnknownEventTypeError):
        parse_client_event({"audio": "AAAA"})


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "input_audio_buffer.speech_started", "event_id": "e", "item_id": "i"}, "audio_start_ms"),
        (
            {
                "type": "input_audio_buffer.speech_started",
                "event_id": "e",
                "item_id": "i",
                "audio_start_ms": "soon",
            },
            "audio_start_ms",
        ),
        ({"type": "input_audio_buffer.speech_stopped", "event_id": "e", "audio_end_ms": 5}, "item_id"),
    ],
)
def test_bad_field_raises_validation_error_naming_it(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        parse_server_event(payload)
    assert caught.value.errors()[0]["loc"] == (field,)
    assert field in str(caught.value)


def test_wrong_type_literal_is_rejected_by_the_class() -> None:
    with pytest.raises(pydantic.ValidationError, match="type"):
        models.RealtimeServerEventInputAudioBufferSpeechStarted.from_json(
            SEED.replace("speech_started", "cleared")
        )


def test_client_events_reject_unknown_fields() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        parse_client_event({"type": "input_audio_buffer.commit", "surprise": 1})
    assert caught.value.errors()[0]["type"] == "extra_forbidden"


def test_session_update_parses_nested_config_by_discriminator() -> None:
    event = parse_client_event(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcmu"},
                        "turn_detection": {"silence_duration_ms": 300},
                    }
                },
            },
        }
    )
    assert isinstance(event, models.RealtimeClientEventSessionUpdate)
    session = event.session
    assert isinstance(session, models.RealtimeSessionCreateRequest)
    assert session.audio is not None and session.audio.input is not None
    assert isinstance(session.audio.input.format, models.RealtimeAudioFormatsAudioPCMU)
    assert isinstance(session.audio.input.turn_detection, models.RealtimeAudioInputTurnDetectionServerVad)
    assert session.audio.input.turn_detection.to_dict() == {"type": "server_vad", "silence_duration_ms": 300}
