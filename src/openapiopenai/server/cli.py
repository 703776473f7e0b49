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
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any

from openapiopenai.config import API_KEY_ENV, ServerSettings, field_docs
from openapiopenai.exceptions import ConfigError

log = logging.getLogger("openapiopenai.server")


#: flags not named after their field (``_s`` fields lose the suffix: their metavar says SECONDS)
_FLAG_NAMES = {"ws_impl": "--ws"}
#: defaults that are not a literal value
_DEFAULT_TEXT = {"api_key": f"${API_KEY_ENV}, else no auth", "ssl_certfile": "plain ws://"}

EXAMPLES = """\
examples:
  openapiopenai serve                      # ws://127.0.0.1:8000/v1/realtime, page at http://127.0.0.1:8000/
  OPENAPIOPENAI_API_KEY=sk-local openapiopenai serve --host 0.0.0.0 --workers 4
  openapiopenai serve --ssl-certfile cert.pem --ssl-keyfile key.pem   # wss://
  openapiopenai serve --backend webrtc --max-sessions 200
"""


#: metavars of settings whose name says too little (``api_key`` -> ``KEY``)
_METAVARS = {"api_key": "KEY", "host": "ADDRESS"}


def _metavar(name: str, kind: type) -> str:
    """``BYTES``, ``MS``, ``SECONDS``, ``N``, ``PATH`` or ``NAME_OR_PATH``: what a value means, at
    a glance (the same words as ``detect`` and ``eval``)."""
    if name in _METAVARS:
        return _METAVARS[name]
    if name.endswith("_model"):
        return "NAME_OR_PATH"  # a model name or a local model directory
    if kind is float:
        return "SECONDS"
    if kind is int:
        return "BYTES" if name.endswith("_bytes") else "MS" if name.endswith("_ms") else "N"
    return "PATH" if name.endswith("file") else name.upper()


def _shown(name: str, default: object) -> str:
    if name in _DEFAULT_TEXT:
        return _DEFAULT_TEXT[name]
    if default is None:
        return "none"
    if isinstance(default, int) and name.endswith("_bytes") and default % 1024**2 == 0:
        return f"{default} = {default // 1024**2} MiB"
    return str(default)


def flag_name(name: str, default: object) -> str:
    """The ``serve`` flag of a setting: ``max_sessions`` -> ``--max-sessions``,
    ``send_timeout_s`` -> ``--send-timeout``, ``batching`` (on by default) -> ``--no-batching``."""
    if name in _FLAG_NAMES:
        return _FLAG_NAMES[name]
    base = name.removesuffix("_s").replace("_", "-")
    return f"--no-{base}" if default is True else f"--{base}"


