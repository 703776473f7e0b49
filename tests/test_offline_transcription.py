"""Offline transcription: the Detector answers the Session's transcription requests inline."""

from __future__ import annotations

import csv
import io
import json

import pytest

from openapiopenai import Detector
from openapiopenai.asr import WhisperTranscriber
from openapiopenai.cli import main
from tests.audio._data import SPEECH_THEN_SILENCE, TWO_TURNS, fixture_at, fixture_path
from tests.synth import pcm16

pytest.importorskip("faster_whisper")


@pytest.fixture(scope="module")
def transcriber() -> WhisperTranscriber:
    return WhisperTranscriber()


def wire_pcm(name: str) -> bytes:
    return pcm16(fixture_at(name, 24_000))


def test_detector_transcribes_each_turn_in_order(transcriber: WhisperTranscriber) -> None:
    detector = Detector(transcriber=transcriber)
    events = detector.feed(wire_pcm(TWO_TURNS))  # "Please turn on the kitchen lights." "And set a timer..."
    events += detector.flush()
    kinds = [e.to_dict()["type"] for e in events]
    assert kinds.count("conversation.item.input_audio_transcription.completed") == 2
    first, second = detector.segments()
    assert first.text is not None and "kitchen" in first.text.lower()
    assert second.text is not None and "timer" in second.text.lower()
    assert first.end_s < second.start_s


def test_detector_without_a_transcriber_has_no_text() -> None:
    detector = Detector()
    detector.feed(wire_pcm(SPEECH_THEN_SILENCE))
    detector.flush()
    (segment,) = detector.segments()
    assert segment.text is None


def test_detect_transcribe_prints_segments_with_text(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(fixture_path(TWO_TURNS))
    assert main(["detect", "--transcribe", "--output", "segments", "--no-progress", path]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and list(rows[0]) == ["file", "start_s", "end_s", "text"]
    assert "kitchen" in " ".join(r["text"] for r in rows).lower()
    assert main(["detect", "--transcribe", "--output", "json", "--no-progress", path]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines and {"file", "start_s", "end_s", "text"} == set(lines[0])
    assert "timer" in " ".join(line["text"] for line in lines).lower()
