"""GA and beta wire shapes of the same session.

The Session works on :class:`InputConfig`; a dialect translates ``session.update`` payloads
into it and renders the full session object (and the user-item events) back in its own
shape. Everything shape-specific lives here, so the state machine has no ``if beta``.

Updates arrive typed: ``apply_update`` takes the validated pydantic session model and reads
the input settings from its fields (which were given is ``model_fields_set``: an explicit
``null`` clears a setting, an absent field keeps it). One part stays a dict, on purpose: the
*echo*, the settings this server accepts but does not act on (``instructions``, ``tools``, output
audio, ...). Those are only ever merged into the next ``session.updated`` as the client wrote
them, nested objects field by field (:func:`~openapiopenai.protocol.config.deep_merge`), so their
wire shape is the right representation; they are dumped once from the model, never re-read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeAlias

from openapiopenai.audio.formats import AudioFormat, from_beta, from_ga
from openapiopenai.exceptions import ConfigError, ProtocolError
from openapiopenai.models import (
    AudioTranscription,
    RealtimeAudioFormatsAudioPCM,
    RealtimeAudioInputTurnDetectionSemanticVad,
    RealtimeAudioInputTurnDetectionServerVad,
    RealtimeBetaServerEventConversationItemCreated,
    RealtimeBetaServerEventConversationItemRetrieved,
    RealtimeBetaServerEventSessionCreated,
    RealtimeBetaServerEventSessionUpdated,
    RealtimeBetaSessionUpdateSession,
    RealtimeBetaTranscriptionSessionUpdateSession,
    RealtimeBetaTurnDetection,
    RealtimeModel,
    RealtimeServerEventConversationItemAdded,
    RealtimeServerEventConversationItemDone,
    RealtimeServerEventConversationItemRetrieved,
    RealtimeServerEventSessionCreated,
    RealtimeServerEventSessionUpdated,
    RealtimeSessionCreateRequest,
    RealtimeTranscriptionSessionCreateRequest,
)
from openapiopenai.models import NoiseReduction as WireNoiseReduction
from openapiopenai.models.unions import parse_beta_client_event as _parse_beta
from openapiopenai.models.unions import parse_client_event as _parse_ga
from openapiopenai.protocol import errors
from openapiopenai.protocol.config import (
    LOGPROBS_INCLUDE,
    Feature,
    Features,
    InputConfig,
    SessionKind,
    TranscriptionConfig,
    TurnDetection,
    deep_merge,
)
from openapiopenai.protocol.work import NoiseReduction
from openapiopenai.turns.config import IDLE_TIMEOUT_RANGE_MS, SemanticVadConfig, TurnDetectionConfig

#: wire fields of ``server_vad`` that map onto TurnDetectionConfig
VAD_FIELDS = ("threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms")
#: the transcription settings a session keeps (and echoes)
TRANSCRIPTION_FIELDS = ("model", "language", "prompt")
#: ``server_vad`` fields a ``semantic_vad`` object may not carry (OpenAI rejects them too)
SEMANTIC_REJECTED = VAD_FIELDS

#: a validated ``turn_detection`` object: GA's two tagged shapes, or beta's (and GA transcription
#: sessions') one flat shape
WireTurnDetection: TypeAlias = (
    RealtimeAudioInputTurnDetectionServerVad
    | RealtimeAudioInputTurnDetectionSemanticVad
    | RealtimeBetaTurnDetection
)
GaSessionUpdate: TypeAlias = RealtimeSessionCreateRequest | RealtimeTranscriptionSessionCreateRequest
BetaSessionUpdate: TypeAlias = (
    RealtimeBetaSessionUpdateSession | RealtimeBetaTranscriptionSessionUpdateSession
)
#: the validated ``session`` of a ``session.update`` (or beta ``transcription_session.update``)
SessionUpdate: TypeAlias = GaSessionUpdate | BetaSessionUpdate


@dataclass(frozen=True, slots=True)
class InputUpdate:
    """The input settings one update carries, typed, whatever the dialect's shape.

    ``given`` names the settings present in the update (``null`` included: it switches the
    setting off); the others keep their current values."""

    given: frozenset[str]
    transcription: AudioTranscription | None = None
    noise_reduction: WireNoiseReduction | None = None
    turn_detection: WireTurnDetection | None = None
    include: Sequence[str] | None = None


GA_CLIENT_TYPES = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "response.create",
    "response.cancel",
    "output_audio_buffer.clear",
)
BETA_CLIENT_TYPES = (*GA_CLIENT_TYPES, "transcription_session.update")

#: the beta SDK's closed enum of models; other names are left out of beta echoes
BETA_MODELS = frozenset(
    {
        "gpt-realtime",
        "gpt-realtime-2025-08-28",
        "gpt-4o-realtime-preview",
        "gpt-4o-realtime-preview-2024-10-01",
        "gpt-4o-realtime-preview-2024-12-17",
        "gpt-4o-realtime-preview-2025-06-03",
        "gpt-4o-mini-realtime-preview",
        "gpt-4o-mini-realtime-preview-2024-12-17",
    }
)


def _check_idle_timeout(idle: int | None, param: str, event_id: str | None) -> None:
    low, high = IDLE_TIMEOUT_RANGE_MS
    if idle is not None and not low <= idle <= high:
        raise ProtocolError(
            f"Invalid value for '{param}.idle_timeout_ms': expected {low} <= x <= {high}, got {idle}.",
            code=errors.INVALID_VALUE,
            param=f"{param}.idle_timeout_ms",
            event_id=event_id,
        )


def _merged_vad(
    base: TurnDetectionConfig, changes: dict[str, Any], param: str, event_id: str | None
) -> TurnDetectionConfig:
    try:
        return base.merged(**changes)
    except ConfigError as exc:
        raise ProtocolError(
            f"Invalid value for '{param}': {exc}", code=errors.INVALID_VALUE, param=param, event_id=event_id
        ) from exc


def current_type(current: TurnDetection | None) -> str:
    """What a ``turn_detection`` without ``type`` means: the current rule (``server_vad`` if none)."""
    return "semantic_vad" if isinstance(current, SemanticVadConfig) else "server_vad"


def merge_turn_detection(
    current: TurnDetection | None,
    default: TurnDetectionConfig,
    wire: WireTurnDetection,
    kind: SessionKind,
    features: Features,
    param: str,
    event_id: str | None,
) -> TurnDetection:
    """A (possibly partial) wire turn-detection object applied over the current settings.

    The same ``type`` merges field by field; a new ``type`` switches rule and keeps the onset
    settings the two share. A missing ``type`` means the current rule (``server_vad`` if none)."""
    wanted = wire.type or current_type(current)
    if kind == "realtime" and wire.create_response is True:
        raise errors.unsupported(
            "create_response (automatic model responses)", f"{param}.create_response", event_id
        )
    vad = current.vad if isinstance(current, SemanticVadConfig) else (current or default)
    given = wire.model_fields_set
    eagerness = None if isinstance(wire, RealtimeAudioInputTurnDetectionServerVad) else wire.eagerness
    if wanted == "semantic_vad":
        # the GA semantic_vad model has none of these fields; beta's flat one has them all
        extra = [key for key in SEMANTIC_REJECTED if getattr(wire, key, None) is not None]
        if extra:
            raise ProtocolError(
                f"Unknown parameter: '{param}.{extra[0]}'. semantic_vad has no '{extra[0]}'.",
                code=errors.UNKNOWN_PARAMETER,
                param=f"{param}.{extra[0]}",
                event_id=event_id,
            )
        require(features, "semantic_vad", "semantic_vad turn detection", f"{param}.type", event_id)
        eagerness = eagerness or (current.eagerness if isinstance(current, SemanticVadConfig) else "auto")
        # the idle timer is server_vad's alone (the API refuses it on semantic_vad): a switch
        # drops it rather than keep a timer the session object no longer shows
        return SemanticVadConfig(eagerness=eagerness, vad=replace(vad, idle_timeout_ms=None))
    if eagerness is not None:
        raise ProtocolError(
            f"Unknown parameter: '{param}.eagerness'. Only semantic_vad has 'eagerness'.",
            code=errors.UNKNOWN_PARAMETER,
            param=f"{param}.eagerness",
            event_id=event_id,
        )
    changes = {key: getattr(wire, key) for key in VAD_FIELDS if key in given}
    _check_idle_timeout(changes.get("idle_timeout_ms"), param, event_id)
    return _merged_vad(vad, changes, param, event_id)


def require(features: Features, feature: Feature, what: str, param: str, event_id: str | None) -> None:
    """Refuse a feature the shell does not provide, saying why."""
    if not getattr(features, feature):
        hint = features.hint(feature)
        raise ProtocolError(
            f"{what} is not available on this server{': ' + hint if hint else '.'}",
            code=errors.FEATURE_UNAVAILABLE,
            param=param,
            event_id=event_id,
        )


def parse_transcription(
    wire: AudioTranscription | None, features: Features, param: str, event_id: str | None
) -> TranscriptionConfig | None:
    """``transcription`` / ``input_audio_transcription``: replaced whole (``null``: off)."""
    if wire is None:
        return None
    require(features, "transcription", "Input audio transcription", param, event_id)
    nulls = frozenset(
        key for key in TRANSCRIPTION_FIELDS if key in wire.model_fields_set and getattr(wire, key) is None
    )
    return TranscriptionConfig(
        model=wire.model, language=wire.language, prompt=wire.prompt, null_fields=nulls
    )


def parse_noise_reduction(
    wire: WireNoiseReduction | None, features: Features, param: str, event_id: str | None
) -> NoiseReduction | None:
    """``noise_reduction`` / ``input_audio_noise_reduction``: ``{type}`` or ``null`` (off)."""
    if wire is None:
        return None
    kind = wire.type
    if kind is None:
        raise ProtocolError(
            f"Missing required parameter: '{param}.type'.",
            code=errors.MISSING_REQUIRED_PARAMETER,
            param=f"{param}.type",
            event_id=event_id,
        )
    require(features, "noise_reduction", "Noise reduction", param, event_id)
    return kind


def wire_transcription(config: InputConfig) -> dict[str, Any] | None:
    t = config.transcription
    if t is None:
        return None
    values = {"model": t.model, "language": t.language, "prompt": t.prompt}
    return {key: value for key, value in values.items() if value is not None or key in t.null_fields}


def wire_noise_reduction(config: InputConfig) -> dict[str, Any] | None:
    return None if config.noise_reduction is None else {"type": config.noise_reduction}


def wire_include(config: InputConfig) -> list[str] | None:
    return [LOGPROBS_INCLUDE] if config.include_logprobs else None


def wire_turn_detection(
    config: InputConfig, kind: SessionKind, *, with_idle_timeout: bool
) -> dict[str, Any] | None:
    """The turn-detection object a session reports (``None`` in manual mode)."""
    td = config.turn_detection
    if td is None:
        return None
    wire: dict[str, Any]
    if isinstance(td, SemanticVadConfig):
        wire = {"type": "semantic_vad", "eagerness": td.eagerness}
    else:
        wire = {
            "type": "server_vad",
            "threshold": td.threshold,
            "prefix_padding_ms": td.prefix_padding_ms,
            "silence_duration_ms": td.silence_duration_ms,
        }
        if kind == "realtime" and with_idle_timeout:
            wire["idle_timeout_ms"] = td.idle_timeout_ms
    if kind == "realtime":
        wire["create_response"] = False
        wire["interrupt_response"] = config.interrupt_response
    return wire


def _apply_input(
    config: InputConfig,
    update: InputUpdate,
    names: dict[str, str],
    kind: SessionKind,
    default_td: TurnDetectionConfig,
    features: Features,
    event_id: str | None,
) -> InputConfig:
    """The dialect-neutral part of an update: ``names`` maps our setting to its wire param."""
    changes: dict[str, Any] = {}
    if "transcription" in update.given:
        changes["transcription"] = parse_transcription(
            update.transcription, features, names["transcription"], event_id
        )
    if "noise_reduction" in update.given:
        changes["noise_reduction"] = parse_noise_reduction(
            update.noise_reduction, features, names["noise_reduction"], event_id
        )
    if "turn_detection" in update.given:
        wire_td = update.turn_detection
        if wire_td is None:
            changes["turn_detection"] = None
        else:
            changes["turn_detection"] = merge_turn_detection(
                config.turn_detection, default_td, wire_td, kind, features, names["turn_detection"], event_id
            )
            if wire_td.interrupt_response is not None:
                changes["interrupt_response"] = wire_td.interrupt_response
    if "include" in update.given:
        changes["include_logprobs"] = LOGPROBS_INCLUDE in (update.include or ())
    return replace(config, **changes)


def _typed_turn_detection(event: dict[str, Any], config: InputConfig) -> dict[str, Any]:
    """``event`` with the current rule's ``type`` filled into a typeless GA
    ``session.audio.input.turn_detection`` (new dicts along the path; the rest is shared). Any
    other shape is left for validation to judge."""
    session = event.get("session")
    if event.get("type") != "session.update" or not isinstance(session, dict):
        return event
    audio = session.get("audio")
    audio_in = audio.get("input") if isinstance(audio, dict) else None
    td = audio_in.get("turn_detection") if isinstance(audio_in, dict) else None
    if (
        not isinstance(audio, dict)
        or not isinstance(audio_in, dict)
        or not isinstance(td, dict)
        or "type" in td
    ):
        return event
    td = {"type": current_type(config.turn_detection), **td}
    return {**event, "session": {**session, "audio": {**audio, "input": {**audio_in, "turn_detection": td}}}}


class GaDialect:
    """The GA shape: ``session.type``, ``audio.input.*``, ``conversation.item.added``/``done``."""

    name: ClassVar[str] = "ga"
    client_types: ClassVar[tuple[str, ...]] = GA_CLIENT_TYPES
    #: beta sends ``conversation.created`` after ``session.created``; GA does not (live captures)
    sends_conversation_created: ClassVar[bool] = False
    session_created_event: ClassVar[type[RealtimeModel]] = RealtimeServerEventSessionCreated
    session_updated_event: ClassVar[type[RealtimeModel]] = RealtimeServerEventSessionUpdated
    item_retrieved_event: ClassVar[type[RealtimeModel]] = RealtimeServerEventConversationItemRetrieved
    #: what announces a new item: GA ``conversation.item.added`` then ``.done``
    item_added_events: ClassVar[tuple[tuple[type[RealtimeModel], str], ...]] = (
        (RealtimeServerEventConversationItemAdded, "conversation.item.added"),
        (RealtimeServerEventConversationItemDone, "conversation.item.done"),
    )

    def session_object(
        self,
        kind: SessionKind,
        config: InputConfig,
        echo: dict[str, Any],
        *,
        session_id: str,
        model_name: str | None,
        expires_at: int,
    ) -> dict[str, Any]:
        fmt = config.format
        wire_format: dict[str, Any] = {"type": fmt.ga_type}
        if fmt.ga_type == "audio/pcm":
            wire_format["rate"] = fmt.sample_rate
        audio_input = {
            "format": wire_format,
            "transcription": wire_transcription(config),
            "noise_reduction": wire_noise_reduction(config),
            "turn_detection": wire_turn_detection(config, kind, with_idle_timeout=True),
        }
        if kind == "transcription":
            base: dict[str, Any] = {
                "type": "transcription",
                "object": "realtime.transcription_session",
                "id": session_id,
                "expires_at": expires_at,
            }
        else:
            base = {
                "type": "realtime",
                "object": "realtime.session",
                "id": session_id,
                "model": model_name or "gpt-realtime",
                "output_modalities": ["audio"],
                "instructions": "",
                "tools": [],
                "tool_choice": "auto",
                "max_output_tokens": "inf",
                "tracing": None,
                "truncation": "auto",
                "prompt": None,
                "expires_at": expires_at,
                "audio": {
                    "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0}
                },
            }
        merged = deep_merge(base, echo)
        merged["audio"] = deep_merge(merged.get("audio", {}), {"input": audio_input})
        merged["include"] = wire_include(config)
        return merged

    def apply_update(
        self,
        kind: SessionKind,
        config: InputConfig,
        echo: dict[str, Any],
        session: SessionUpdate,
        default_td: TurnDetectionConfig,
        features: Features,
        event_id: str | None,
    ) -> tuple[InputConfig, dict[str, Any]]:
        """Validate a whole update and return the new state; raise before changing anything."""
        if not isinstance(session, GaSessionUpdate):  # pragma: no cover - parse_client_event made it
            raise TypeError(f"not a GA session update: {type(session).__name__}")
        if session.type != kind:
            raise ProtocolError(
                f"Passing a {session.type} session update event to a {kind} session is not allowed.",
                code=errors.INVALID_VALUE,
                param="session.type",
                event_id=event_id,
            )
        audio_in = None if session.audio is None else session.audio.input
        fmt: AudioFormat = config.format
        update = InputUpdate(frozenset())
        if audio_in is not None:
            wire = audio_in.format
            if wire is not None:
                fmt = from_ga(
                    wire.type, wire.rate if isinstance(wire, RealtimeAudioFormatsAudioPCM) else None
                )
            update = InputUpdate(
                frozenset(audio_in.model_fields_set & {"transcription", "noise_reduction", "turn_detection"}),
                transcription=audio_in.transcription,
                noise_reduction=audio_in.noise_reduction,
                turn_detection=audio_in.turn_detection,
            )
        if "include" in session.model_fields_set:
            update = replace(update, given=update.given | {"include"}, include=session.include)
        param = "session.audio.input"
        names = {key: f"{param}.{key}" for key in ("transcription", "noise_reduction", "turn_detection")}
        new = _apply_input(config, update, names, kind, default_td, features, event_id)
        # the echo: everything this server does not act on, as the client wrote it
        rest = session.model_dump(mode="json", exclude_unset=True, exclude={"type", "include", "audio"})
        if session.audio is not None:
            audio = session.audio.model_dump(mode="json", exclude_unset=True, exclude={"input"})
            if audio:
                rest["audio"] = audio
        return replace(new, format=fmt), deep_merge(echo, rest)

    def parse_client_event(self, event: dict[str, Any], config: InputConfig) -> Any:
        """A client event as this dialect's model (raises ``pydantic.ValidationError``).

        GA tells ``server_vad`` from ``semantic_vad`` by ``type`` before it validates the other
        fields; a ``turn_detection`` without one means the session's current rule (as in beta,
        whose one flat shape takes either), so it is filled in first."""
        return _parse_ga(_typed_turn_detection(event, config))

    def user_item(self, item_id: str, content: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": content if content is not None else [{"type": "input_audio", "transcript": None}],
        }

    def client_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """A client-created item as this dialect reports it."""
        return item


class BetaDialect(GaDialect):
    """The beta shape (``OpenAI-Beta: realtime=v1``): flat session, ``conversation.item.created``."""

    name: ClassVar[str] = "beta"
    client_types: ClassVar[tuple[str, ...]] = BETA_CLIENT_TYPES
    sends_conversation_created: ClassVar[bool] = True
    session_created_event: ClassVar[type[RealtimeModel]] = RealtimeBetaServerEventSessionCreated
    session_updated_event: ClassVar[type[RealtimeModel]] = RealtimeBetaServerEventSessionUpdated
    item_retrieved_event: ClassVar[type[RealtimeModel]] = RealtimeBetaServerEventConversationItemRetrieved
    item_added_events: ClassVar[tuple[tuple[type[RealtimeModel], str], ...]] = (
        (RealtimeBetaServerEventConversationItemCreated, "conversation.item.created"),
    )

    def session_object(
        self,
        kind: SessionKind,
        config: InputConfig,
        echo: dict[str, Any],
        *,
        session_id: str,
        model_name: str | None,
        expires_at: int,
    ) -> dict[str, Any]:
        own = {
            "input_audio_format": config.format.beta_name,
            "input_audio_transcription": wire_transcription(config),
            "input_audio_noise_reduction": wire_noise_reduction(config),
            "turn_detection": wire_turn_detection(config, kind, with_idle_timeout=False),
            "include": wire_include(config),
        }
        base: dict[str, Any] = {
            "id": session_id,
            "object": "realtime.session" if kind == "realtime" else "realtime.transcription_session",
            "expires_at": expires_at,
        }
        if kind == "realtime":
            base.update(
                {
                    "modalities": ["audio", "text"],
                    "instructions": "",
                    "voice": "alloy",
                    "output_audio_format": "pcm16",
                    "tools": [],
                    "tool_choice": "auto",
                    "temperature": 0.8,
                    "max_response_output_tokens": "inf",
                    "speed": 1.0,
                    "tracing": None,
                    "client_secret": None,
                }
            )
            if model_name in BETA_MODELS:
                base["model"] = model_name
        else:
            base["client_secret"] = {"value": "", "expires_at": 0}
            base["modalities"] = ["text"]
        merged = deep_merge(base, echo)
        merged.update(own)
        return merged

    def apply_update(
        self,
        kind: SessionKind,
        config: InputConfig,
        echo: dict[str, Any],
        session: SessionUpdate,
        default_td: TurnDetectionConfig,
        features: Features,
        event_id: str | None,
    ) -> tuple[InputConfig, dict[str, Any]]:
        if not isinstance(session, BetaSessionUpdate):  # pragma: no cover - parse_client_event made it
            raise TypeError(f"not a beta session update: {type(session).__name__}")
        fmt = config.format if session.input_audio_format is None else from_beta(session.input_audio_format)
        wire_names = {
            "transcription": "input_audio_transcription",
            "noise_reduction": "input_audio_noise_reduction",
            "turn_detection": "turn_detection",
            "include": "include",  # transcription sessions only
        }
        given = frozenset(ours for ours, wire in wire_names.items() if wire in session.model_fields_set)
        update = InputUpdate(
            given,
            transcription=session.input_audio_transcription,
            noise_reduction=session.input_audio_noise_reduction,
            turn_detection=session.turn_detection,
            include=session.include
            if isinstance(session, RealtimeBetaTranscriptionSessionUpdateSession)
            else None,
        )
        names = {ours: f"session.{wire}" for ours, wire in wire_names.items()}
        new = _apply_input(config, update, names, kind, default_td, features, event_id)
        # the echo: everything this server does not act on (``model`` is the server's), as written
        rest = session.model_dump(
            mode="json", exclude_unset=True, exclude={"input_audio_format", "model", *wire_names.values()}
        )
        return replace(new, format=fmt), deep_merge(echo, rest)

    def parse_client_event(self, event: dict[str, Any], config: InputConfig) -> Any:
        return _parse_beta(event)

    def user_item(self, item_id: str, content: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {"object": "realtime.item", **super().user_item(item_id, content)}

    def client_item(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"object": "realtime.item", **item}
