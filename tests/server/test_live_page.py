"""The live page in a real browser: Debian's Chromium, driven by Playwright, with a fake
microphone that plays a speech recording (``examples/hello.wav``, two sentences, 1.2 s apart).

What a person would check: press "Start microphone" and turns appear; drop a file and its turns
appear, at the positions the offline engine finds in the same audio; a knob changes what the
server does; a server with a key refuses the page until the key is typed in.

Skipped where Chromium or Playwright is missing, except in CI (``OPENAPIOPENAI_REQUIRE_BROWSER=1``,
set by ``.ci/run``), where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from openapiopenai.offline import Detector
from tests.server.conftest import ServerProcess, start_server

ROOT = Path(__file__).resolve().parents[2]
SPEECH = ROOT / "examples" / "hello.wav"
#: a browser is slow to start and the audio plays in real time: generous, never slept on
DEADLINE_MS = 60_000
#: where to also save the screenshot (the README's docs/img/live-page.png is made this way)
SCREENSHOT_ENV = "OPENAPIOPENAI_SCREENSHOT"

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    f"--use-file-for-fake-audio-capture={SPEECH}",
]


def _missing(reason: str) -> None:
    if os.environ.get("OPENAPIOPENAI_REQUIRE_BROWSER"):
        pytest.fail(reason + " (OPENAPIOPENAI_REQUIRE_BROWSER is set)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if chromium is None:
        _missing("Chromium is not installed (apt-get install chromium): the live page test CANNOT run")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed (the test extra has it): the live page test CANNOT run")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = start_server(tmp_path_factory.mktemp("live"))
    yield running
    running.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def closed_turns(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("#turns li.turn:not(.open) .span").all_inner_texts()]


def wait_for_closed_turns(page: Any, count: int) -> None:
    page.wait_for_function(
        f"document.querySelectorAll('#turns li.turn:not(.open)').length >= {count}", timeout=DEADLINE_MS
    )


def expected_turn_texts(silence_ms: int = 500) -> list[str]:
    """What the page must list for ``hello.wav`` streamed as a file: the offline engine's turns on
    the same samples plus the page's trailing silence (max(silence, 500) + 500 ms), newest first."""
    with wave.open(str(SPEECH)) as clip:
        assert clip.getframerate() == 24_000 and clip.getsampwidth() == 2 and clip.getnchannels() == 1
        pcm = clip.readframes(clip.getnframes())
    tail_ms = max(silence_ms, 500) + 500
    detector = Detector()
    detector.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {
                    "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": silence_ms}}
                },
            },
        }
    )
    events = detector.feed(pcm + bytes(tail_ms * 48)) + detector.flush()
    starts = [e.audio_start_ms for e in events if e.type == "input_audio_buffer.speech_started"]  # type: ignore[attr-defined]
    ends = [e.audio_end_ms for e in events if e.type == "input_audio_buffer.speech_stopped"]  # type: ignore[attr-defined]
    texts = [
        f"{s / 1000:.2f} s → {e / 1000:.2f} s ({(e - s) / 1000:.2f} s)"
        for s, e in zip(starts, ends, strict=True)
    ]
    return texts[::-1]


def save_screenshot(page: Any, tmp_path: Path) -> None:
    page.screenshot(path=str(tmp_path / "live-page.png"))
    target = os.environ.get(SCREENSHOT_ENV)
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=target)


def test_microphone_speech_appears_as_turns(page: Any, page_server: ServerProcess, tmp_path: Path) -> None:
    page.goto(page_server.http_url + "/")
    page.click("#start-mic")
    # the fake microphone loops the clip: two sentences per pass, 1.2 s apart
    wait_for_closed_turns(page, 3)
    assert page.locator("#status").inner_text() == "listening to the microphone"
    for text in closed_turns(page):
        start, _, rest = text.partition(" s → ")
        end = rest.split(" s ")[0]
        assert float(end) > float(start) >= 0, text
    # the timeline advanced with the audio sent
    assert float(page.locator("#clock").inner_text().split()[0]) > 3.0
    save_screenshot(page, tmp_path)
    page.click("#stop")
    page.wait_for_function("document.querySelector('#status').textContent === 'stopped'", timeout=DEADLINE_MS)


def test_uploaded_file_gives_the_offline_engines_turns(page: Any, page_server: ServerProcess) -> None:
    page.goto(page_server.http_url + "/")
    page.set_input_files("#file", str(SPEECH))
    page.wait_for_function(
        "document.querySelector('#status').textContent.startsWith('finished')", timeout=DEADLINE_MS
    )
    wait_for_closed_turns(page, 2)
    assert closed_turns(page) == expected_turn_texts()


