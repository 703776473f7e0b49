"""Helpers for driving the server with the official SDK and collecting what it sends."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

from tests.audio._data import speech_pcm
from tests.sdk import validate_beta, validate_ga

__all__ = ["b64", "collect", "speech_pcm"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def collect(
    conn: Any, *, until: str, count: int = 1, timeout: float = 30, beta: bool = False
) -> list[dict[str, Any]]:
    """Events as dicts, each validated strictly with the SDK's own types, until the ``count``-th
    event of type ``until`` arrives; a generous deadline turns a missing event into a failure."""
    events: list[dict[str, Any]] = []
    seen = 0
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{count} x {until} not received in {timeout} s; got {events}")
        try:
            event = await asyncio.wait_for(conn.recv(), remaining)
        except TimeoutError:
            continue
        raw = event.to_json()
        (validate_beta if beta else validate_ga)(raw)
        events.append(json.loads(raw))
        if events[-1]["type"] == until:
            seen += 1
            if seen == count:
                return events
