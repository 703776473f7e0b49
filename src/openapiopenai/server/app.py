"""The ASGI app: ``/v1/realtime`` (and ``/realtime``) WebSockets, ``/healthz``, ``/metrics``.

:func:`create_app` builds everything from :class:`ServerSettings`; the speech model is loaded
once and shared by all sessions through one :class:`Scorer`. Refusals (bad key, too many
sessions, shutting down) are HTTP responses *before* the upgrade, which every client reports
clearly (the SDKs raise on connect).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import fields
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from openapiopenai.config import ServerSettings
from openapiopenai.denoise import analysis_denoise, server_denoiser, stream_factory
from openapiopenai.protocol.config import Features
from openapiopenai.protocol.session import Session, SessionLimits
from openapiopenai.server.auth import choose_subprotocol, is_authorized, wants_beta
from openapiopenai.server.connection import Connection
from openapiopenai.server.metrics import Metrics
from openapiopenai.server.scorer import Scorer
from openapiopenai.vad.base import SpeechModel
from openapiopenai.vad.registry import load_model

log = logging.getLogger("openapiopenai.server")


class Hub:
    """What the app shares across connections: settings, model, scorer, metrics, live sessions."""

    def __init__(self, settings: ServerSettings, model: SpeechModel) -> None:
        self.settings = settings
        self.model = model
        self.metrics = Metrics()
        self.scorer = Scorer(
            model,
            batching=settings.batching,
            metrics=self.metrics,
            workers=settings.scorer_threads,
            max_batch=settings.max_batch,
        )
        # noise reduction for sessions that ask for it (None: refused, with the hint): the VAD
        # path's per-stream stages, and the hook that cleans work requests' audio
        denoiser, hint = server_denoiser(settings.denoiser)
        self.denoiser = None if denoiser is None else stream_factory(denoiser)
        self.analysis_denoise = None if denoiser is None else analysis_denoise(denoiser)
        self.features = Features(
            noise_reduction=denoiser is not None, hints=(("noise_reduction", hint),) if hint else ()
        )
        self.connections: set[Connection] = set()
        self.draining = False
        # every per-session limit is a server setting of the same name (tested)
        self.limits = SessionLimits(**{f.name: getattr(settings, f.name) for f in fields(SessionLimits)})

    async def drain(self) -> None:
        """Graceful shutdown: refuse new sessions, finish every turn in flight, close with 1001."""
        self.draining = True
        tasks = [asyncio.create_task(c.shutdown()) for c in list(self.connections)]
        if tasks:
            # each shutdown returns once its socket is closed; past the grace period, uvicorn's own
            # shutdown closes whatever is left (1012)
            await asyncio.wait(tasks, timeout=self.settings.shutdown_grace_s)


def _refuse(status: int, code: str, message: str) -> Response:
    body = {"error": {"type": "invalid_request_error", "code": code, "message": message, "param": None}}
    return JSONResponse(body, status_code=status)


async def realtime_endpoint(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.hub
    offered = list(websocket.scope.get("subprotocols", []))
    headers = websocket.headers
    if hub.draining:
        hub.metrics.refused.labels(reason="shutting_down").inc()
        await websocket.send_denial_response(
            _refuse(503, "server_shutting_down", "The server is shutting down.")
        )
        return
    if not is_authorized(hub.settings.api_key, headers, offered):
        hub.metrics.refused.labels(reason="unauthorized").inc()
        message = "Missing or invalid API key (send 'Authorization: Bearer <key>')."
        await websocket.send_denial_response(_refuse(401, "invalid_api_key", message))
        return
    if len(hub.connections) >= hub.settings.max_sessions:
        hub.metrics.refused.labels(reason="max_sessions").inc()
        message = f"The server is at its limit of {hub.settings.max_sessions} concurrent sessions."
        await websocket.send_denial_response(_refuse(503, "too_many_sessions", message))
        return
    query = parse_qs(websocket.scope.get("query_string", b"").decode("latin-1"))
    intent = query.get("intent", ["realtime"])[0]
    session = Session(
        hub.model,
        dialect="beta" if wants_beta(headers, offered) else "ga",
        intent="transcription" if intent == "transcription" else "realtime",
        model_name=query.get("model", [None])[0],
        limits=hub.limits,
        created_at=int(time.time()),
        features=hub.features,
        denoiser=hub.denoiser,
    )
    connection = Connection(websocket, session, hub.scorer, hub.settings, hub.metrics)
    hub.connections.add(connection)
    hub.metrics.sessions.inc()
    hub.metrics.active_sessions.inc()
    try:
        await connection.run(choose_subprotocol(offered))
    finally:
        hub.connections.discard(connection)
        hub.metrics.active_sessions.dec()


async def healthz(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    status = "draining" if hub.draining else "ok"
    return JSONResponse(
        {"status": status, "sessions": len(hub.connections), "backend": hub.model.name, "worker": os.getpid()}
    )


async def metrics(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    return Response(hub.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


def create_app(settings: ServerSettings | None = None, model: SpeechModel | None = None) -> Starlette:
    """The server as an ASGI app (``uvicorn`` serves it; tests may mount it anywhere)."""
    settings = settings or ServerSettings()
    hub = Hub(settings, model or load_model(settings.backend))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        await hub.scorer.start()
        try:
            yield {}
        finally:
            await hub.drain()
            await hub.scorer.stop()

    app = Starlette(
        routes=[
            WebSocketRoute("/v1/realtime", realtime_endpoint),
            WebSocketRoute("/realtime", realtime_endpoint),
            Route("/healthz", healthz),
            Route("/metrics", metrics),
        ],
        lifespan=lifespan,
    )
    app.state.hub = hub
    return app


__all__ = ["Hub", "create_app"]
