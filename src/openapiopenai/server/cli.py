"""``openapiopenai serve``: the Realtime server on uvicorn, with a graceful SIGTERM.

With ``--workers N`` the parent runs N worker processes, each a complete server (event loop,
scorer thread, model) on its own socket bound to the same port with ``SO_REUSEPORT``, so the
kernel spreads new connections evenly over them (one shared socket, tried first, let whichever
worker woke first take most of a burst of connections). The parent supervises them: it passes
each SIGTERM or SIGINT on as a SIGTERM (the first lets every worker finish its turns and close,
as a single server does; a second stops them at once) and replaces a worker that dies
unexpectedly. One Python process tops out at about one core of event-loop work (WebSocket
frames, JSON, base64, resampling); workers are how a server uses more cores.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import socket
import sys
import time
from types import FrameType
from typing import Any

from openapiopenai.config import API_KEY_ENV, ServerSettings


def add_parser(subparsers: Any) -> None:
    d = ServerSettings()
    parser = subparsers.add_parser(
        "serve",
        help="run the Realtime WebSocket server",
        description="Serve /v1/realtime: the input side of the OpenAI Realtime API with server_vad.",
    )
    parser.add_argument("--host", default=d.host, help=f"interface to bind (default: {d.host})")
    parser.add_argument("--port", type=int, default=d.port, help=f"port (default: {d.port})")
    parser.add_argument(
        "--backend", default=d.backend, help="speech model: auto (silero), silero, webrtc, energy"
    )
    parser.add_argument(
        "--denoiser",
        default=d.denoiser,
        choices=("auto", "rnnoise", "deepfilternet", "off"),
        help="noise reduction for sessions that ask for it: auto (rnnoise if installed), rnnoise, "
        f"deepfilternet, off (default: {d.denoiser})",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help=f"require this key from clients (default: ${API_KEY_ENV}, else no auth)",
    )
    parser.add_argument(
        "--max-sessions", type=int, default=d.max_sessions, help=f"per worker (default: {d.max_sessions})"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=d.workers,
        help=f"server processes sharing the port, each with its own model and scorer (default: {d.workers})",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=d.max_message_bytes,
        help="larger messages get an error event",
    )
    parser.add_argument(
        "--max-buffer-bytes", type=int, default=d.max_buffer_bytes, help="uncommitted audio per session"
    )
    parser.add_argument(
        "--max-leading-silence-ms",
        type=int,
        default=d.max_leading_silence_ms,
        help="server_vad: silence kept before the next possible turn; older silence is dropped "
        f"so a silent session never fills its buffer (default: {d.max_leading_silence_ms})",
    )
    parser.add_argument(
        "--max-items", type=int, default=d.max_items, help="items a session keeps; the oldest are forgotten"
    )
    parser.add_argument(
        "--max-item-bytes",
        type=int,
        default=d.max_item_bytes,
        help="text of the items a session keeps; a bigger client item gets an error",
    )
    parser.add_argument(
        "--max-pending-transcriptions",
        type=int,
        default=d.max_pending_transcriptions,
        help="items of one session waiting for transcription before new ones fail at once",
    )
    parser.add_argument(
        "--send-queue-events",
        type=int,
        default=d.send_queue_events,
        help="events queued for a client that is not reading before its session is closed",
    )
    parser.add_argument(
        "--send-timeout",
        type=float,
        default=d.send_timeout_s,
        help="seconds one send may block before the session is closed (client not reading)",
    )
    parser.add_argument(
        "--scorer-threads",
        type=int,
        default=d.scorer_threads,
        help=f"threads running model calls in parallel (default: {d.scorer_threads})",
    )
    parser.add_argument(
        "--no-batching", dest="batching", action="store_false", help="score each session separately"
    )
    parser.add_argument(
        "--ws",
        dest="ws_impl",
        default=d.ws_impl,
        choices=("websockets-sansio", "websockets"),
        help=f"uvicorn WebSocket implementation (default: {d.ws_impl})",
    )
    parser.add_argument("--ssl-certfile", default=None, help="serve TLS (wss://) with this certificate")
    parser.add_argument("--ssl-keyfile", default=None, help="private key of --ssl-certfile")
    parser.add_argument(
        "--shutdown-grace", type=float, default=d.shutdown_grace_s, help="seconds to finish turns on SIGTERM"
    )
    parser.add_argument(
        "--log-level", default=d.log_level, choices=("critical", "error", "warning", "info", "debug")
    )
    parser.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    return ServerSettings.from_env(
        host=args.host,
        port=args.port,
        backend=args.backend,
        denoiser=args.denoiser,
        api_key=args.api_key,
        max_sessions=args.max_sessions,
        workers=args.workers,
        max_message_bytes=args.max_message_bytes,
        max_buffer_bytes=args.max_buffer_bytes,
        max_leading_silence_ms=args.max_leading_silence_ms,
        max_items=args.max_items,
        max_item_bytes=args.max_item_bytes,
        max_pending_transcriptions=args.max_pending_transcriptions,
        batching=args.batching,
        scorer_threads=args.scorer_threads,
        send_queue_events=args.send_queue_events,
        send_timeout_s=args.send_timeout,
        ws_impl=args.ws_impl,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        shutdown_grace_s=args.shutdown_grace,
        log_level=args.log_level,
    )


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if settings.workers < 1:
        raise SystemExit("--workers must be at least 1")
    if settings.workers > 1:
        if settings.port == 0:
            raise SystemExit("--workers needs a fixed --port (each worker binds it)")
        return Supervisor(settings).run()
    serve(settings)
    return 0


def serve(settings: ServerSettings, sockets: list[socket.socket] | None = None) -> None:
    """One server process until it is told to stop (``sockets``: already bound, from a parent)."""
    import uvicorn

    from openapiopenai.server.app import Hub, create_app

    # The scorer threads need the GIL back between model calls while the event loop is busy;
    # the default 5 ms switch interval would let each hand-over stall a batch that long.
    sys.setswitchinterval(0.001)
    app = create_app(settings)
    hub: Hub = app.state.hub
    # what exists now (modules, the model) lives as long as the process: keep it out of the
    # collector's full passes, which otherwise pause every session at once
    gc.freeze()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ws=settings.ws_impl,
        # never below the protocol limit: an oversized message must reach the Session's error
        ws_max_size=max(settings.max_frame_bytes, settings.max_message_bytes + 1),
        ws_per_message_deflate=False,
        ssl_certfile=settings.ssl_certfile,
        ssl_keyfile=settings.ssl_keyfile,
        log_level=settings.log_level,
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_s)),
        lifespan="on",
    )
    GracefulServer(config, hub).run(sockets)


def _worker(settings: ServerSettings, parent: int) -> None:
    """A worker process: its own process group, so a terminal's Ctrl-C reaches the parent
    only, and each worker hears exactly one signal per request to stop."""
    os.setpgrp()
    _stop_with_parent(parent)
    listener = socket.create_server((settings.host, settings.port), backlog=2048, reuse_port=True)
    serve(settings, [listener])


def _stop_with_parent(parent: int) -> None:
    """Linux: a SIGTERM (the graceful stop) when the parent dies, even by SIGKILL, so no
    orphaned worker keeps the port. Elsewhere the parent's own shutdown is relied on."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


