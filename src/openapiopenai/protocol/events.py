"""Builders for every server event the Session emits: one place for their shapes and ids."""

from __future__ import annotations

import base64
from typing import Any

from openapiopenai.exceptions import ProtocolError
from openapiopenai.models import (
    RealtimeBetaServerEventTranscriptionSessionUpdated,
    RealtimeConversation,
    RealtimeModel,
    RealtimeServerEventConversationCreated,
    RealtimeServerEventConversationItemDeleted,
    RealtimeServerEventConversationItemInputAudioTranscriptionCompleted,
    RealtimeServerEventConversationItemInputAudioTranscriptionDelta,
    RealtimeServerEventConversationItemInputAudioTranscriptionFailed,
    RealtimeServerEventError,
    RealtimeServerEventInputAudioBufferCleared,
    RealtimeServerEventInputAudioBufferCommitted,
    RealtimeServerEventInputAudioBufferSpeechStarted,
    RealtimeServerEventInputAudioBufferSpeechStopped,
    RealtimeServerEventInputAudioBufferTimeoutTriggered,
)
from openapiopenai.protocol.conversation import Item
from openapiopenai.protocol.dialects import GaDialect
from openapiopenai.protocol.ids import IdFactory


def session_created(ids: IdFactory, dialect: GaDialect, session: dict[str, Any]) -> RealtimeModel:
    return dialect.session_created_event.model_validate(
        {"type": "session.created", "event_id": ids.event(), "session": session}
    )


def session_updated(
    ids: IdFactory, dialect: GaDialect, session: dict[str, Any], request_type: str
) -> RealtimeModel:
    if request_type == "transcription_session.update":
        return RealtimeBetaServerEventTranscriptionSessionUpdated.model_validate(
            {"type": "transcription_session.updated", "event_id": ids.event(), "session": session}
        )
    return dialect.session_updated_event.model_validate(
        {"type": "session.updated", "event_id": ids.event(), "session": session}
    )


def conversation_created(ids: IdFactory) -> RealtimeModel:
    return RealtimeServerEventConversationCreated(
        event_id=ids.event(),
        conversation=RealtimeConversation(id=ids.conversation(), object="realtime.conversation"),
    )


def speech_started(ids: IdFactory, audio_start_ms: int, item_id: str) -> RealtimeModel:
    return RealtimeServerEventInputAudioBufferSpeechStarted(
        event_id=ids.event(), audio_start_ms=audio_start_ms, item_id=item_id
    )


def speech_stopped(ids: IdFactory, audio_end_ms: int, item_id: str) -> RealtimeModel:
    return RealtimeServerEventInputAudioBufferSpeechStopped(
        event_id=ids.event(), audio_end_ms=audio_end_ms, item_id=item_id
    )


def timeout_triggered(ids: IdFactory, audio_start_ms: int, audio_end_ms: int, item_id: str) -> RealtimeModel:
    return RealtimeServerEventInputAudioBufferTimeoutTriggered(
        event_id=ids.event(), audio_start_ms=audio_start_ms, audio_end_ms=audio_end_ms, item_id=item_id
    )


def committed(ids: IdFactory, item_id: str, previous_item_id: str | None) -> RealtimeModel:
    return RealtimeServerEventInputAudioBufferCommitted(
        event_id=ids.event(), previous_item_id=previous_item_id, item_id=item_id
    )


def cleared(ids: IdFactory) -> RealtimeModel:
    return RealtimeServerEventInputAudioBufferCleared(event_id=ids.event())


def item_added(
    ids: IdFactory, dialect: GaDialect, item: dict[str, Any], previous_item_id: str | None
) -> list[RealtimeModel]:
    """GA: ``conversation.item.added`` then ``.done``; beta: ``conversation.item.created``."""
    return [
        cls.model_validate(
            {"type": kind, "event_id": ids.event(), "previous_item_id": previous_item_id, "item": item}
        )
        for cls, kind in dialect.item_added_events
    ]


def item_deleted(ids: IdFactory, item_id: str) -> RealtimeModel:
    return RealtimeServerEventConversationItemDeleted(event_id=ids.event(), item_id=item_id)


def item_retrieved(ids: IdFactory, dialect: GaDialect, record: Item) -> RealtimeModel:
    """The item with its audio: the one event that carries audio bytes back."""
    item = dict(record.item)
    if record.audio:
        item["content"] = [
            {**part, "audio": base64.b64encode(record.audio).decode("ascii")}
            if isinstance(part, dict) and part.get("type") == "input_audio"
            else part
            for part in item.get("content", [])
        ]
    return dialect.item_retrieved_event.model_validate(
        {"type": "conversation.item.retrieved", "event_id": ids.event(), "item": item}
    )


def transcription_delta(
    ids: IdFactory, item_id: str, delta: str, logprobs: list[dict[str, Any]] | None
) -> RealtimeModel:
    return RealtimeServerEventConversationItemInputAudioTranscriptionDelta(
        event_id=ids.event(), item_id=item_id, content_index=0, delta=delta, logprobs=logprobs
    )


def transcription_completed(
    ids: IdFactory, item_id: str, transcript: str, seconds: float, logprobs: list[dict[str, Any]] | None
) -> RealtimeModel:
    """``usage`` is by duration: what the recogniser heard, as OpenAI bills whisper-1."""
    return RealtimeServerEventConversationItemInputAudioTranscriptionCompleted(
        event_id=ids.event(),
        item_id=item_id,
        content_index=0,
        transcript=transcript,
        usage={"type": "duration", "seconds": round(seconds, 3)},
        logprobs=logprobs,
    )


def transcription_failed(ids: IdFactory, item_id: str, code: str, message: str) -> RealtimeModel:
    return RealtimeServerEventConversationItemInputAudioTranscriptionFailed.model_validate(
        {
            "type": "conversation.item.input_audio_transcription.failed",
            "event_id": ids.event(),
            "item_id": item_id,
            "content_index": 0,
            "error": {"type": "transcription_error", "code": code, "message": message, "param": None},
        }
    )


def error(ids: IdFactory, exc: ProtocolError) -> RealtimeModel:
    return RealtimeServerEventError.model_validate(
        {
            "type": "error",
            "event_id": ids.event(),
            "error": {
                "type": exc.error_type,
                "code": exc.code,
                "message": exc.message,
                "param": exc.param,
                "event_id": exc.event_id,
            },
        }
    )
