"""GA and beta wire shapes of the same session.

The Session works on :class:`InputConfig`; a dialect translates ``session.update`` payloads
into it and renders the full session object (and the user-item events) back in its own
shape. Everything shape-specific lives here, so the state machine has no ``if beta``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from openapiopenai.audio.formats import AudioFormat, from_beta, from_ga
from openapiopenai.exceptions import ConfigError, ProtocolError
from openapiopenai.protocol import errors
from openapiopenai.protocol.config import InputConfig, SessionKind, deep_merge
from openapiopenai.turns.config import IDLE_TIMEOUT_RANGE_MS, TurnDetectionConfig

#: wire fields of ``server_vad`` that map onto TurnDetectionConfig
VAD_FIELDS = ("threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms")

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


def merge_turn_detection(
    current: TurnDetectionConfig | None,
    default: TurnDetectionConfig,
    wire: dict[str, Any],
    param: str,
    event_id: str | None,
) -> TurnDetectionConfig:
    """A (possibly partial) wire ``server_vad`` object applied over the current settings."""
    changes = {key: wire[key] for key in VAD_FIELDS if key in wire}
    idle = changes.get("idle_timeout_ms")
    low, high = IDLE_TIMEOUT_RANGE_MS
    if idle is not None and not low <= idle <= high:
        raise ProtocolError(
            f"Invalid value for '{param}.idle_timeout_ms': expected {low} <= x <= {high}, got {idle}.",
            code=errors.INVALID_VALUE,
            param=f"{param}.idle_timeout_ms",
            event_id=event_id,
        )
    try:
        return (current or default).merged(**changes)
    except ConfigError as exc:
        raise ProtocolError(
            f"Invalid value for '{param}': {exc}", code=errors.INVALID_VALUE, param=param, event_id=event_id
        ) from exc


def check_turn_detection_kind(
    wire: dict[str, Any], kind: SessionKind, param: str, event_id: str | None
) -> None:
    if wire.get("type", "server_vad") == "semantic_vad":
        raise errors.unsupported("semantic_vad turn detection", f"{param}.type", event_id)
    if kind == "realtime" and wire.get("create_response") is True:
        raise errors.unsupported(
            "create_response (automatic model responses)", f"{param}.create_response", event_id
        )


def reject_if_set(value: Any, what: str, param: str, event_id: str | None) -> None:
    if value is not None:
        raise errors.unsupported(what, param, event_id)


def wire_turn_detection(
    config: InputConfig, kind: SessionKind, *, with_idle_timeout: bool
) -> dict[str, Any] | None:
    """The ``server_vad`` object a session reports (``None`` in manual mode)."""
    td = config.turn_detection
    if td is None:
        return None
    wire: dict[str, Any] = {
        "type": "server_vad",
        "threshold": td.threshold,
        "prefix_padding_ms": td.prefix_padding_ms,
        "silence_duration_ms": td.silence_duration_ms,
    }
    if kind == "realtime":
        if with_idle_timeout:
            wire["idle_timeout_ms"] = td.idle_timeout_ms
        wire["create_response"] = False
        wire["interrupt_response"] = config.interrupt_response
    return wire


class GaDialect:
    """The GA shape: ``session.type``, ``audio.input.*``, ``conversation.item.added``/``done``."""

    name: ClassVar[str] = "ga"
    update_type: ClassVar[str] = "session.update"

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
        turn_detection = wire_turn_detection(config, kind, with_idle_timeout=True)
        audio_input = {
            "format": wire_format,
            "transcription": None,
            "noise_reduction": None,
            "turn_detection": turn_detection,
        }
        if kind == "transcription":
            base: dict[str, Any] = {
                "type": "transcription",
                "object": "realtime.transcription_session",
                "id": session_id,
                "expires_at": expires_at,
                "include": None,
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
                "include": None,
            }
        merged = deep_merge(base, echo)
        merged["audio"] = deep_merge(merged.get("audio", {}), {"input": audio_input})
        return merged

    def apply_update(
        self,
        kind: SessionKind,
        config: InputConfig,
        echo: dict[str, Any],
        session: dict[str, Any],
        default_td: TurnDetectionConfig,
        event_id: str | None,
    ) -> tuple[InputConfig, dict[str, Any]]:
        """Validate a whole update and return the new state; raise before changing anything."""
        if session.get("type") != kind:
            raise ProtocolError(
                f"Passing a {session.get('type')} session update event to a {kind} session is not allowed.",
                code=errors.INVALID_VALUE,
                param="session.type",
                event_id=event_id,
            )
        rest = dict(session)
        del rest["type"]
        audio = dict(rest.pop("audio", None) or {})
        audio_in: dict[str, Any] = dict(audio.pop("input", None) or {})
        fmt: AudioFormat = config.format
        if "format" in audio_in and audio_in["format"] is not None:
            wire = audio_in["format"]
            fmt = from_ga(wire.get("type", "audio/pcm"), wire.get("rate"))
        param = "session.audio.input"
        reject_if_set(
            audio_in.get("transcription"), "Input audio transcription", f"{param}.transcription", event_id
        )
        reject_if_set(
            audio_in.get("noise_reduction"), "Noise reduction", f"{param}.noise_reduction", event_id
        )
        td = config.turn_detection
        interrupt = config.interrupt_response
        if "turn_detection" in audio_in:
            wire_td = audio_in["turn_detection"]
            if wire_td is None:
                td = None
            else:
                check_turn_detection_kind(wire_td, kind, f"{param}.turn_detection", event_id)
                td = merge_turn_detection(td, default_td, wire_td, f"{param}.turn_detection", event_id)
                interrupt = wire_td.get("interrupt_response", interrupt)
        if audio:
            rest["audio"] = audio
        new = replace(config, format=fmt, turn_detection=td, interrupt_response=interrupt)
        return new, deep_merge(echo, rest)

    def user_item(self, item_id: str, content: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": content if content is not None else [{"type": "input_audio", "transcript": None}],
        }


class BetaDialect(GaDialect):
    """The beta shape (``OpenAI-Beta: realtime=v1``): flat session, ``conversation.item.created``."""

    name: ClassVar[str] = "beta"

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
        turn_detection = wire_turn_detection(config, kind, with_idle_timeout=False)
        base: dict[str, Any] = {
            "id": session_id,
            "object": "realtime.session" if kind == "realtime" else "realtime.transcription_session",
            "expires_at": expires_at,
            "input_audio_format": config.format.beta_name,
            "input_audio_transcription": None,
            "input_audio_noise_reduction": None,
            "turn_detection": turn_detection,
            "include": None,
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
        merged.update({k: base[k] for k in ("input_audio_format", "turn_detection")})
        return merged

    def apply_update(
        self,
        kind: SessionKind,
        config: InputConfig,
        echo: dict[str, Any],
        session: dict[str, Any],
        default_td: TurnDetectionConfig,
        event_id: str | None,
    ) -> tuple[InputConfig, dict[str, Any]]:
        rest = dict(session)
        fmt = config.format
        name = rest.pop("input_audio_format", None)
        if name is not None:
            fmt = from_beta(name)
        reject_if_set(
            rest.pop("input_audio_transcription", None),
            "Input audio transcription",
            "session.input_audio_transcription",
            event_id,
        )
        reject_if_set(
            rest.pop("input_audio_noise_reduction", None),
            "Noise reduction",
            "session.input_audio_noise_reduction",
            event_id,
        )
        td = config.turn_detection
        interrupt = config.interrupt_response
        if "turn_detection" in rest:
            wire_td = rest.pop("turn_detection")
            if wire_td is None:
                td = None
            else:
                check_turn_detection_kind(wire_td, kind, "session.turn_detection", event_id)
                td = merge_turn_detection(td, default_td, wire_td, "session.turn_detection", event_id)
                interrupt = wire_td.get("interrupt_response", interrupt)
        new = replace(config, format=fmt, turn_detection=td, interrupt_response=interrupt)
        rest.pop("model", None)
        return new, deep_merge(echo, rest)

    def user_item(self, item_id: str, content: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {"object": "realtime.item", **super().user_item(item_id, content)}