def add_parser(subparsers: Any) -> None:
    """``serve``: one flag per :class:`ServerSettings` field, its help the field's doc."""
    from openapiopenai.vad.registry import AUTO, available_models

    parser = subparsers.add_parser(
        "serve",
        help="run the Realtime WebSocket server",
        description="Serve /v1/realtime: the input side of the OpenAI Realtime API (server_vad and\n"
        "semantic_vad turn detection, transcription, noise reduction), and a live page at /.\n"
        "Turn detection itself (threshold, silence, padding) is set per session by the client\n"
        "(session.update), as with OpenAI; these flags set the server's limits and engines\n"
        "(all of them, with the environment variables, in docs/serving.md).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    docs = field_docs(ServerSettings)
    hints = typing.get_type_hints(ServerSettings)
    for f in fields(ServerSettings):
        default = f.default
        help_text = docs.get(f.name, "").replace("``", "'")
        flag = flag_name(f.name, default)
        kind = hints[f.name]
        if kind is bool:
            action = "store_false" if default is True else "store_true"
            state = "on by default; this flag turns it off" if default else "off by default"
            parser.add_argument(flag, dest=f.name, action=action, default=None, help=f"{help_text} ({state})")
            continue
        choices: list[str] | None = None
        if typing.get_origin(kind) is typing.Literal:
            choices = [str(choice) for choice in typing.get_args(kind)]
        elif f.name == "backend":
            choices = [AUTO, *available_models()]
        base = next((t for t in (int, float, str) if kind is t or t in typing.get_args(kind)), str)
        parser.add_argument(
            flag,
            dest=f.name,
            type=base,
            default=None,  # not given: ServerSettings.from_env decides
            choices=choices,
            metavar=None if choices else _metavar(f.name, base),
            help=f"{help_text} (default: {_shown(f.name, default)})",
        )
    parser.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    """Defaults, then the environment, then the flags given."""
    return ServerSettings.from_env(**{f.name: getattr(args, f.name) for f in fields(ServerSettings)})


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if settings.workers < 1:
        raise SystemExit("--workers must be at least 1")
    check_files(settings)
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s: %(message)s")
    if settings.workers > 1:
        if settings.port == 0:
            raise SystemExit("--workers needs a fixed --port (each worker binds it)")
        return Supervisor(settings).run()
    serve(settings)
    return 0


def check_files(settings: ServerSettings) -> None:
    """Files named on the command line exist: one line naming the file beats a traceback from
    every worker (and, before readiness was signalled, a worker replaced again and again)."""
    for flag, path in (("--ssl-certfile", settings.ssl_certfile), ("--ssl-keyfile", settings.ssl_keyfile)):
        if path is not None and not os.path.isfile(path):
            raise ConfigError(f"{flag}: no such file: {path}")
        if path is not None and not os.access(path, os.R_OK):
            raise ConfigError(f"{flag}: cannot read {path}")


def serve(
    settings: ServerSettings,
    sockets: list[socket.socket] | None = None,
    on_ready: Callable[[Ready], None] | None = None,
) -> None:
    """One server process until it is told to stop (``sockets``: already bound, from a parent;
    ``on_ready``: called once the server accepts connections; by default it logs the
    start-up line)."""
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
    if on_ready is None:

        def on_ready(ready: Ready) -> None:
            log.info("%s", startup_line(settings, ready))

    GracefulServer(config, hub, on_ready).run(sockets)


def _worker(settings: ServerSettings, parent: int, ready: Connection) -> None:
    """A worker process: its own process group, so a terminal's Ctrl-C reaches the parent
    only, and each worker hears exactly one signal per request to stop. It writes to ``ready``
    once it serves; dying before that means it is broken, not unlucky."""
    os.setpgrp()
    _stop_with_parent(parent)
    listener = socket.create_server((settings.host, settings.port), backlog=2048, reuse_port=True)

    def tell_parent(message: Ready) -> None:
        ready.send(message)
        ready.close()

    serve(settings, [listener], on_ready=tell_parent)


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


@dataclass(frozen=True, slots=True)
class Ready:
    """What a server knows once it accepts connections (a worker sends it to its parent)."""

    backend: str
    port: int


def startup_line(settings: ServerSettings, ready: Ready) -> str:
    """The one line ``serve`` logs when it is ready: where, what model, auth, processes, and the
    live page's address (on a wildcard host, the loopback one: a browser cannot open 0.0.0.0)."""
    secure = "s" if settings.ssl_certfile else ""
    auth = "on" if settings.api_key else "off"
    workers = f"{settings.workers} worker{'s' if settings.workers > 1 else ''}"
    here = _url_host(settings.host)
    page = _url_host(_LOOPBACK.get(settings.host, settings.host))
    return (
        f"serving ws{secure}://{here}:{ready.port}/v1/realtime "
        f"(backend {ready.backend}, auth {auth}, {workers}); "
        f"live page: http{secure}://{page}:{ready.port}/"
    )


#: wildcard hosts -> the address a browser on this machine opens instead
_LOOPBACK = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}


