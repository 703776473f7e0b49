"""The library and ``detect``: speech in, Realtime events and segments out."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

import openapiopenai
from openapiopenai import PCMU, Detector, TurnDetectionConfig, detect_bytes
from openapiopenai.audio import g711
from openapiopenai.cli import main
from tests.audio._data import (
    SPEECH_THEN_SILENCE,
    TWO_TURNS,
    fixture_at,
    fixture_path,
    speech_pcm,
    speech_segments,
)
from tests.sdk import validate_ga

FILE = TWO_TURNS

PUBLIC_API = {
    "PCM16_24K", "PCMA", "PCMU", "AudioFormat", "AudioFormatError", "ConfigError", "Detector", "IdFactory",
    "ModelLoadError", "OpenapiopenaiError", "ProtocolError", "ScoreRequest", "Segment", "Session",
    "SessionLimits", "SpeechModel", "StreamState", "TurnDetectionConfig", "__version__", "available_models",
    "detect_bytes", "load_model", "read_audio",
}  # fmt: skip


def test_public_api_is_pinned() -> None:
    assert set(openapiopenai.__all__) == PUBLIC_API
    for name in PUBLIC_API:
        assert hasattr(openapiopenai, name)


def test_detector_turns_cover_labelled_speech() -> None:
    detector = Detector()
    events = []
    for start in range(0, len(audio := speech_pcm(FILE)), 4800):  # 100 ms appends
        events += detector.feed(audio[start : start + 4800])
    events += detector.flush()
    for event in events:
        validate_ga(event.to_json())
    kinds = [e.type for e in events]
    labelled = speech_segments(FILE)
    assert (
        kinds.count("input_audio_buffer.speech_started")
        == kinds.count("input_audio_buffer.speech_stopped")
        == len(labelled)
    )
    segments = detector.segments()
    # every labelled second of speech lies inside a detected turn (padding and silence window excluded)
    for start, end in labelled:
        covered = sum(max(0.0, min(end, s.end_s) - max(start, s.start_s)) for s in segments)
        assert covered >= 0.8 * (end - start), (start, end, segments)
    # the first onset is within 150 ms of the labelled one
    assert abs(segments[0].start_s - labelled[0][0]) < 0.15


def test_speech_started_carries_prefix_padding_on_speech() -> None:
    detector = Detector(TurnDetectionConfig(prefix_padding_ms=300))
    detector.feed(speech_pcm(FILE))
    started = next(e for e in detector.session.turn_log if type(e).__name__ == "SpeechStarted")
    onset_ms = started.onset * 1000 // 24_000
    assert started.audio_start == max(0, started.onset - 300 * 24)
    assert onset_ms >= 300 or started.audio_start == 0


@pytest.mark.parametrize("chunk_ms", [1, 37, 3000])
def test_events_do_not_depend_on_append_size(chunk_ms: int) -> None:
    audio = speech_pcm(SPEECH_THEN_SILENCE)
    whole = [e.to_dict() for e in detect_bytes(audio, chunk_ms=100_000)]
    assert [e.to_dict() for e in detect_bytes(audio, chunk_ms=chunk_ms)] == whole
    assert any(e["type"] == "input_audio_buffer.committed" for e in whole)


def test_g711_input_covers_the_same_speech() -> None:
    """Telephony audio (8 kHz mu-law, scored by Silero's 8 kHz head) finds the same speech; a
    long pause may split a turn there that the wideband audio kept whole."""
    ulaw = g711.ulaw_encode(fixture_at(FILE, 8000))
    clean, telephony = Detector(), Detector(input_format=PCMU)
    clean.feed(speech_pcm(FILE))
    telephony.feed(ulaw)
    clean.flush()
    telephony.flush()
    for turn in clean.segments():
        overlap = sum(
            max(0.0, min(turn.end_s, t.end_s) - max(turn.start_s, t.start_s)) for t in telephony.segments()
        )
        assert overlap >= 0.8 * (turn.end_s - turn.start_s)


def test_detect_cli_prints_sdk_valid_events(capsys: pytest.CaptureFixture[str]) -> None:
    path = fixture_path(FILE)
    assert main(["detect", str(path), "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    kinds = [validate_ga(line).type for line in lines]
    assert kinds[0] == "input_audio_buffer.speech_started"
    assert "input_audio_buffer.committed" in kinds and "conversation.item.done" in kinds


def test_detect_cli_prints_segments_csv(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = fixture_path(FILE)
    assert (
        main(["detect", str(path), "--output", "segments", "--no-progress", "--silence-duration-ms", "200"])
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["file"] for r in rows} == {str(path)}
    # one row per utterance, each starting near its labelled onset and ending after it
    labelled = speech_segments(FILE)
    assert len(rows) == len(labelled)
    for row, (start, end) in zip(rows, labelled, strict=True):
        assert abs(float(row["start_s"]) - start) < 0.15
        assert float(row["end_s"]) >= end
