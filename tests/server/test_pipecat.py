"""pipecat's ``OpenAIRealtimeSTTService`` pointed at this server instead of OpenAI: a pipeline
with no transport (frames queued by the test, as a transport would push them), no cloud service.

The service connects to ``{base_url}?intent=transcription``, sends a GA ``transcription``
``session.update`` that always names a transcription model, and with ``turn_detection`` set
turns our ``speech_started``/``speech_stopped`` into pipecat's proposed user-turn frames. The
clip goes in at 16 kHz, the rate pipecat pipelines usually run at (the service resamples it to
24 kHz itself), at real-time speed, followed by a second of silence that ends the last turn.

Skipped where pipecat (the ``[semantic]`` extra) or faster-whisper (``[transcribe]``) is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soxr

from tests.server.conftest import ServerProcess, start_server

pytest.importorskip("pipecat.services.openai.stt", reason="pipecat-ai is not installed")
pytest.importorskip("faster_whisper", reason="the transcribe extra is not installed")

from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    ProposedUserStartedSpeakingFrame,
    ProposedUserStoppedSpeakingFrame,
    TranscriptionFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.openai.stt import OpenAIRealtimeSTTService
from pipecat.workers.runner import WorkerRunner

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello.wav"
RATE = 16_000
FRAME_MS = 20
#: what the frames we watch are called in the asserted sequence
KINDS: dict[type[Frame], str] = {
    ProposedUserStartedSpeakingFrame: "started",
    ProposedUserStoppedSpeakingFrame: "stopped",
    TranscriptionFrame: "transcript",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = start_server(tmp_path_factory.mktemp("pipecat"))
    yield running
    running.stop()


class Collector(FrameProcessor):
    """The end of the pipeline: remembers the turn and transcription frames that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []
        self.transcripts = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, (*KINDS, InterimTranscriptionFrame)):
            self.frames.append(frame)
            if sum(isinstance(f, TranscriptionFrame) for f in self.frames) >= 2:
                self.transcripts.set()
        await self.push_frame(frame, direction)


def hello_16k() -> bytes:
    with wave.open(str(HELLO)) as clip:
        pcm = np.frombuffer(clip.readframes(clip.getnframes()), "<i2").astype(np.float32) / 32768
    resampled = soxr.resample(pcm, clip.getframerate(), RATE)
    return bytes(np.clip(np.round(resampled * 32767), -32768, 32767).astype("<i2").tobytes())


async def test_pipecat_realtime_stt_gets_turns_and_transcripts(server: ServerProcess) -> None:
    stt = OpenAIRealtimeSTTService(
        api_key="unused-on-loopback",
        base_url=server.ws_url,
        turn_detection={"type": "server_vad", "silence_duration_ms": 500},
    )
    collector = Collector()
    worker = PipelineWorker(
        Pipeline([stt, collector]), params=PipelineParams(audio_in_sample_rate=RATE), enable_rtvi=False
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    try:
        audio = hello_16k() + bytes(RATE * 2)  # + 1 s of silence: the last turn ends by itself
        step = RATE * 2 * FRAME_MS // 1000
        for i in range(0, len(audio), step):  # real-time speed, as a transport delivers a call
            frame = InputAudioRawFrame(audio=audio[i : i + step], sample_rate=RATE, num_channels=1)
            await worker.queue_frame(frame)
            await asyncio.sleep(FRAME_MS / 1000)
        await asyncio.wait_for(collector.transcripts.wait(), timeout=60)  # model load on a shared CPU
        await worker.queue_frame(EndFrame())
        await asyncio.wait_for(running, timeout=30)
    finally:
        if not running.done():
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running

    kinds = [name for f in collector.frames for kind, name in KINDS.items() if isinstance(f, kind)]
    # both turns, in order; each transcript arrives after its turn ended (the second turn may start
    # before the first transcript is done)
    assert [k for k in kinds if k != "transcript"] == ["started", "stopped"] * 2
    assert kinds.count("transcript") == 2
    assert kinds.index("transcript") > kinds.index("stopped")
    texts = [f.text.lower() for f in collector.frames if isinstance(f, TranscriptionFrame)]
    assert "hello" in texts[0], texts
    assert "weather" in texts[1] and "tomorrow" in texts[1], texts
    assert server.metric("openapiopenai_errors_total") == 0  # no error event reached pipecat
