"""Quickstart: the official OpenAI Python SDK against a local openapiopenai server.

Streams the bundled speech clip (``hello.wav``: two sentences, 24 kHz PCM16 mono) the way a
Realtime client streams a microphone, and prints the turn events the server sends back.

    pip install "openai[realtime]"          # the client needs only the SDK
    openapiopenai serve                     # in another terminal
    python examples/quickstart.py           # or: --url http://HOST:PORT/v1 --wav other.wav

It cannot hang: the clip is followed by a second of silence (which ends the last turn), a turn
still open after that is committed explicitly, and the whole run has a time limit. No server, a
refused connection or the time limit each print one line on stderr and exit with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import wave
from pathlib import Path

from openai import AsyncOpenAI
from websockets.exceptions import InvalidStatus

CLIP = Path(__file__).with_name("hello.wav")
CHUNK_MS = 100  # audio per input_audio_buffer.append
TURN_EVENTS = (
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
)


def read_pcm16_24k(path: Path) -> bytes:
    """The clip as the bytes ``audio/pcm`` expects (PCM16 little-endian, mono, 24 kHz)."""
    with wave.open(str(path)) as clip:
        if (clip.getframerate(), clip.getsampwidth(), clip.getnchannels()) != (24_000, 2, 1):
            raise SystemExit(f"{path}: need 24 kHz 16-bit mono wav (convert it, e.g. with sox)")
        return clip.readframes(clip.getnframes())


async def main(url: str, wav: Path) -> None:
    # the key matters only if the server was started with --api-key / OPENAPIOPENAI_API_KEY
    client = AsyncOpenAI(base_url=url, api_key=os.environ.get("OPENAPIOPENAI_API_KEY", "unused"))
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(
            session={
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}},
            }
        )
        audio = read_pcm16_24k(wav) + bytes(24_000 * 2)  # + 1 s of silence: the last turn ends
        step = 24 * 2 * CHUNK_MS
        for i in range(0, len(audio), step):
            await conn.input_audio_buffer.append(audio=base64.b64encode(audio[i : i + step]).decode())

        open_turn = False
        while True:
            try:
                event = await asyncio.wait_for(conn.recv(), timeout=2.0)
            except TimeoutError:  # the server has said all it will about this audio
                if not open_turn:
                    return
                await conn.input_audio_buffer.commit()  # close a turn the silence did not end
                open_turn = False
                continue
            if event.type == "error":
                print("error:", event.error.message)
            elif event.type in TURN_EVENTS:
                at = getattr(event, "audio_start_ms", getattr(event, "audio_end_ms", None))
                where = f"at {at / 1000:.2f} s" if at is not None else ""
                print(f"{event.type:36} {where:10} {event.item_id}")
                open_turn = event.type == "input_audio_buffer.speech_started"


def run(url: str, wav: Path, timeout: float) -> int:
    """``main`` with a time limit; a user's first mistakes are one line each, not a traceback."""
    try:
        asyncio.run(asyncio.wait_for(main(url, wav), timeout))
    except TimeoutError:
        return fail(f"timed out after {timeout:g} s waiting for {url} (is it an openapiopenai server?)")
    except InvalidStatus as exc:  # the server answered the upgrade with an HTTP error
        status = exc.response.status_code
        hint = ": set OPENAPIOPENAI_API_KEY to the server's key" if status == 401 else ""
        return fail(f"{url} refused the connection with HTTP {status}{hint}")
    except OSError as exc:  # refused, unreachable, unknown host
        reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else exc.strerror or exc
        return fail(f"no server at {url}: start `openapiopenai serve` ({reason})")
    except KeyboardInterrupt:
        return 130
    return 0


def fail(message: str) -> int:
    print(f"quickstart: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/v1", help="the server's base URL")
    parser.add_argument("--wav", type=Path, default=CLIP, help="24 kHz 16-bit mono wav to stream")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds")
    args = parser.parse_args()
    sys.exit(run(args.url, args.wav, args.timeout))
