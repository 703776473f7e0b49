"""The surface every model shares, written once: the OpenAPI-generated client's methods.

``to_dict`` follows the generator: fields never set are left out, fields set to ``None`` are
kept as ``null`` (the wire distinguishes "not given" from "cleared", e.g. ``turn_detection:
null`` switches VAD off), and the ``type`` discriminator is always present, even when it was
filled in from its default.
"""

from __future__ import annotations

import json
import pprint
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict


class RealtimeModel(BaseModel):
    """Base of every wire model. Server-side shapes tolerate fields added by newer APIs."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        validate_assignment=True,
        protected_namespaces=(),
        use_enum_values=True,
    )

    #: fields kept by ``to_dict`` even when filled in from a default (unless that default is None)
    _always_dumped: ClassVar[tuple[str, ...]] = ("type",)

    def model_post_init(self, context: Any, /) -> None:
        for name in self._always_dumped:
            if getattr(self, name, None) is not None:
                self.__pydantic_fields_set__.add(name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict a generated client's ``to_dict`` gives."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def to_json(self) -> str:
        """Compact JSON, as the wire carries it."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    def to_str(self) -> str:
        """A readable multi-line rendering (for logs and the REPL)."""
        return pprint.pformat(self.to_dict(), sort_dicts=False)

    @classmethod
    def from_json(cls, json_str: str | bytes) -> Self:
        return cls.model_validate_json(json_str)

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any] | None) -> Self | None:
        """``None`` in, ``None`` out, as generated clients do."""
        if obj is None:
            return None
        return cls.model_validate(obj)


class RealtimeRequestModel(RealtimeModel):
    """What a client sends: unknown fields are an error (``unknown_parameter``), as the API says."""

    model_config = ConfigDict(extra="forbid")


def tag_by(field: str, default: str | None = None) -> Callable[[Any], str | None]:
    """A discriminator reading ``field`` from a dict or a model; ``default`` when it is absent
    (the API treats a format without ``type`` as ``audio/pcm``, a VAD without it as ``server_vad``)."""

    def tag(value: Any) -> str | None:
        found = value.get(field, default) if isinstance(value, dict) else getattr(value, field, default)
        return found if isinstance(found, str) else None

    return tag


def item_tag(value: Any) -> str | None:
    """Conversation items: ``message`` items are told apart by their role."""

    def get(key: str) -> Any:
        return value.get(key) if isinstance(value, dict) else getattr(value, key, None)

    kind = get("type")
    if kind == "message":
        role = get("role")
        return f"message.{role}" if isinstance(role, str) else None
    return kind if isinstance(kind, str) else None


__all__ = ["RealtimeModel", "RealtimeRequestModel", "item_tag", "tag_by"]
