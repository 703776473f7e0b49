"""semantic_vad end to end through the offline driver, with the real Smart Turn model on the
repository's synthetic speech (``tools/make_semantic_fixtures.py``; the scores that make these
cases clear-cut are in ``tests/vad/test_smart_turn.py``). The same checks on real read speech are in
``tests/evaluation/test_semantic_real_speech.py``.

Measured: the complete sentence's turn ends 287 ms after its last sample (server_vad: 563 ms);
the unfinished one waits the whole maximum (auto 4079 ms, high 2079 ms)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from openapiopenai import Detector
from openapiopenai.audio.formats import PCM16_24K, encode
from openapiopenai.turns.config import SemanticVadConfig
from tests.audio._data import COMPLETE_SENTENCE, SENTENCE_REST, UNFINISHED_SENTENCE, fixture_at
from tests.synth import RATE, silence


def speech(name: str) -> np.ndarray:
    """A fixture at 24 kHz; its speech runs to the end of the file."""
    return fixture_at(name, RATE)


def turns(config: SemanticVadConfig | None, *parts: np.ndarray) -> list[dict[str, Any]]:
    """The speech_started/stopped events of ``parts`` (24 kHz) streamed through the offline driver."""
    events = Detector(config).feed(encode(PCM16_24K, np.concatenate(parts)))
    dicts = [e.to_dict() for e in events]
    return [e for e in dicts if e["type"].startswith("input_audio_buffer.speech")]


def stop_ms(events: list[dict[str, Any]]) -> list[int]:
    return [e["audio_end_ms"] for e in events if e["type"] == "input_audio_buffer.speech_stopped"]


def test_a_complete_sentence_ends_sooner_than_the_silence_window() -> None:
    sentence = speech(COMPLETE_SENTENCE)
    end_ms = len(sentence) * 1000 // RATE
    (semantic,) = stop_ms(turns(SemanticVadConfig(), sentence, silence(5000)))
    (server,) = stop_ms(turns(None, sentence, silence(5000)))
    assert semantic - end_ms < 400 and semantic < server


def test_a_sentence_cut_mid_way_waits_for_more() -> None:
    cut = speech(UNFINISHED_SENTENCE)
    end_ms = len(cut) * 1000 // RATE
    (semantic,) = stop_ms(turns(SemanticVadConfig(eagerness="auto"), cut, silence(6000)))
    assert semantic - end_ms > 2000  # asked, told "not yet", and kept waiting
    (patient,) = stop_ms(turns(SemanticVadConfig(eagerness="high"), cut, silence(6000)))
    assert patient - end_ms <= 2000 + 100  # never past high's maximum wait (2 s, plus a frame)


def test_speech_resuming_after_a_mid_sentence_pause_continues_the_turn() -> None:
    parts = (speech(UNFINISHED_SENTENCE), silence(1200), speech(SENTENCE_REST), silence(5000))
    semantic = turns(SemanticVadConfig(), *parts)
    server = turns(None, *parts)
    assert [e["type"] for e in semantic].count("input_audio_buffer.speech_started") == 1
    assert len(stop_ms(server)) >= 2  # server_vad cut the speaker off (in the pause, at least)


@pytest.mark.parametrize("eagerness", ["low", "medium", "high", "auto"])
def test_every_eagerness_is_accepted_and_ends_the_turn(eagerness: str) -> None:
    events = turns(SemanticVadConfig(eagerness=eagerness), speech(COMPLETE_SENTENCE), silence(9000))  # type: ignore[arg-type]
    assert [e["type"] for e in events] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    ]
