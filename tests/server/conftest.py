"""The real server as a user runs it: ``openapiopenai serve`` in a subprocess on a free port.

A subprocess (rather than an in-process app) is what lets these tests send it SIGTERM, talk
to it over TLS from Node, and watch it from outside like a client would.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    port: int
    scheme: str = "http"
    verify: ssl.SSLContext | bool = True
    log: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def http_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.scheme == 'https' else 'ws'}://127.0.0.1:{self.port}/v1/realtime"

    def metrics(self) -> str:
        return httpx.get(f"{self.http_url}/metrics", verify=self.verify, timeout=30).text

    def metric(self, name: str) -> float:
        """The sum of a metric's samples (labels ignored) from ``/metrics``."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name) and (line[len(name)] in " {"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(
    tmp_path: Path, *args: str, tls: tuple[str, str, str] | None = None, env: dict[str, str] | None = None
) -> ServerProcess:
    """Start ``openapiopenai serve`` and wait for ``/healthz``; ``tls`` = (cert, key, ca) files."""
    port = free_port()
    argv = [sys.executable, "-m", "openapiopenai", "serve", "--port", str(port), *args]
    if tls is not None:
        argv += ["--ssl-certfile", tls[0], "--ssl-keyfile", tls[1]]
    log = tmp_path / f"server-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    server = ServerProcess(
        proc,
        port,
        scheme="https" if tls else "http",
        verify=ssl.create_default_context(cafile=tls[2]) if tls else True,
        log=log,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.http_url}/healthz", verify=server.verify, timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not become healthy:\n{server.output()}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    running = start_server(tmp_path)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the tests of a module that need no special flags."""
    running = start_server(tmp_path_factory.mktemp("server"))
    yield running
    running.stop()
