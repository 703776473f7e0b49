"""Helpers for driving the server with the official SDK and collecting what it sends."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import numpy as np
import soxr

from tests.audio._data import TEN_VAD, read_audio
from tests.sdk import validate_beta, validate_ga


def speech_pcm(name: str = "testset-audio-01.wav") -> bytes:
    """A real recording as the PCM16 24 kHz bytes a client streams."""
    samples, rate = read_audio(TEN_VAD, name)
    resampled = soxr.resample(samples, rate, 24_000)
    return np.clip(np.round(resampled * 32767), -32768, 32767).astype("<i2").tobytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def collect(
    conn: Any, *, until: str | None = None, idle: float = 1.5, beta: bool = False
) -> list[dict[str, Any]]:
    """Events as dicts, each validated strictly with the SDK's own types, until ``until`` arrives
    or nothing comes for ``idle`` seconds."""
    events: list[dict[str, Any]] = []
    while True:
        try:
            event = await asyncio.wait_for(conn.recv(), idle)
        except TimeoutError:
            return events
        raw = event.to_json()
        (validate_beta if beta else validate_ga)(raw)
        events.append(json.loads(raw))
        if until is not None and events[-1]["type"] == until:
            return events
