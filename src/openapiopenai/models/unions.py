"""Raw JSON in, the right event model out, chosen by ``type``.

The class is looked up by ``type`` first and then validated on its own, so an unknown type
raises :class:`UnknownEventTypeError` and a bad field raises pydantic's ``ValidationError``
whose location is the field itself (``audio_start_ms``), not a union branch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from openapiopenai.models._base import RealtimeModel
from openapiopenai.models._registry import (
    BETA_CLIENT_EVENTS,
    BETA_SERVER_EVENTS,
    CLIENT_EVENTS,
    SERVER_EVENTS,
)


class UnknownEventTypeError(ValueError):
    """The ``type`` field is missing or names no event of this direction and dialect."""

    def __init__(self, event_type: object, known: Mapping[str, object]) -> None:
        self.event_type = event_type
        shown = ", ".join(sorted(known))
        super().__init__(f"Unknown event type {event_type!r}; expected one of: {shown}")


def _parse(data: str | bytes | Mapping[str, Any], table: Mapping[str, type[RealtimeModel]]) -> RealtimeModel:
    obj = json.loads(data) if isinstance(data, str | bytes) else data
    event_type = obj.get("type") if isinstance(obj, Mapping) else None
    cls = table.get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        raise UnknownEventTypeError(event_type, table)
    return cls.model_validate(obj)


def parse_server_event(data: str | bytes | Mapping[str, Any]) -> RealtimeModel:
    """A GA server event (JSON text or dict) as its model."""
    return _parse(data, SERVER_EVENTS)


def parse_client_event(data: str | bytes | Mapping[str, Any]) -> RealtimeModel:
    """A GA client event as its model; unknown fields are rejected."""
    return _parse(data, CLIENT_EVENTS)


def parse_beta_server_event(data: str | bytes | Mapping[str, Any]) -> RealtimeModel:
    """A server event in the beta (``OpenAI-Beta: realtime=v1``) shapes."""
    return _parse(data, BETA_SERVER_EVENTS)


def parse_beta_client_event(data: str | bytes | Mapping[str, Any]) -> RealtimeModel:
    """A client event in the beta shapes."""
    return _parse(data, BETA_CLIENT_EVENTS)


__all__ = [
    "BETA_CLIENT_EVENTS",
    "BETA_SERVER_EVENTS",
    "CLIENT_EVENTS",
    "SERVER_EVENTS",
    "UnknownEventTypeError",
    "parse_beta_client_event",
    "parse_beta_server_event",
    "parse_client_event",
    "parse_server_event",
]