def _url_host(host: str) -> str:
    """An IPv6 literal in brackets, as a URL needs it."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@dataclass
class _Worker:
    process: Any
    #: the read end of the worker's readiness pipe until a message or end-of-file came
    pipe: Connection | None
    ready: Ready | None = None

    def read_pipe(self) -> None:
        """Take the worker's readiness message if it came (also after the worker died)."""
        if self.pipe is None or not self.pipe.poll():
            return
        with contextlib.suppress(EOFError):  # end-of-file: it died before it was ready
            self.ready = self.pipe.recv()
        self.pipe.close()
        self.pipe = None


class Supervisor:
    """The parent of ``--workers N``: starts, watches and stops the workers.

    A worker that dies before it was ready (bad certificate, port in use, model) is broken,
    however long that took on a loaded machine: the server stops with exit status 1 instead of
    starting it again. One that dies after it was ready is replaced.
    """

    def __init__(self, settings: ServerSettings) -> None:
        import multiprocessing

        self.settings = settings
        self._context = multiprocessing.get_context("spawn")  # no inherited threads or model
        self._stopping = False
        self._workers: list[_Worker] = []
        self._announced = False
        self.log = logging.getLogger("openapiopenai.server")

    def _start(self) -> _Worker:
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(target=_worker, args=(self.settings, os.getpid(), sender))
        process.start()
        sender.close()  # the worker holds the only write end: end-of-file when it dies
        return _Worker(process, receiver)

    def _signal(self, sig: int, frame: FrameType | None) -> None:
        self._stopping = True
        for worker in self._workers:
            if worker.process.is_alive() and worker.process.pid is not None:
                os.kill(worker.process.pid, signal.SIGTERM)

    def run(self) -> int:
        from multiprocessing.connection import wait

        signal.signal(signal.SIGTERM, self._signal)
        signal.signal(signal.SIGINT, self._signal)
        self._workers = [self._start() for _ in range(self.settings.workers)]
        if self._stopping:  # a signal came while they were starting
            self._signal(signal.SIGTERM, None)
        failed = False
        while any(worker.process.is_alive() for worker in self._workers):
            waitable = [w.process.sentinel for w in self._workers]
            waitable += [w.pipe for w in self._workers if w.pipe is not None]
            wait(waitable, timeout=1.0)
            for i, worker in enumerate(self._workers):
                worker.read_pipe()
                if worker.process.is_alive() or self._stopping:
                    continue
                if worker.ready is None:
                    self.log.error(
                        "worker %d exited with %s before it was ready; stopping", i, worker.process.exitcode
                    )
                    failed = True
                    self._signal(signal.SIGTERM, None)
                    break
                self.log.warning("worker %d exited with %s; starting another", i, worker.process.exitcode)
                self._workers[i] = self._start()
            first = self._workers[0].ready
            if not self._announced and first and all(w.ready for w in self._workers):
                self._announced = True
                self.log.info("%s", startup_line(self.settings, first))
        codes = [worker.process.exitcode for worker in self._workers]
        return 1 if failed or any(code != 0 for code in codes) else 0


class GracefulServer:
    """uvicorn, but the first SIGTERM/SIGINT first lets sessions finish their turns.

    uvicorn's own shutdown closes WebSockets at once (1012); before it starts, the hub refuses
    new sessions, delivers each session's pending ``speech_stopped``/``committed`` and closes
    it with 1001. A second signal skips the wait.
    """

    def __init__(self, config: Any, hub: Any, on_ready: Callable[[Ready], None] | None = None) -> None:
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

            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets)
                if self.started and on_ready is not None:
                    bound = [sock for server in self.servers for sock in server.sockets]
                    port = bound[0].getsockname()[1] if bound else config.port
                    on_ready(Ready(backend=hub_ref.model.name, port=port))

        self._server = _Server(config)

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        self._server.run(sockets=sockets)


__all__ = ["GracefulServer", "Supervisor", "add_parser", "run", "serve", "settings_from_args"]
