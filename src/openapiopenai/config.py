"""Server settings: the only home of the server's defaults and their docs.

``openapiopenai serve`` makes one flag of every field (``server/cli.py``): its help is the
field's ``#:`` comment, its default the field's default, its choices a ``Literal`` type's
values. A new setting is one documented field here, nothing else.
"""

from __future__ import annotations

import ast
import inspect
import os
import textwrap
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from openapiopenai.asr.whisper import DEFAULT_MODEL as DEFAULT_TRANSCRIPTION_MODEL
from openapiopenai.protocol.session import SessionLimits
from openapiopenai.vad.registry import AUTO

#: the per-session limits' own defaults (their one home is SessionLimits)
_SESSION = SessionLimits()

#: environment variable holding the API key clients must present (unset: no auth)
API_KEY_ENV = "OPENAPIOPENAI_API_KEY"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Everything ``openapiopenai serve`` can be told; defaults are safe on loopback."""

    #: interface to bind; loopback unless told otherwise, so nothing is exposed by accident
    host: str = "127.0.0.1"
    #: TCP port (0: any free port, single process only)
    port: int = 8000
    #: speech model (``auto``: the preferred one, Silero)
    backend: str = AUTO
    #: noise reduction offered to sessions that ask for it (``noise_reduction``): ``auto`` (rnnoise
    #: if its package is installed, else none), ``rnnoise``, ``deepfilternet`` or ``off``
    denoiser: Literal["auto", "rnnoise", "deepfilternet", "off"] = "auto"
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
    #: items a session keeps: past it a client's item gets ``conversation_full``; committed audio
    #: removes the oldest items instead, announced (``conversation_items_evicted``)
    max_items: int = _SESSION.max_items
    #: text of the items a session keeps, with the same rules; a bigger client item gets
    #: ``item_too_large``
    max_item_bytes: int = _SESSION.max_item_bytes
    #: committed items of one session waiting for transcription before new ones fail at once
    max_pending_transcriptions: int = _SESSION.max_pending_transcriptions
    #: server events queued for a client that is not reading; past it the session is closed
    send_queue_events: int = 1024
    #: a single send blocked this many seconds means the client stopped reading: close its session
    send_timeout_s: float = 10.0
    #: score the frames of all sessions together (one model call per round)
    batching: bool = True
    #: threads running model calls; each takes whatever is pending. More than one rarely helps:
    #: their Python glue shares the GIL with the event loop (measured: worse at 400 sessions)
    scorer_threads: int = 1
    #: score in a child process that owns the streams' model states and the batching schedule
    #: (the event loop only sends frames and reads probabilities: no GIL shared with the model's
    #: glue). The child loads ``backend`` itself; ``scorer_threads`` does not apply
    scorer_process: bool = False
    #: most streams in one model call (larger batches stop getting cheaper per stream)
    max_batch: int = 128
    #: semantic_vad: threads running end-of-turn decisions (~55 ms of one core each)
    turn_end_threads: int = 1
    #: semantic_vad: sessions whose question may wait; past it a question gets "no answer" at once
    #: and the turn ends on the silence window
    turn_end_queue: int = 16
    #: uvicorn's WebSocket implementation (``websockets`` is the legacy one)
    ws_impl: Literal["websockets-sansio", "websockets"] = "websockets-sansio"
    #: input audio transcription: a faster-whisper model name (``tiny.en`` is the bundled copy,
    #: never downloaded; other names are downloaded by faster-whisper) or a local model directory
    transcription_model: str = DEFAULT_TRANSCRIPTION_MODEL
    #: transcription threads, each decoding one item at a time (0: no transcription)
    transcription_workers: int = 1
    #: CPU threads inside one decoding (CTranslate2 ``intra_threads``)
    transcription_cpu_threads: int = 1
    #: committed items waiting for a transcription worker, across sessions; past it an item
    #: fails at once with ``transcription_queue_full``
    transcription_queue: int = 32
    #: transcription threads run this many nice steps below the server (Linux), so turn
    #: detection always gets the CPU first; 0 = same priority
    transcription_nice: int = 10
    #: load the transcription model at start-up (in the background) instead of at the first item
    transcription_preload: bool = False
    #: beam width of the decoder (1: greedy, the fastest)
    transcription_beam_size: int = 1
    #: serve TLS (``wss://``) with this certificate (PEM)
    ssl_certfile: str | None = None
    #: the private key of the certificate (PEM)
    ssl_keyfile: str | None = None
    #: on SIGTERM: seconds to finish turns in flight before connections are closed
    shutdown_grace_s: float = 5.0
    #: how much the server logs
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"

    @classmethod
    def from_env(cls, **overrides: Any) -> ServerSettings:
        """Defaults, then the environment, then explicit values (``None`` means "not given")."""
        settings = cls(api_key=os.environ.get(API_KEY_ENV) or None)
        given = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(given) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        return replace(settings, **given)


def field_docs(cls: type) -> dict[str, str]:
    """Each field's ``#:`` comment (what Sphinx documents), read from the class's source."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # no source shipped: flags without help beat no flags
        return {}
    lines = source.splitlines()
    (node,) = ast.parse(source).body
    assert isinstance(node, ast.ClassDef)
    docs: dict[str, str] = {}
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            comment: list[str] = []
            line = statement.lineno - 2
            while line >= 0 and lines[line].strip().startswith("#:"):
                comment.insert(0, lines[line].strip()[2:].strip())
                line -= 1
            docs[statement.target.id] = " ".join(comment)
    return docs


__all__ = ["API_KEY_ENV", "ServerSettings", "field_docs"]
