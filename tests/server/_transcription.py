"""Helpers for the transcription tests: the SDK client, event collection, per-item checks, and
the server in-process (uvicorn in a thread) for tests that plug in a fake transcriber."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from openai import AsyncOpenAI
from starlette.applications import Starlette

from tests.sdk import validate_beta, validate_ga
from tests.server.conftest import ServerProcess, free_port

DELTA = "conversation.item.input_audio_transcription.delta"
COMPLETED = "conversation.item.input_audio_transcription.completed"
FAILED = "conversation.item.input_audio_transcription.failed"


def words(text: str) -> set[str]:
    return set("".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split())


def client_for(server: ServerProcess | InProcessServer) -> AsyncOpenAI:
    return AsyncOpenAI(
        base_url=f"{server.http_url}/v1",
        api_key="sk-test",
        websocket_base_url=f"ws://127.0.0.1:{server.port}/v1",
    )


async def next_event(conn: Any, *, beta: bool = False) -> dict[str, Any]:
    """The next event, validated strictly against the SDK's own types."""
    raw = (await conn.recv()).to_json()
    (validate_beta if beta else validate_ga)(raw)
    event: dict[str, Any] = json.loads(raw)
    return event


async def collect_transcripts(
    conn: Any, *, beta: bool = False, items: int = 1, timeout: float = 90
) -> list[dict[str, Any]]:
    """Events (strictly validated) until ``items`` items are committed and every committed item
    has completed or failed; the generous deadline turns a missing event into a failure."""
    events: list[dict[str, Any]] = []
    committed: list[str] = []
    finished: list[str] = []
    async with asyncio.timeout(timeout):
        while len(committed) < items or len(finished) < len(committed):
            event = await next_event(conn, beta=beta)
            events.append(event)
            if event["type"] == "input_audio_buffer.committed":
                committed.append(event["item_id"])
            elif event["type"] in (COMPLETED, FAILED):
                finished.append(event["item_id"])
    return events


async def events_until(
    conn: Any, kind: str, *, beta: bool = False, timeout: float = 60
) -> list[dict[str, Any]]:
    """Events (strictly validated) up to and including the first of type ``kind``."""
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while not events or events[-1]["type"] != kind:
            events.append(await next_event(conn, beta=beta))
    return events


async def collect_count(
    conn: Any, kinds: tuple[str, ...], count: int, *, beta: bool = False, timeout: float = 60
) -> list[dict[str, Any]]:
    """Events (strictly validated) until ``count`` events of the given types have arrived."""
    events: list[dict[str, Any]] = []
    seen = 0
    async with asyncio.timeout(timeout):
        while seen < count:
            events.append(await next_event(conn, beta=beta))
            seen += events[-1]["type"] in kinds
    return events


def check_items(events: list[dict[str, Any]]) -> list[str]:
    """Per committed item, in commit order: deltas then one completed whose transcript is the
    deltas joined; returns the transcripts."""
    committed = [e["item_id"] for e in events if e["type"] == "input_audio_buffer.committed"]
    completed = [e for e in events if e["type"] == COMPLETED]
    assert [e["item_id"] for e in completed] == committed
    for event in completed:
        item = event["item_id"]
        deltas = [e["delta"] for e in events if e["type"] == DELTA and e["item_id"] == item]
        assert deltas and "".join(deltas) == event["transcript"]
        last_delta = max(i for i, e in enumerate(events) if e["type"] == DELTA and e["item_id"] == item)
        assert last_delta < events.index(event)
    return [e["transcript"] for e in completed]


class InProcessServer:
    """An app (``create_app(...)``) served by uvicorn in a thread, on a free local port."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.port = free_port()
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the in-process server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(30)


@contextmanager
def serving(app: Starlette) -> Iterator[InProcessServer]:
    server = InProcessServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()
