"""Offline transcription: the Detector answers the Session's transcription requests inline."""

from __future__ import annotations

import csv
import io
import json

import pytest
import soxr

from openapiopenai import Detector
from openapiopenai.asr import WhisperTranscriber
from openapiopenai.cli import main
from tests.audio._data import LIBRISPEECH, data_file, read_audio
from tests.synth import pcm16, silence

pytest.importorskip("faster_whisper")

LOBSTER = "367-130732-0001.flac"
STILLNESS = "3005-163389-0002.flac"


@pytest.fixture(scope="module")
def transcriber() -> WhisperTranscriber:
    return WhisperTranscriber()


def wire_pcm(name: str) -> bytes:
    samples, rate = read_audio(LIBRISPEECH, name)
    return pcm16(soxr.resample(samples, rate, 24_000))


def test_detector_transcribes_each_turn_in_order(transcriber: WhisperTranscriber) -> None:
    detector = Detector(transcriber=transcriber)
    events = detector.feed(wire_pcm(LOBSTER) + pcm16(silence(1500)) + wire_pcm(STILLNESS))
    events += detector.flush()
    kinds = [e.to_dict()["type"] for e in events]
    assert kinds.count("conversation.item.input_audio_transcription.completed") == 2
    first, second = detector.segments()
    assert first.text is not None and "lobster" in first.text.lower()
    assert second.text is not None and "stillness" in second.text.lower()
    assert first.end_s < second.start_s


def test_detector_without_a_transcriber_has_no_text() -> None:
    detector = Detector()
    detector.feed(wire_pcm(LOBSTER) + pcm16(silence(1500)))
    detector.flush()
    (segment,) = detector.segments()
    assert segment.text is None


def test_detect_transcribe_prints_segments_with_text(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(data_file(LIBRISPEECH, LOBSTER))
    assert main(["detect", "--transcribe", "--output", "segments", "--no-progress", path]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and list(rows[0]) == ["file", "start_s", "end_s", "text"]
    assert "crayfish" in " ".join(r["text"] for r in rows).lower()
    assert main(["detect", "--transcribe", "--output", "json", "--no-progress", path]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines and {"file", "start_s", "end_s", "text"} == set(lines[0])
    assert "lobster" in " ".join(line["text"] for line in lines).lower()