def test_silence_knob_is_sent_as_session_update(page: Any, page_server: ServerProcess) -> None:
    page.goto(page_server.http_url + "/")
    page.fill("#silence", "1500")  # longer than the 1.2 s between the two sentences
    page.dispatch_event("#silence", "change")
    page.set_input_files("#file", str(SPEECH))
    page.wait_for_function(
        "document.querySelector('#status').textContent.startsWith('finished')", timeout=DEADLINE_MS
    )
    wait_for_closed_turns(page, 1)
    expected = expected_turn_texts(silence_ms=1500)
    assert len(expected) == 1
    assert closed_turns(page) == expected
    assert page.locator("#events li", has_text="session.updated").count() >= 1


def record_server_events(page: Any) -> list[dict[str, Any]]:
    """Every JSON event the page's WebSockets receive, as the network saw them (not as the page
    chose to show them); filled while Playwright waits."""
    received: list[dict[str, Any]] = []

    def on_socket(ws: Any) -> None:
        ws.on("framereceived", lambda payload: received.append(json.loads(payload)))

    page.on("websocket", on_socket)
    return received


def wait_for_event(page: Any, received: list[dict[str, Any]], match: Callable[[dict[str, Any]], bool]) -> Any:
    deadline = time.monotonic() + DEADLINE_MS / 1000
    while time.monotonic() < deadline:
        found = [event for event in received if match(event)]
        if found:
            return found[0]
        page.wait_for_timeout(100)  # lets Playwright deliver the frames that arrived meanwhile
    pytest.fail(f"no such event; received: {[e.get('type') for e in received]}")


def test_semantic_vad_and_its_eagerness_reach_the_server(page: Any, page_server: ServerProcess) -> None:
    """The type and eagerness selects go out as GA ``semantic_vad`` session.updates, and the
    server accepts them: its session.updated echoes the eagerness chosen, each time, and no
    error comes back."""
    received = record_server_events(page)
    page.goto(page_server.http_url + "/")
    page.click("#start-mic")
    page.wait_for_function(
        "document.querySelector('#status').textContent.startsWith('listening')", timeout=DEADLINE_MS
    )

    def echoed(eagerness: str) -> Callable[[dict[str, Any]], bool]:
        def match(event: dict[str, Any]) -> bool:
            if event.get("type") != "session.updated":
                return False
            detection = event["session"]["audio"]["input"]["turn_detection"]
            return bool(detection["type"] == "semantic_vad" and detection.get("eagerness") == eagerness)

        return match

    page.select_option("#vad-type", "semantic_vad")
    wait_for_event(page, received, echoed("auto"))  # the eagerness select's first choice
    page.select_option("#eagerness", "high")
    wait_for_event(page, received, echoed("high"))
    page.select_option("#eagerness", "low")
    wait_for_event(page, received, echoed("low"))
    assert [e for e in received if e.get("type") == "error"] == []
    assert page.locator("#vad-type").input_value() == "semantic_vad"
    assert page.locator("#eagerness").input_value() == "low"
    assert "error" not in page.locator("#status").inner_text()


def test_uploaded_file_is_transcribed_on_the_page(page: Any, page_server: ServerProcess) -> None:
    """A transcription model typed into the knob turns transcription on (the server runs the
    bundled faster-whisper tiny.en): each turn of the uploaded clip gets its words on the page."""
    pytest.importorskip("faster_whisper", reason="the transcribe extra is not installed")
    received = record_server_events(page)
    page.goto(page_server.http_url + "/")
    page.fill("#transcription", "tiny.en")
    page.dispatch_event("#transcription", "change")  # sent with the session.update on connect
    page.set_input_files("#file", str(SPEECH))
    page.wait_for_function(
        "[...document.querySelectorAll('#turns li.turn .transcript')]"
        ".filter(t => t.textContent && !t.textContent.startsWith('(')).length >= 2",
        timeout=DEADLINE_MS * 2,  # the model loads at the first item, on a shared CPU
    )
    updated = wait_for_event(page, received, lambda e: e.get("type") == "session.updated")
    assert updated["session"]["audio"]["input"]["transcription"]["model"] == "tiny.en"
    transcripts = page.locator("#turns li.turn .transcript").all_inner_texts()[::-1]  # oldest first
    assert len(transcripts) == 2, transcripts
    assert "hello" in transcripts[0].lower(), transcripts
    assert "weather" in transcripts[1].lower() and "tomorrow" in transcripts[1].lower(), transcripts


#: records, in the page, when each input_audio_buffer.append leaves and how much audio it carries
APPEND_CLOCK = """
(() => {
  window.appendLog = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (typeof data === "string" && data.includes('"input_audio_buffer.append"')) {
      window.appendLog.push([performance.now(), atob(JSON.parse(data).audio).length / 2]);
    }
    return send.call(this, data);
  };
})();
"""


