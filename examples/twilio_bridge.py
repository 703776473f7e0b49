"""A Twilio Media Streams bridge: phone calls in, turn events out.

Twilio's ``<Connect><Stream url="wss://YOUR-HOST/media"/>`` opens a WebSocket to this bridge and
sends JSON messages: ``connected``, ``start`` (call and stream ids, ``audio/x-mulaw`` at 8 kHz),
then one ``media`` message per 20 ms of caller audio (base64 mu-law) and finally ``stop``. For
each call the bridge opens a Realtime session on openapiopenai with ``audio/pcmu`` input, so the
caller's bytes are forwarded exactly as they arrive (no transcoding), prints the turn events and,
when the caller starts speaking, sends Twilio a ``clear`` message: the usual barge-in, which
stops whatever the bot was playing to the caller.

    pip install "websockets>=13"
    openapiopenai serve                                     # the turn detector
    python examples/twilio_bridge.py --port 8765            # put a TLS proxy in front for Twilio
    # options: --server ws://HOST:PORT/v1/realtime, --api-key KEY (or OPENAPIOPENAI_API_KEY)

Only ``websockets`` is needed; nothing here talks to Twilio's REST API.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

#: one second of mu-law silence (0xFF is zero), base64 as in a media payload
SILENCE_1S = base64.b64encode(b"\xff" * 8000).decode()
TURN_EVENTS = (
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
)
SESSION = {
    "type": "session.update",
    "session": {
        "type": "realtime",
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},  # Twilio's mu-law 8 kHz, as it arrives
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
            }
        },
    },
}


@dataclass
class Call:
    """What the bridge knows about one call."""

    sid: str = "?"
    stream: str = ""
    speaking: bool = False
    last_event: float = field(default_factory=time.monotonic)


def say(*parts: object) -> None:
    print(*parts, flush=True)


async def pump_turn_events(realtime: ClientConnection, twilio: ServerConnection, call: Call) -> None:
    """Realtime events -> printed lines, and a Twilio ``clear`` when the caller starts speaking."""
    async for message in realtime:
        event = json.loads(message)
        kind = event["type"]
        call.last_event = time.monotonic()
        if kind == "input_audio_buffer.speech_started":
            call.speaking = True
        elif kind in ("input_audio_buffer.speech_stopped", "input_audio_buffer.committed"):
            call.speaking = False
        if kind == "error":
            say(call.sid, "error", event["error"].get("code"), event["error"].get("message"))
        elif kind in TURN_EVENTS:
            at = event.get("audio_start_ms", event.get("audio_end_ms"))
            say(call.sid, kind, "" if at is None else f"{at}ms", event["item_id"])
            if kind == "input_audio_buffer.speech_started" and call.stream:
                await twilio.send(json.dumps({"event": "clear", "streamSid": call.stream}))


async def handle_call(twilio: ServerConnection, server_url: str, api_key: str | None) -> None:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    call = Call()
    async with connect(server_url, additional_headers=headers) as realtime:
        await realtime.send(json.dumps(SESSION))
        events = asyncio.create_task(pump_turn_events(realtime, twilio, call))
        try:
            async for raw in twilio:
                message: dict[str, Any] = json.loads(raw)
                kind = message.get("event")
                if kind == "start":
                    start = message["start"]
                    call.sid, call.stream = start.get("callSid", "?"), message.get("streamSid", "")
                    fmt = start.get("mediaFormat", {})
                    say(call.sid, "call started", fmt.get("encoding"), fmt.get("sampleRate"))
                elif kind == "media" and message["media"].get("track", "inbound") == "inbound":
                    # the payload is already base64 mu-law: forward it untouched
                    append = {"type": "input_audio_buffer.append", "audio": message["media"]["payload"]}
                    await realtime.send(json.dumps(append))
                elif kind == "stop":
                    break
            # the caller hung up: a second of silence lets a turn in progress end normally; then
            # wait until the server has been quiet for a second (at most 5 s)
            await realtime.send(json.dumps({"type": "input_audio_buffer.append", "audio": SILENCE_1S}))
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                if time.monotonic() - call.last_event > 1.0 and not call.speaking:
                    break
                await asyncio.sleep(0.1)
        finally:
            events.cancel()
    say(call.sid, "call ended")


async def main(host: str, port: int, server_url: str, api_key: str | None) -> None:
    async def handler(twilio: ServerConnection) -> None:
        await handle_call(twilio, server_url, api_key)

    async with serve(handler, host, port) as listener:
        bound = next(iter(listener.sockets)).getsockname()
        say(f"bridge listening on ws://{bound[0]}:{bound[1]}/ -> {server_url}")
        await asyncio.Future()  # until interrupted


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port Twilio connects to (default: 8765)")
    parser.add_argument(
        "--server",
        default="ws://127.0.0.1:8000/v1/realtime",
        help="openapiopenai's Realtime URL (default: ws://127.0.0.1:8000/v1/realtime)",
    )
    parser.add_argument(
        "--api-key", default=os.environ.get("OPENAPIOPENAI_API_KEY"), help="if the server needs one"
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.host, args.port, args.server, args.api_key))