class Supervisor:
    """The parent of ``--workers N``: starts, watches and stops the workers."""

    #: a worker that exits this soon after starting is broken (bad certificate, port in use,
    #: model): stop everything instead of restarting it forever
    MIN_LIFETIME_S = 5.0

    def __init__(self, settings: ServerSettings) -> None:
        import multiprocessing

        self.settings = settings
        self._context = multiprocessing.get_context("spawn")  # no inherited threads or model
        self._stopping = False
        self._workers: list[tuple[Any, float]] = []
        self.log = logging.getLogger("openapiopenai.server")

    def _start(self) -> tuple[Any, float]:
        process = self._context.Process(target=_worker, args=(self.settings, os.getpid()))
        process.start()
        return process, time.monotonic()

    def _signal(self, sig: int, frame: FrameType | None) -> None:
        self._stopping = True
        for process, _ in self._workers:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)

    def run(self) -> int:
        from multiprocessing.connection import wait

        logging.basicConfig(level=self.settings.log_level.upper(), format="%(levelname)s: %(message)s")
        signal.signal(signal.SIGTERM, self._signal)
        signal.signal(signal.SIGINT, self._signal)
        self._workers = [self._start() for _ in range(self.settings.workers)]
        if self._stopping:  # a signal came while they were starting
            self._signal(signal.SIGTERM, None)
        self.log.info(
            "%d workers serving on %s:%d", self.settings.workers, self.settings.host, self.settings.port
        )
        failed = False
        while any(process.is_alive() for process, _ in self._workers):
            wait([process.sentinel for process, _ in self._workers], timeout=1.0)
            for i, (process, started) in enumerate(self._workers):
                if process.is_alive() or self._stopping:
                    continue
                if time.monotonic() - started < self.MIN_LIFETIME_S:
                    self.log.error("worker %d exited with %s at startup; stopping", i, process.exitcode)
                    failed = True
                    self._signal(signal.SIGTERM, None)
                    break
                self.log.warning("worker %d exited with %s; starting another", i, process.exitcode)
                self._workers[i] = self._start()
        codes = [process.exitcode for process, _ in self._workers]
        return 1 if failed or any(code != 0 for code in codes) else 0


class GracefulServer:
    """uvicorn, but the first SIGTERM/SIGINT first lets sessions finish their turns.

    uvicorn's own shutdown closes WebSockets at once (1012); before it starts, the hub refuses
    new sessions, delivers each session's pending ``speech_stopped``/``committed`` and closes
    it with 1001. A second signal skips the wait.
    """

    def __init__(self, config: Any, hub: Any) -> None:
        import uvicorn

        hub_ref = hub

        class _Server(uvicorn.Server):
            drain_requested = False
            drain_task: asyncio.Task[None] | None = None

            def handle_exit(self, sig: int, frame: FrameType | None) -> None:
                if not self.drain_requested and sig in (signal.SIGTERM, signal.SIGINT):
                    self.drain_requested = True  # acted on by the next tick, inside the loop
                    return
                super().handle_exit(sig, frame)

            async def on_tick(self, counter: int) -> bool:
                if self.drain_requested and self.drain_task is None:
                    self.drain_task = asyncio.create_task(hub_ref.drain())
                if self.drain_task is not None and self.drain_task.done():
                    self.should_exit = True
                return bool(await super().on_tick(counter))

        self._server = _Server(config)

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        self._server.run(sockets=sockets)


__all__ = ["GracefulServer", "Supervisor", "add_parser", "run", "serve", "settings_from_args"]