def test_uploaded_file_streams_at_real_time_speed(page: Any, page_server: ServerProcess) -> None:
    """A file is streamed as a microphone would be: its appends span at least the audio they
    carry (less one chunk). Only a lower bound: a slow machine may take longer, never less."""
    page.add_init_script(APPEND_CLOCK)
    page.goto(page_server.http_url + "/")
    page.set_input_files("#file", str(SPEECH))
    page.wait_for_function(
        "document.querySelector('#status').textContent.startsWith('finished')", timeout=DEADLINE_MS
    )
    log = page.evaluate("window.appendLog")
    samples = sum(n for _, n in log)
    audio_ms = samples * 1000 / 24_000
    last_chunk_ms = log[-1][1] * 1000 / 24_000
    span_ms = log[-1][0] - log[0][0]
    with wave.open(str(SPEECH)) as clip:
        clip_ms = clip.getnframes() * 1000 / clip.getframerate()
    assert audio_ms >= clip_ms  # the whole clip went out (and the trailing silence)
    assert span_ms >= audio_ms - last_chunk_ms - 5, (span_ms, audio_ms)  # 5 ms: timer granularity


def test_page_passes_the_api_key_as_a_subprotocol(browser: Any, tmp_path: Path) -> None:
    server = start_server(tmp_path, "--api-key", "sesame")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.http_url + "/")
        page.click("#start-mic")
        page.wait_for_function(
            "document.querySelector('#status').textContent.startsWith('could not connect')",
            timeout=DEADLINE_MS,
        )
        page.fill("#api-key", "sesame")
        page.click("#start-mic")
        wait_for_closed_turns(page, 1)
        assert server.metric("openapiopenai_sessions_refused_total") == 1
    finally:
        context.close()
        server.stop()


def test_transcription_events_fill_in_their_turn(page: Any, page_server: ServerProcess) -> None:
    """The page shows transcripts however they arrive (deltas, then the completed text, or a
    failure) on the turn with the same item_id; fed the events directly, as a server that
    transcribes would send them."""
    page.goto(page_server.http_url + "/")
    feed = "events => events.forEach(handleEvent)"
    page.evaluate(
        feed,
        [
            {"type": "input_audio_buffer.speech_started", "item_id": "item_a", "audio_start_ms": 100},
            {"type": "input_audio_buffer.speech_stopped", "item_id": "item_a", "audio_end_ms": 1900},
            {
                "type": "conversation.item.input_audio_transcription.delta",
                "item_id": "item_a",
                "delta": "Hel",
            },
            {"type": "conversation.item.input_audio_transcription.delta", "item_id": "item_a", "delta": "lo"},
        ],
    )
    turn = page.locator('#turns li[data-item-id="item_a"]')
    assert turn.locator(".transcript").inner_text() == "Hello"
    assert turn.locator(".span").inner_text() == "0.10 s → 1.90 s (1.80 s)"
    page.evaluate(
        feed,
        [
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "item_a",
                "transcript": "Hello there.",
            },
            {
                "type": "conversation.item.input_audio_transcription.failed",
                "item_id": "item_b",
                "error": {"message": "model unavailable"},
            },
        ],
    )
    assert turn.locator(".transcript").inner_text() == "Hello there."
    failed = page.locator('#turns li[data-item-id="item_b"] .transcript').inner_text()
    assert failed == "(transcription failed: model unavailable)"


def test_uploaded_file_at_another_rate_in_stereo_is_resampled_and_mixed(
    page: Any, page_server: ServerProcess, tmp_path: Path
) -> None:
    import numpy as np
    import soundfile
    import soxr

    samples, rate = soundfile.read(str(SPEECH), dtype="float32")
    resampled = soxr.resample(samples, rate, 44_100)
    stereo = tmp_path / "hello-44k-stereo.wav"
    soundfile.write(str(stereo), np.stack([resampled, 0.5 * resampled], axis=1), 44_100)
    page.goto(page_server.http_url + "/")
    page.set_input_files("#file", str(stereo))
    page.wait_for_function(
        "document.querySelector('#status').textContent.startsWith('finished')", timeout=DEADLINE_MS
    )
    got = closed_turns(page)
    want = expected_turn_texts()
    assert len(got) == len(want) == 2
    for g, w in zip(got, want, strict=True):  # same turns within 100 ms after two resamplings
        g_start, g_end = (float(x) for x in g.split(" s (")[0].replace(" s", "").split(" → "))
        w_start, w_end = (float(x) for x in w.split(" s (")[0].replace(" s", "").split(" → "))
        assert abs(g_start - w_start) <= 0.1 and abs(g_end - w_end) <= 0.1, (g, w)
