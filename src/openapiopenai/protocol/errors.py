"""The one table of Realtime ``error`` codes this server emits, and their messages.

Codes and wording follow what the live API sends where it is known (see the protocol
reference, section 6.1); the rest are ours and named in the same style.
"""

from __future__ import annotations

from typing import Any

from openapiopenai.exceptions import ProtocolError

INVALID_JSON = "invalid_json"
INVALID_EVENT = "invalid_event"
INVALID_VALUE = "invalid_value"
INVALID_TYPE = "invalid_type"
UNKNOWN_PARAMETER = "unknown_parameter"
MISSING_REQUIRED_PARAMETER = "missing_required_parameter"
COMMIT_EMPTY = "input_audio_buffer_commit_empty"
BUFFER_FULL = "input_audio_buffer_full"
MESSAGE_TOO_LARGE = "message_too_large"
UNSUPPORTED = "unsupported_feature"
ITEM_NOT_FOUND = "item_not_found"
#: ``conversation.item.truncate`` naming an item that does not exist (the live API's code)
TRUNCATE_INVALID_ITEM_ID = "item_truncate_invalid_item_id"
FORMAT_CHANGE_WITH_AUDIO = "input_audio_format_change_with_buffered_audio"
#: the session asked for something this server was started without (a recogniser, a model)
FEATURE_UNAVAILABLE = "feature_unavailable"
#: a client item larger than the session's item budget
ITEM_TOO_LARGE = "item_too_large"
#: a client item refused because the conversation is at its item count or text budget
CONVERSATION_FULL = "conversation_full"
#: a notice, not a refusal: committed audio went into a full conversation and the oldest items
#: were removed to make room (each also gets ``conversation.item.deleted``)
ITEMS_EVICTED = "conversation_items_evicted"

# ``transcription_error`` codes of ``conversation.item.input_audio_transcription.failed``
#: the recogniser raised or returned nothing usable
TRANSCRIPTION_FAILED = "transcription_failed"
#: the server's transcription queue is full: the item is not transcribed (its audio is kept)
TRANSCRIPTION_QUEUE_FULL = "transcription_queue_full"
#: this session committed turns faster than they could be transcribed
TRANSCRIPTION_BACKLOG = "transcription_backlog"

#: pydantic error type -> Realtime error code
_PYDANTIC_CODES = {
    "missing": MISSING_REQUIRED_PARAMETER,
    "extra_forbidden": UNKNOWN_PARAMETER,
    "literal_error": INVALID_VALUE,
    "union_tag_invalid": INVALID_VALUE,
    "enum": INVALID_VALUE,
    "greater_than": INVALID_VALUE,
    "greater_than_equal": INVALID_VALUE,
    "less_than": INVALID_VALUE,
    "less_than_equal": INVALID_VALUE,
    "string_too_long": INVALID_VALUE,
}

#: Discriminator values pydantic puts into error locations; they are not wire keys.
_LOC_TAGS = frozenset(
    {
        "realtime",
        "transcription",
        "server_vad",
        "semantic_vad",
        "audio/pcm",
        "audio/pcmu",
        "audio/pcma",
        "message.system",
        "message.user",
        "message.assistant",
        "function_call",
        "function_call_output",
        "mcp_approval_response",
        "mcp_list_tools",
        "mcp_call",
        "mcp_approval_request",
    }
)


def bad_json(detail: str) -> ProtocolError:
    return ProtocolError(f"Invalid event: failed to parse JSON value. {detail}", code=INVALID_JSON)


def binary_frame() -> ProtocolError:
    return ProtocolError(
        "Expected a text WebSocket message; binary frames are not supported.", code=INVALID_EVENT
    )


def message_too_large(size: int, limit: int) -> ProtocolError:
    return ProtocolError(
        f"Message of {size} bytes exceeds the limit of {limit} bytes; it was discarded.",
        code=MESSAGE_TOO_LARGE,
    )


def unsupported(what: str, param: str | None = None, event_id: str | None = None) -> ProtocolError:
    return ProtocolError(
        f"{what} is not supported by this server (openapiopenai provides input audio and turn "
        "detection only).",
        code=UNSUPPORTED,
        param=param,
        event_id=event_id,
    )


def dotted(loc: tuple[int | str, ...], source: Any = None) -> str:
    """pydantic location -> the Realtime API's dotted ``param`` (``session.audio.input.format.rate``).

    pydantic puts the tag of a discriminated union into the location (``session.realtime.audio``);
    those are left out. A tag can also be a field name (``transcription`` is a session type and
    a field of ``audio.input``), so when the validated ``source`` is given, the location is
    walked through it: a part that is a key there is a field, whatever its name."""
    parts: list[str] = []
    node = source
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
            node = node[part] if isinstance(node, list) and -len(node) <= part < len(node) else None
            continue
        is_key = isinstance(node, dict) and part in node
        if not is_key and (part in _LOC_TAGS or "[" in part):
            continue  # a union's tag: the value stays where it is
        parts.append(("." if parts else "") + part)
        node = node[part] if is_key else None
    return "".join(parts)


def from_validation_errors(errors: list[Any], event_id: str | None, source: Any = None) -> ProtocolError:
    """The first pydantic error as a Realtime error, worded like the live API's (``source``: what
    was validated, so that field names that are also union tags are told apart, see :func:`dotted`)."""
    first = errors[0]
    param = dotted(first["loc"], source)
    kind = first["type"]
    if kind == "union_tag_not_found":  # a union member chosen by its 'type', which is absent
        kind, param = "missing", f"{param}.type" if param else "type"
    code = _PYDANTIC_CODES.get(kind, INVALID_TYPE if kind.endswith("_type") else INVALID_VALUE)
    if code == MISSING_REQUIRED_PARAMETER:
        message = f"Missing required parameter: '{param}'."
    elif code == UNKNOWN_PARAMETER:
        message = f"Unknown parameter: '{param}'."
    else:
        message = f"Invalid value for '{param}': {first['msg']}."
    return ProtocolError(message, code=code, param=param or None, event_id=event_id)
