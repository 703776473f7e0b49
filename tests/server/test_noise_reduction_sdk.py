"""noise_reduction through the official SDK against the real server (GA and beta clients)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from openai import AsyncOpenAI

from tests.audio._data import NOISE, TWO_TURNS, fixture_at
from tests.server._client import b64, collect, speech_pcm
from tests.server.conftest import ServerProcess, start_server
from tests.synth import pcm16, silence


def noisy_pcm() -> bytes:
    """Two espeak-ng utterances under the noise fixture (pink noise, hum, babble), PCM16 24 kHz."""
    speech = fixture_at(TWO_TURNS, 24_000)
    noise = np.resize(fixture_at(NOISE, 24_000), len(speech))
    mix = speech + noise * np.sqrt(np.mean(speech**2) / np.mean(noise**2)) * 0.5
    mix *= 0.9 / max(1.0, float(np.abs(mix).max()))
    return bytes(np.clip(np.round(mix * 32767), -32768, 32767).astype("<i2").tobytes())


async def test_ga_update_with_noise_reduction_is_accepted_echoed_and_turns_still_come(
    shared_server: ServerProcess,
) -> None:
    client = AsyncOpenAI(base_url=f"{shared_server.http_url}/v1", api_key="sk-test")
    async with client.realtime.connect(model="gpt-realtime") as conn:
        (created,) = await collect(conn, until="session.created")
        assert created["session"]["audio"]["input"]["noise_reduction"] is None  # off by default
        await conn.session.update(
            session={
                "type": "realtime",
                "audio": {
                    "input": {
                        "noise_reduction": {"type": "near_field"},
                        "turn_detection": {"type": "server_vad"},
                    }
                },
            }
        )
        (updated,) = await collect(conn, until="session.updated")
        assert updated["session"]["audio"]["input"]["noise_reduction"] == {"type": "near_field"}
        assert updated["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        sent = noisy_pcm() + pcm16(silence(1000))
        await conn.input_audio_buffer.append(audio=b64(sent))
        events = await collect(conn, until="input_audio_buffer.committed")
        assert [e["type"] for e in events][-3:] == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
        ]
        # a partial update leaves noise reduction as it was; null turns it off
        partial: Any = {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm"}}}}
        await conn.session.update(session=partial)
        kept = (await collect(conn, until="session.updated"))[-1]
        assert kept["session"]["audio"]["input"]["noise_reduction"] == {"type": "near_field"}
        off_update: Any = {"type": "realtime", "audio": {"input": {"noise_reduction": None}}}
        await conn.session.update(session=off_update)
        off = (await collect(conn, until="session.updated"))[-1]
        assert off["session"]["audio"]["input"]["noise_reduction"] is None


async def test_beta_update_with_input_audio_noise_reduction_is_accepted_and_echoed(
    shared_server: ServerProcess,
) -> None:
    client = AsyncOpenAI(
        base_url=f"{shared_server.http_url}/v1",
        api_key="x",
        websocket_base_url=f"ws://127.0.0.1:{shared_server.port}/v1",
    )
    async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
        await collect(conn, until="conversation.created", beta=True)
        await conn.session.update(session={"input_audio_noise_reduction": {"type": "far_field"}})
        (updated,) = await collect(conn, until="session.updated", beta=True)
        assert updated["session"]["input_audio_noise_reduction"] == {"type": "far_field"}
        await conn.input_audio_buffer.append(audio=b64(speech_pcm() + pcm16(silence(1000))))
        events = await collect(conn, until="conversation.item.created", beta=True)
        assert [e["type"] for e in events][-2:] == [
            "input_audio_buffer.committed",
            "conversation.item.created",
        ]


def ws_client(server: ServerProcess) -> AsyncOpenAI:
    return AsyncOpenAI(
        base_url=f"{server.http_url}/v1",
        api_key="sk-test",
        websocket_base_url=f"ws://127.0.0.1:{server.port}/v1",
    )


async def test_beta_noise_reduction_is_off_by_default_kept_by_a_partial_update_and_null_turns_it_off(
    shared_server: ServerProcess,
) -> None:
    async with ws_client(shared_server).beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
        (created,) = (await collect(conn, until="session.created", beta=True))[-1:]
        assert created["session"]["input_audio_noise_reduction"] is None  # off by default
        await conn.session.update(session={"input_audio_noise_reduction": {"type": "near_field"}})
        (updated,) = (await collect(conn, until="session.updated", beta=True))[-1:]
        assert updated["session"]["input_audio_noise_reduction"] == {"type": "near_field"}
        await conn.session.update(
            session={"turn_detection": {"type": "server_vad", "silence_duration_ms": 700}}
        )
        kept = (await collect(conn, until="session.updated", beta=True))[-1]
        assert kept["session"]["input_audio_noise_reduction"] == {"type": "near_field"}
        assert kept["session"]["turn_detection"]["silence_duration_ms"] == 700
        clear: Any = {"input_audio_noise_reduction": None}
        await conn.session.update(session=clear)
        off = (await collect(conn, until="session.updated", beta=True))[-1]
        assert off["session"]["input_audio_noise_reduction"] is None
        assert off["session"]["turn_detection"]["silence_duration_ms"] == 700


async def test_ga_transcription_session_accepts_echoes_merges_and_clears_noise_reduction(
    shared_server: ServerProcess,
) -> None:
    async with ws_client(shared_server).realtime.connect(extra_query={"intent": "transcription"}) as conn:
        (created,) = await collect(conn, until="session.created")
        assert created["session"]["type"] == "transcription"
        assert created["session"]["audio"]["input"]["noise_reduction"] is None  # off by default
        await conn.session.update(
            session={"type": "transcription", "audio": {"input": {"noise_reduction": {"type": "far_field"}}}}
        )
        (updated,) = await collect(conn, until="session.updated")
        assert updated["session"]["type"] == "transcription"
        assert updated["session"]["audio"]["input"]["noise_reduction"] == {"type": "far_field"}
        transcription: Any = {
            "type": "transcription",
            "audio": {"input": {"transcription": {"model": "whisper-1", "language": "en"}}},
        }
        await conn.session.update(session=transcription)
        kept = (await collect(conn, until="session.updated"))[-1]
        assert kept["session"]["audio"]["input"]["noise_reduction"] == {"type": "far_field"}
        assert kept["session"]["audio"]["input"]["transcription"]["language"] == "en"
        # turns still come with noise reduction on in a transcription session
        await conn.input_audio_buffer.append(audio=b64(noisy_pcm() + pcm16(silence(1000))))
        events = await collect(conn, until="input_audio_buffer.committed")
        assert "input_audio_buffer.speech_started" in [e["type"] for e in events]
        off_update: Any = {"type": "transcription", "audio": {"input": {"noise_reduction": None}}}
        await conn.session.update(session=off_update)
        off = (await collect(conn, until="session.updated"))[-1]
        assert off["session"]["audio"]["input"]["noise_reduction"] is None
        assert off["session"]["audio"]["input"]["transcription"]["language"] == "en"


async def test_beta_transcription_session_update_accepts_echoes_merges_and_clears_noise_reduction(
    shared_server: ServerProcess,
) -> None:
    connect = ws_client(shared_server).beta.realtime.connect(
        model="gpt-4o-transcribe", extra_query={"intent": "transcription"}
    )
    async with connect as conn:
        (created,) = (await collect(conn, until="session.created", beta=True))[-1:]
        assert created["session"]["object"] == "realtime.transcription_session"
        assert created["session"]["input_audio_noise_reduction"] is None  # off by default
        await conn.transcription_session.update(
            session={"input_audio_noise_reduction": {"type": "near_field"}}
        )
        (updated,) = (await collect(conn, until="transcription_session.updated", beta=True))[-1:]
        assert updated["session"]["input_audio_noise_reduction"] == {"type": "near_field"}
        await conn.transcription_session.update(
            session={"input_audio_transcription": {"model": "gpt-4o-mini-transcribe", "prompt": "Timers."}}
        )
        kept = (await collect(conn, until="transcription_session.updated", beta=True))[-1]
        assert kept["session"]["input_audio_noise_reduction"] == {"type": "near_field"}
        assert kept["session"]["input_audio_transcription"]["prompt"] == "Timers."
        clear: Any = {"input_audio_noise_reduction": None}
        await conn.transcription_session.update(session=clear)
        off = (await collect(conn, until="transcription_session.updated", beta=True))[-1]
        assert off["session"]["input_audio_noise_reduction"] is None
        assert off["session"]["input_audio_transcription"]["prompt"] == "Timers."


async def test_a_server_without_noise_reduction_refuses_it_and_says_why(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--denoiser", "off")
    try:
        client = AsyncOpenAI(base_url=f"{server.http_url}/v1", api_key="sk-test")
        async with client.realtime.connect(model="gpt-realtime") as conn:
            await collect(conn, until="session.created")
            await conn.session.update(
                session={"type": "realtime", "audio": {"input": {"noise_reduction": {"type": "near_field"}}}}
            )
            (error,) = await collect(conn, until="error")
            assert error["error"]["param"].endswith("noise_reduction")
            assert "--denoiser" in error["error"]["message"]
    finally:
        server.stop()
