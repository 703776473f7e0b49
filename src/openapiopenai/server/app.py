"""The ASGI app: ``/v1/realtime`` (and ``/realtime``) WebSockets, ``/healthz``, ``/metrics``, and
the live page at ``/`` (static files shipped in the package, no build step).

:func:`create_app` builds everything from :class:`ServerSettings`; the speech model is loaded
once and shared by all sessions through one :class:`Scorer`. Refusals (bad key, too many
sessions, shutting down) are HTTP responses *before* the upgrade, which every client reports
clearly (the SDKs raise on connect).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from openapiopenai.audio.analysis import Denoise, analysis_audio
from openapiopenai.config import ServerSettings
from openapiopenai.denoise import analysis_denoise, server_denoiser, stream_factory
from openapiopenai.exceptions import ModelLoadError
from openapiopenai.protocol.config import Features
from openapiopenai.protocol.session import Session, SessionLimits
from openapiopenai.server.auth import choose_subprotocol, is_authorized, wants_beta
from openapiopenai.server.codes import UPGRADE_REQUIRED, Refusal
from openapiopenai.server.connection import Connection
from openapiopenai.server.metrics import Metrics
from openapiopenai.server.process_scorer import ProcessScorer
from openapiopenai.server.scorer import FrameScorer, Scorer
from openapiopenai.server.transcription import TranscriptionPool
from openapiopenai.server.turn_end import TurnEndWorker
from openapiopenai.vad.base import SpeechModel
from openapiopenai.vad.registry import load_model

log = logging.getLogger("openapiopenai.server")

#: the live page (``GET /``): plain HTML, CSS and JavaScript, served as they are
STATIC_DIR = Path(__file__).with_name("static")


class Hub:
    """What the app shares across connections: settings, model, scorer, metrics, live sessions."""

    def __init__(
        self, settings: ServerSettings, model: SpeechModel, turn_end: TurnEndWorker | None = None
    ) -> None:
        self.settings = settings
        self.model = model
        self.metrics = Metrics()
        self.scorer: FrameScorer
        if settings.scorer_process:
            self.scorer = ProcessScorer(
                model,
                functools.partial(load_model, settings.backend),
                batching=settings.batching,
                metrics=self.metrics,
                max_batch=settings.max_batch,
            )
        else:
            self.scorer = Scorer(
                model,
                batching=settings.batching,
                metrics=self.metrics,
                workers=settings.scorer_threads,
                max_batch=settings.max_batch,
            )
        # noise reduction for sessions that ask for it (None: refused, with the hint): the VAD
        # path's per-stream stages, and the hook that cleans work requests' audio
        denoiser, denoise_hint = server_denoiser(settings.denoiser)
        self.denoiser = None if denoiser is None else stream_factory(denoiser)
        self.analysis_denoise = None if denoiser is None else analysis_denoise(denoiser)
        self.transcription, features = _transcription(settings, self.metrics, self.analysis_denoise)
        features = replace(
            features,
            noise_reduction=denoiser is not None,
            hints=(*features.hints, *((("noise_reduction", denoise_hint),) if denoise_hint else ())),
        )
        self.connections: set[Connection] = set()
        self.draining = False
        #: semantic_vad's end-of-turn worker; without the model, sessions asking for it get an
        #: error naming what to install
        self.turn_end = (
            turn_end
            if turn_end is not None
            else _turn_end_worker(settings, self.metrics, self.analysis_denoise)
        )
        semantic_hint = () if self.turn_end is not None else (("semantic_vad", _semantic_hint()),)
        self.features = replace(
            features, semantic_vad=self.turn_end is not None, hints=(*features.hints, *semantic_hint)
        )
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


def _turn_end_worker(
    settings: ServerSettings, metrics: Metrics, denoise: Denoise | None = None
) -> TurnEndWorker | None:
    """The Smart Turn worker, or ``None`` when the ``[semantic]`` extra is not installed."""
    from openapiopenai.vad.smart_turn import LazySmartTurnModel

    try:
        return TurnEndWorker(
            LazySmartTurnModel(),
            metrics=metrics,
            threads=settings.turn_end_threads,
            max_queue=settings.turn_end_queue,
            # the turn's audio cleaned as the session asked (noise_reduction), like the VAD path
            prepare=functools.partial(analysis_audio, denoise=denoise),
        )
    except ModelLoadError as exc:
        log.info("semantic_vad unavailable: %s", exc)
        return None


def _semantic_hint() -> str:
    from openapiopenai.vad.smart_turn import INSTALL_HINT

    return INSTALL_HINT


def _transcription(
    settings: ServerSettings, metrics: Metrics, denoise: Denoise | None = None
) -> tuple[TranscriptionPool | None, Features]:
    """The transcription pool when the engine is installed and enabled, and what sessions are
    told when it is not (the ``error`` a session asking for transcription gets)."""
    from openapiopenai.asr import load_transcriber, unavailable_reason

    if settings.transcription_workers < 1:
        return None, Features(hints=(("transcription", "it is turned off (--transcription-workers 0)"),))
    reason = unavailable_reason(settings.transcription_model)
    if reason is not None:
        log.info("input audio transcription unavailable: %s", reason)
        return None, Features(hints=(("transcription", reason),))

    def load() -> Any:
        return load_transcriber(
            settings.transcription_model,
            cpu_threads=settings.transcription_cpu_threads,
            workers=settings.transcription_workers,
            beam_size=settings.transcription_beam_size,
        )

    pool = TranscriptionPool(
        load,
        workers=settings.transcription_workers,
        queue_size=settings.transcription_queue,
        metrics=metrics,
        nice=settings.transcription_nice,
        preload=settings.transcription_preload,
        denoise=denoise,
    )
    return pool, Features(transcription=True)


async def _refuse(websocket: WebSocket, hub: Hub, refusal: Refusal) -> None:
    """Answer with an HTTP error instead of the upgrade, and count it."""
    hub.metrics.refused.labels(reason=refusal.reason).inc()
    message = refusal.message.format(max_sessions=hub.settings.max_sessions)
    body = {
        "error": {"type": "invalid_request_error", "code": refusal.code, "message": message, "param": None}
    }
    await websocket.send_denial_response(JSONResponse(body, status_code=refusal.status))


async def realtime_endpoint(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.hub
    offered = list(websocket.scope.get("subprotocols", []))
    headers = websocket.headers
    if hub.draining:
        return await _refuse(websocket, hub, Refusal.SHUTTING_DOWN)
    if not is_authorized(hub.settings.api_key, headers, offered):
        return await _refuse(websocket, hub, Refusal.UNAUTHORIZED)
    if len(hub.connections) >= hub.settings.max_sessions:
        return await _refuse(websocket, hub, Refusal.TOO_MANY_SESSIONS)
    query = parse_qs(websocket.scope.get("query_string", b"").decode("latin-1"))
    intent = query.get("intent", ["realtime"])[0]
    session = Session(
        hub.scorer.model,  # in process mode: states that are handles to the child's
        dialect="beta" if wants_beta(headers, offered) else "ga",
        intent="transcription" if intent == "transcription" else "realtime",
        model_name=query.get("model", [None])[0],
        limits=hub.limits,
        created_at=int(time.time()),
        features=hub.features,
        denoiser=hub.denoiser,
    )
    connection = Connection(
        websocket,
        session,
        hub.scorer,
        hub.settings,
        hub.metrics,
        transcription=hub.transcription,
        turn_end=hub.turn_end,
    )
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


async def upgrade_required(request: Request) -> Response:
    """A browser or curl opening the WebSocket URL as a page gets a hint, not a bare 404."""
    hint = (
        "This is a WebSocket endpoint: connect with ws:// (or wss://) and the Realtime protocol, "
        "or open / for the live page.\n"
    )
    return PlainTextResponse(
        hint, status_code=UPGRADE_REQUIRED, headers={"Upgrade": "websocket", "Connection": "Upgrade"}
    )


async def metrics(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    return Response(hub.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


def create_app(
    settings: ServerSettings | None = None,
    model: SpeechModel | None = None,
    turn_end: TurnEndWorker | None = None,
) -> Starlette:
    """The server as an ASGI app (``uvicorn`` serves it; tests may mount it anywhere).
    ``turn_end``: semantic_vad's worker (default: Smart Turn, when the extra is installed)."""
    settings = settings or ServerSettings()
    model = model or load_model(settings.backend)
    warm = getattr(model, "batch_session", None)  # build Silero's batch graph now, not in a first request
    if warm is not None and not settings.scorer_process:  # the scorer process warms its own
        for rate in model.supported_rates():
            warm(rate)
    hub = Hub(settings, model, turn_end)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        await hub.scorer.start()
        if hub.transcription is not None:
            await hub.transcription.start()
        if hub.turn_end is not None:
            await hub.turn_end.start()
        try:
            yield {}
        finally:
            await hub.drain()
            await hub.scorer.stop()
            if hub.transcription is not None:
                await hub.transcription.stop()
            if hub.turn_end is not None:
                await hub.turn_end.stop()

    app = Starlette(
        routes=[
            WebSocketRoute("/v1/realtime", realtime_endpoint),
            WebSocketRoute("/realtime", realtime_endpoint),
            Route("/v1/realtime", upgrade_required),
            Route("/realtime", upgrade_required),
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            Mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="live"),
        ],
        lifespan=lifespan,
    )
    app.state.hub = hub
    return app


__all__ = ["Hub", "create_app"]
