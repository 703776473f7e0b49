"""Transcription through the official SDK with a fake transcriber (the real server app, in process):
deltas stream piece by piece, transcription events interleave with the next turn, a full queue
fails the item at once and the session goes on, and the queue depth is in ``/metrics``.

The fake decodes on the pool's worker thread like the real engine, but yields its pieces only
when the test opens its gate, so every ordering below is forced, not timed."""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from openapiopenai.asr import TextPiece, TranscriptionOptions
from openapiopenai.config import ServerSettings
from openapiopenai.server.app import create_app
from tests.server._client import b64
from tests.server._transcription import (
    COMPLETED,
    DELTA,
    FAILED,
    InProcessServer,
    check_items,
    client_for,
    collect_count,
    collect_transcripts,
    events_until,
    serving,
)
from tests.synth import LoudnessModel, pcm16, silence, tone

#: what the fake "hears" in every item: three segments, so three deltas
PIECES = ("one", " two", " three")
#: one turn for LoudnessModel: a tone between silences (the trailing silence ends it)
TURN = pcm16(silence(200), tone(600), silence(1200))
ON = {"type": "realtime", "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}}


class GatedTranscriber:
    """Yields the first piece at once, the others once ``gate`` is open."""

    name = "fake"

    def __init__(self) -> None:
        self.gate = threading.Event()
        #: set when a call starts (the worker is busy from then on)
        self.started = threading.Event()

    def transcribe(self, audio: np.ndarray, options: TranscriptionOptions) -> Iterator[TextPiece]:
        self.started.set()
        yield TextPiece(PIECES[0])
        if not self.gate.wait(30):
            raise TimeoutError("the test never opened the gate")
        for piece in PIECES[1:]:
            yield TextPiece(piece)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> GatedTranscriber:
    transcriber = GatedTranscriber()
    monkeypatch.setattr("openapiopenai.asr.unavailable_reason", lambda model="": None)
    monkeypatch.setattr("openapiopenai.asr.load_transcriber", lambda model="", **options: transcriber)
    return transcriber


def metric(server: InProcessServer, name: str) -> float:
    with urllib.request.urlopen(f"{server.http_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    (line,) = [x for x in text.splitlines() if x.startswith(name + " ")]
    return float(line.split()[1])


async def wait_for_metric(server: InProcessServer, name: str, value: float, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while await asyncio.to_thread(metric, server, name) != value:
            await asyncio.sleep(0.02)


async def start_transcribing(conn: Any) -> None:
    await conn.recv()  # session.created
    await conn.session.update(session=ON)
    await events_until(conn, "session.updated")


@pytest.mark.timeout(60)
async def test_deltas_stream_as_decoded_and_interleave_with_the_next_turn(fake: GatedTranscriber) -> None:
    with serving(create_app(ServerSettings(), model=LoudnessModel())) as server:
        async with client_for(server).realtime.connect(model="gpt-realtime") as conn:
            await start_transcribing(conn)
            await conn.input_audio_buffer.append(audio=b64(TURN))
            events = await events_until(conn, DELTA)  # the first piece, while the decoder is held
            first = events[-1]["item_id"]
            await conn.input_audio_buffer.append(audio=b64(TURN))  # the next turn meanwhile
            events += await events_until(conn, "input_audio_buffer.committed")
            second = events[-1]["item_id"]
            fake.gate.set()
            events += await collect_count(conn, (COMPLETED, FAILED), 2)
    kinds = [(e["type"], e.get("item_id")) for e in events]
    started_second = next(
        i
        for i, e in enumerate(events)
        if e["type"] == "input_audio_buffer.speech_started" and e["item_id"] == second
    )
    assert kinds.index((DELTA, first)) < started_second < kinds.index((COMPLETED, first))
    assert [e["delta"] for e in events if e["type"] == DELTA and e["item_id"] == first] == list(PIECES)
    assert check_items(events) == ["one two three"] * 2


@pytest.mark.timeout(60)
async def test_a_full_queue_fails_the_item_at_once_and_the_session_goes_on(fake: GatedTranscriber) -> None:
    settings = ServerSettings(transcription_queue=1)
    with serving(create_app(settings, model=LoudnessModel())) as server:
        client = client_for(server)
        async with (
            client.realtime.connect(model="gpt-realtime") as busy,
            client.realtime.connect(model="gpt-realtime") as queued,
            client.realtime.connect(model="gpt-realtime") as unlucky,
        ):
            for conn in (busy, queued, unlucky):
                await start_transcribing(conn)
            await busy.input_audio_buffer.append(audio=b64(TURN))
            assert await asyncio.to_thread(fake.started.wait, 30)  # the one worker is held
            await queued.input_audio_buffer.append(audio=b64(TURN))
            waiting = await events_until(queued, "input_audio_buffer.committed")
            await wait_for_metric(server, "openapiopenai_transcription_queue_depth", 1)

            await unlucky.input_audio_buffer.append(audio=b64(TURN))
            failed = (await events_until(unlucky, FAILED))[-1]
            assert failed["error"]["code"] == "transcription_queue_full"
            assert failed["error"]["type"] == "transcription_error"
            assert "queue is full" in failed["error"]["message"]

            fake.gate.set()
            assert check_items(await collect_transcripts(busy)) == ["one two three"]
            waiting += await collect_count(queued, (COMPLETED, FAILED), 1)
            assert check_items(waiting) == ["one two three"]
            await wait_for_metric(server, "openapiopenai_transcription_queue_depth", 0)
            # the session that lost an item goes on: its next item is transcribed
            await unlucky.input_audio_buffer.append(audio=b64(TURN))
            events = await collect_transcripts(unlucky)
            assert check_items(events) == ["one two three"]
        assert metric(server, 'openapiopenai_transcriptions_total{outcome="queue_full"}') == 1
