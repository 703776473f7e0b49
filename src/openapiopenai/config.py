"""Server settings: the only home of the server's defaults (CLI flags read theirs from here)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

from openapiopenai.protocol.session import SessionLimits

#: the per-session limits' own defaults (their one home is SessionLimits)
_SESSION = SessionLimits()

#: environment variable holding the API key clients must present (unset: no auth)
API_KEY_ENV = "OPENAPIOPENAI_API_KEY"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Everything ``openapiopenai serve`` can be told; defaults are safe on loopback."""

    #: interface to bind; loopback by default so nothing is exposed by accident
    host: str = "127.0.0.1"
    port: int = 8000
    #: speech model: ``auto`` (Silero), ``silero``, ``webrtc``, ``energy``
    backend: str = "auto"
    #: noise reduction offered to sessions that ask for it (``noise_reduction``): ``auto`` (rnnoise
    #: if its package is installed, else none), ``rnnoise``, ``deepfilternet`` or ``off``
    denoiser: str = "auto"
    #: when set, clients must send it (``Authorization: Bearer`` or the browser subprotocol)
    api_key: str | None = None
    #: concurrent sessions (per worker process); more are refused with HTTP 503 before the upgrade
    max_sessions: int = 1000
    #: server processes sharing the listening socket, each with its own event loop and scorer
    workers: int = 1
    #: a text message above this gets an ``error`` event (room for 15 MiB of audio in base64)
    max_message_bytes: int = _SESSION.max_message_bytes
    #: messages above this are refused by the WebSocket layer itself (close 1009), so an
    #: oversized message up to here gets a polite ``error`` event and only a huge one ends the
    #: session. A memory guard: uvicorn holds at most one unread message per connection (it stops
    #: reading until the app takes it), so a session's worst case is about twice this (bytes, then
    #: the decoded text)
    max_frame_bytes: int = 32 * 1024 * 1024
    #: uncommitted audio one session may hold
    max_buffer_bytes: int = _SESSION.max_buffer_bytes
    #: audio of committed items kept per session for ``conversation.item.retrieve``
    max_retained_audio_bytes: int = _SESSION.max_retained_audio_bytes
    #: ``server_vad``: silence kept before the next possible turn (older silence is dropped)
    max_leading_silence_ms: int = _SESSION.max_leading_silence_ms
    #: items a session keeps (the oldest are forgotten past it)
    max_items: int = _SESSION.max_items
    #: text of the items a session keeps; a bigger client item gets ``item_too_large``
    max_item_bytes: int = _SESSION.max_item_bytes
    #: committed items of one session waiting for transcription before new ones fail at once
    max_pending_transcriptions: int = _SESSION.max_pending_transcriptions
    #: server events queued for a client that is not reading; past it the session is closed
    send_queue_events: int = 1024
    #: a single send blocked this long means the client stopped reading: close its session
    send_timeout_s: float = 10.0
    #: score the frames of all sessions together (one model call per round)
    batching: bool = True
    #: threads running model calls; each takes whatever is pending. More than one rarely helps:
    #: their Python glue shares the GIL with the event loop (measured: worse at 400 sessions)
    scorer_threads: int = 1
    #: most streams in one model call (larger batches stop getting cheaper per stream)
    max_batch: int = 128
    #: uvicorn's WebSocket implementation: ``websockets-sansio`` or ``websockets`` (legacy)
    ws_impl: str = "websockets-sansio"
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    #: on SIGTERM: time to finish turns in flight before connections are closed
    shutdown_grace_s: float = 5.0
    log_level: str = "info"

    @classmethod
    def from_env(cls, **overrides: Any) -> ServerSettings:
        """Defaults, then the environment, then explicit values (``None`` means "not given")."""
        settings = cls(api_key=os.environ.get(API_KEY_ENV) or None)
        given = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(given) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        return replace(settings, **given)


__all__ = ["API_KEY_ENV", "ServerSettings"]
