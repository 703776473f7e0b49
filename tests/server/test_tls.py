"""TLS (``--ssl-certfile``/``--ssl-keyfile``): the Python SDK over ``wss://`` with a trusted test CA.

The Node test covers the same path but skips without Node; this one always runs.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest
import trustme
from openai import AsyncOpenAI

from tests.audio._data import SPEECH_THEN_SILENCE
from tests.server._client import b64, collect, speech_pcm
from tests.server.conftest import start_server


def issue_cert(tmp_path: Path) -> tuple[str, str, str]:
    """A CA and a loopback certificate it signed, as (cert, key, ca) files."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(files[0]))
    cert.private_key_pem.write_to_path(str(files[1]))
    ca.cert_pem.write_to_path(str(files[2]))
    return str(files[0]), str(files[1]), str(files[2])


async def test_sdk_streams_a_turn_over_wss(tmp_path: Path) -> None:
    cert, key, ca = issue_cert(tmp_path)
    server = start_server(tmp_path, tls=(cert, key, ca))
    try:
        assert server.ws_url.startswith("wss://")
        context = ssl.create_default_context(cafile=ca)
        assert httpx.get(f"{server.http_url}/healthz", verify=context).json()["status"] == "ok"
        client = AsyncOpenAI(base_url=f"{server.http_url}/v1", api_key="x")  # https -> wss
        options = {"ssl": context}
        async with client.realtime.connect(
            model="gpt-realtime",
            websocket_connection_options=options,  # type: ignore[arg-type]
        ) as conn:
            assert (await collect(conn, until="session.created"))[-1]["type"] == "session.created"
            await conn.input_audio_buffer.append(audio=b64(speech_pcm(SPEECH_THEN_SILENCE)))
            events = await collect(conn, until="conversation.item.done")
        kinds = [e["type"] for e in events]
        assert kinds.index("input_audio_buffer.speech_started") < kinds.index("input_audio_buffer.committed")
        # a client that does not trust the certificate cannot connect
        with pytest.raises(ssl.SSLError):
            async with client.realtime.connect(model="gpt-realtime") as conn:
                await conn.recv()
    finally:
        server.stop()
