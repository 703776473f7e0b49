"""How the server ends or refuses a connection: every WebSocket close code and HTTP refusal.

In-band Realtime ``error`` codes (a client's mistake; the session goes on) have their own
table in :mod:`openapiopenai.protocol.errors`; this one is for the connection itself.
"""

from __future__ import annotations

from enum import Enum, IntEnum


class Close(IntEnum):
    """WebSocket close codes (RFC 6455, section 7.4.1) the server's side may send, and when."""

    #: the session ended normally (the client closed)
    NORMAL = 1000
    #: graceful shutdown (SIGTERM), after the turns in flight were delivered
    GOING_AWAY = 1001
    #: the client stopped reading its events (queue full, or one send blocked too long)
    POLICY = 1008
    #: a message above ``max_frame_bytes``: sent by the WebSocket layer, not by our code
    MESSAGE_TOO_BIG = 1009
    #: this session failed (a bug, a speech model failure); the other sessions go on
    INTERNAL_ERROR = 1011
    #: uvicorn's own shutdown closing what the grace period left: sent by uvicorn
    SERVICE_RESTART = 1012


#: HTTP status for a plain GET of the WebSocket endpoint (a browser, curl): "426 Upgrade Required",
#: with a hint in the body; not a refusal of a client, so not a :class:`Refusal`
UPGRADE_REQUIRED = 426


class Refusal(Enum):
    """HTTP answers instead of the WebSocket upgrade, which every client reports on connect.

    Each is ``(status, error code, message, metrics reason)``; the body is the Realtime error
    shape, ``{"error": {"type": "invalid_request_error", "code": ..., "message": ...}}``.
    """

    SHUTTING_DOWN = (503, "server_shutting_down", "The server is shutting down.", "shutting_down")
    UNAUTHORIZED = (
        401,
        "invalid_api_key",
        "Missing or invalid API key (send 'Authorization: Bearer <key>').",
        "unauthorized",
    )
    TOO_MANY_SESSIONS = (
        503,
        "too_many_sessions",
        "The server is at its limit of {max_sessions} concurrent sessions.",
        "max_sessions",
    )

    def __init__(self, status: int, code: str, message: str, reason: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        #: the ``reason`` label of ``openapiopenai_sessions_refused_total``
        self.reason = reason


__all__ = ["UPGRADE_REQUIRED", "Close", "Refusal"]
