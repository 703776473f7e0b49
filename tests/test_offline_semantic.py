"""semantic_vad end to end through the offline driver, with the real Smart Turn model and real speech."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from openapiopenai import Detector
from openapiopenai.audio.formats import PCM16_24K, encode
from openapiopenai.offline import read_audio
from openapiopenai.turns.config import SemanticVadConfig
from tests._librispeech import FOLDER, libri_span
from tests.audio._data import shared_dataset

RATE = 24_000


def speech(name: str, *, half: bool = False) -> np.ndarray:
    """A sentence up to its last speech (or cut half-way through it), at 24 kHz."""
    audio = read_audio(shared_dataset(FOLDER) / name, RATE)
    start_s, end_s = libri_span(name)
    end_s = (start_s + end_s) / 2 if half else end_s
    return audio[: int(end_s * RATE)]


def silence(ms: int) -> np.ndarray:
    return np.zeros(ms * RATE // 1000, dtype=np.float32)


def turns(config: SemanticVadConfig | None, *parts: np.ndarray) -> list[dict[str, Any]]:
    detector = Detector(config)
    events = detector.feed(encode(PCM16_24K, np.concatenate(parts)))
    return [e.to_dict() for e in events if e.type.startswith("input_audio_buffer.speech")]


def stop_ms(events: list[dict[str, Any]]) -> list[int]:
    return [e["audio_end_ms"] for e in events if e["type"] == "input_audio_buffer.speech_stopped"]


def test_a_complete_sentence_ends_sooner_than_the_silence_window() -> None:
    sentence = speech("19-198-0002.flac")
    end_ms = len(sentence) * 1000 // RATE
    (semantic,) = stop_ms(turns(SemanticVadConfig(), sentence, silence(5000)))
    (server,) = stop_ms(turns(None, sentence, silence(5000)))
    assert semantic - end_ms < 400 and semantic < server


def test_a_sentence_cut_mid_way_waits_for_more() -> None:
    cut = speech("1688-142285-0004.flac", half=True)
    end_ms = len(cut) * 1000 // RATE
    (semantic,) = stop_ms(turns(SemanticVadConfig(eagerness="auto"), cut, silence(6000)))
    assert semantic - end_ms > 2000  # asked, told "not yet", and kept waiting
    (patient,) = stop_ms(turns(SemanticVadConfig(eagerness="high"), cut, silence(6000)))
    assert patient - end_ms <= 2000 + 100  # never past high's maximum wait (2 s, plus a frame)


def test_speech_resuming_after_a_mid_sentence_pause_continues_the_turn() -> None:
    name = "2414-128291-0004.flac"
    whole = speech(name)
    half = speech(name, half=True)
    parts = (half, silence(1200), whole[len(half) :], silence(5000))
    semantic = turns(SemanticVadConfig(), *parts)
    server = turns(None, *parts)
    assert [e["type"] for e in semantic].count("input_audio_buffer.speech_started") == 1
    assert len(stop_ms(server)) >= 2  # server_vad cut the speaker off (in the pause, at least)


@pytest.mark.parametrize("eagerness", ["low", "medium", "high", "auto"])
def test_every_eagerness_is_accepted_and_ends_the_turn(eagerness: str) -> None:
    events = turns(SemanticVadConfig(eagerness=eagerness), speech("19-198-0002.flac"), silence(9000))  # type: ignore[arg-type]
    assert [e["type"] for e in events] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    ]
