"""A second official client nobody here wrote: the ``openai`` npm package's realtime WebSocket
client, under Node, against our server over TLS (the Node SDK always dials ``wss://``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import trustme

from tests.audio._data import SPEECH, speech_pcm
from tests.sdk import validate_ga
from tests.server.conftest import start_server

JS_DIR = Path(__file__).resolve().parents[1] / "js"


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        reason = "Node.js is not installed: the official JS SDK compatibility test CANNOT run"
        if os.environ.get("OPENAPIOPENAI_REQUIRE_NODE"):
            pytest.fail(reason)
        pytest.skip(reason)
    if not (JS_DIR / "node_modules" / "openai").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install the pinned openai npm package (tests/js/package.json)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, check=True, timeout=300)
    return node


def test_official_node_sdk_streams_a_turn_over_tls(tmp_path: Path) -> None:
    node = node_or_skip()
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))

    pcm_file = tmp_path / "speech.pcm"
    pcm_file.write_bytes(speech_pcm(SPEECH))

    server = start_server(tmp_path, tls=(str(cert_file), str(key_file), str(ca_file)))
    try:
        done = subprocess.run(
            [node, str(JS_DIR / "realtime_client.mjs"), f"https://127.0.0.1:{server.port}/v1", str(pcm_file)],
            env={**os.environ, "NODE_EXTRA_CA_CERTS": str(ca_file)},
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        server.stop()
    assert done.returncode == 0, f"node failed:\n{done.stderr}\n{done.stdout}\nserver:\n{server.output()}"
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert not [e for e in events if e["type"] in ("__client_error__", "error")], events
    for event in events:
        validate_ga(json.dumps(event))
    kinds = [e["type"] for e in events]
    for expected in (
        "session.created",
        "session.updated",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.done",
    ):
        assert expected in kinds
    started = next(e for e in events if e["type"] == "input_audio_buffer.speech_started")
    committed = next(e for e in events if e["type"] == "input_audio_buffer.committed")
    assert started["item_id"] == committed["item_id"]
