"""Transcription: the official OpenAI Python SDK in a transcription session on a local server.

Streams the bundled speech clip (``hello.wav``: two sentences, 24 kHz PCM16 mono) the way a
client streams a microphone, in a transcription session (turn detection + transcripts, no
responses), and prints the transcript deltas as they arrive and each turn's final transcript.

    pip install "openai[realtime]"                  # the client needs only the SDK
    pip install 'openapiopenai[transcribe]'         # the server needs the transcription extra
    openapiopenai serve                             # in another terminal
    python examples/transcribe.py                   # or: --url http://HOST:PORT/v1 --wav other.wav

It ends on its own: after the clip, a second of silence ends the last turn, a turn still open
after that is committed explicitly, and it returns once every committed turn has its
``completed`` (or ``failed``) event and the server has had nothing more to say for 2 s; the
whole run has a time limit (``--timeout``). No server: one line on stderr, exit status 1.
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

CLIP = Path(__file__).with_name("hello.wav")
CHUNK_MS = 100  # audio per input_audio_buffer.append


def read_pcm16_24k(path: Path) -> bytes:
    """The clip as the bytes ``audio/pcm`` expects (PCM16 little-endian, mono, 24 kHz)."""
    with wave.open(str(path)) as clip:
        if (clip.getframerate(), clip.getsampwidth(), clip.getnchannels()) != (24_000, 2, 1):
            raise SystemExit(f"{path}: need 24 kHz 16-bit mono wav (convert it, e.g. with sox)")
        return bytes(clip.readframes(clip.getnframes()))


async def main(url: str, wav: Path) -> None:
    # the key matters only if the server was started with --api-key / OPENAPIOPENAI_API_KEY
    client = AsyncOpenAI(base_url=url, api_key=os.environ.get("OPENAPIOPENAI_API_KEY", "unused"))
    async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
        await conn.session.update(
            session={
                "type": "transcription",
                "audio": {
                    "input": {
                        # any model name is accepted; the server runs its configured model
                        "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
                    }
                },
            }
        )
        audio = read_pcm16_24k(wav) + bytes(24_000 * 2)  # + 1 s of silence: the last turn ends
        step = 24 * 2 * CHUNK_MS
        for i in range(0, len(audio), step):
            await conn.input_audio_buffer.append(audio=base64.b64encode(audio[i : i + step]).decode())

        open_turn = False  # speech started, not yet committed
        waiting: list[str] = []  # committed items without their completed/failed yet
        while True:
            try:
                event = await asyncio.wait_for(conn.recv(), timeout=2.0)
            except TimeoutError:
                if open_turn:  # a turn the silence did not end: commit it, then wait for its text
                    await conn.input_audio_buffer.commit()
                    open_turn = False
                    continue
                if not waiting:  # every turn is transcribed and nothing more is coming
                    return
                continue  # a turn is still being transcribed
            if event.type == "error":
                print("error:", event.error.message)
            elif event.type == "input_audio_buffer.speech_started":
                open_turn = True
            elif event.type == "input_audio_buffer.committed":
                open_turn = False
                waiting.append(event.item_id)
            elif event.type == "conversation.item.input_audio_transcription.delta":
                print(event.delta, end="", flush=True)
            elif event.type == "conversation.item.input_audio_transcription.completed":
                print(f"\n[{event.item_id}] {event.transcript}")
                waiting.remove(event.item_id)
            elif event.type == "conversation.item.input_audio_transcription.failed":
                print(f"\n[{event.item_id}] failed: {event.error.message}")
                waiting.remove(event.item_id)


def run(url: str, wav: Path, timeout: float) -> int:
    try:
        asyncio.run(asyncio.wait_for(main(url, wav), timeout))
    except TimeoutError:
        print(f"transcribe: no complete transcript within {timeout:.0f} s", file=sys.stderr)
        return 1
    except OSError as exc:  # refused, unreachable, unknown host
        reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else exc.strerror or exc
        print(f"transcribe: no server at {url}: start `openapiopenai serve` ({reason})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/v1", help="the server's base URL")
    parser.add_argument("--wav", type=Path, default=CLIP, help="24 kHz 16-bit mono wav to stream")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds")
    args = parser.parse_args()
    raise SystemExit(run(args.url, args.wav, args.timeout))
