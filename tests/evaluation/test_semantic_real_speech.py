"""semantic_vad with the real Smart Turn model on real read speech (shared LibriSpeech recordings;
these skip without them, and fail when ``OPENAPIOPENAI_REQUIRE_DATA`` is set, as in CI).

The same checks on the repository's synthetic speech, which run everywhere, are in
``tests/vad/test_smart_turn.py`` and ``tests/test_offline_semantic.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from openapiopenai.offline import read_audio
from openapiopenai.turns.config import SemanticVadConfig
from openapiopenai.turns.semantic import EAGERNESS_THRESHOLD
from openapiopenai.vad.smart_turn import SmartTurnModel
from tests._librispeech import FOLDER, libri_audio, libri_span
from tests.audio._data import shared_dataset
from tests.synth import RATE, silence
from tests.test_offline_semantic import stop_ms, turns

COMPLETE = "19-198-0002.flac"


@pytest.fixture(scope="module")
def model() -> SmartTurnModel:
    return SmartTurnModel()


# --- the model alone, 16 kHz ---------------------------------------------------------------


def sentence_16k(name: str) -> np.ndarray:
    """The file's audio up to its last speech (16 kHz)."""
    audio, rate = libri_audio(name)
    assert rate == 16_000
    _, end_s = libri_span(name)
    return audio[: int(end_s * rate)]


def half_sentence_16k(name: str = "1688-142285-0000.flac") -> np.ndarray:
    """Cut half-way through the speech (the middle of a clause in this file)."""
    audio, rate = libri_audio(name)
    start_s, end_s = libri_span(name)
    return audio[: int((start_s + end_s) / 2 * rate)]


def with_silence(audio: np.ndarray, ms: int) -> np.ndarray:
    return np.concatenate([audio, np.zeros(ms * 16, dtype=np.float32)])


def test_the_model_finds_a_real_complete_sentence_complete(model: SmartTurnModel) -> None:
    assert model.predict(with_silence(sentence_16k(COMPLETE), 500)) >= EAGERNESS_THRESHOLD["auto"]


def test_the_model_finds_a_real_sentence_cut_mid_way_incomplete(model: SmartTurnModel) -> None:
    assert model.predict(with_silence(half_sentence_16k(), 500)) < 0.2


def test_a_batch_of_real_turns_scores_each_as_alone(model: SmartTurnModel) -> None:
    turns = [with_silence(sentence_16k(COMPLETE), 300), with_silence(half_sentence_16k(), 300)]
    batch = model.predict_many(turns)
    assert batch == pytest.approx([model.predict(t) for t in turns], abs=1e-5)
    assert batch[0] > 0.9 > 0.1 > batch[1]


# --- through the offline driver, 24 kHz ----------------------------------------------------


def speech(name: str, *, half: bool = False) -> np.ndarray:
    """A sentence up to its last speech (or cut half-way through it), at 24 kHz."""
    audio = read_audio(shared_dataset(FOLDER) / name, RATE)
    start_s, end_s = libri_span(name)
    end_s = (start_s + end_s) / 2 if half else end_s
    return audio[: int(end_s * RATE)]


def test_a_real_complete_sentence_ends_sooner_than_the_silence_window() -> None:
    sentence = speech(COMPLETE)
    end_ms = len(sentence) * 1000 // RATE
    (semantic,) = stop_ms(turns(SemanticVadConfig(), sentence, silence(5000)))
    (server,) = stop_ms(turns(None, sentence, silence(5000)))
    assert semantic - end_ms < 400 and semantic < server


def test_a_real_sentence_cut_mid_way_waits_for_more() -> None:
    cut = speech("1688-142285-0004.flac", half=True)
    end_ms = len(cut) * 1000 // RATE
    (semantic,) = stop_ms(turns(SemanticVadConfig(eagerness="auto"), cut, silence(6000)))
    assert semantic - end_ms > 2000  # asked, told "not yet", and kept waiting
    (patient,) = stop_ms(turns(SemanticVadConfig(eagerness="high"), cut, silence(6000)))
    assert patient - end_ms <= 2000 + 100  # never past high's maximum wait (2 s, plus a frame)


def test_real_speech_resuming_after_a_mid_sentence_pause_continues_the_turn() -> None:
    name = "2414-128291-0004.flac"
    whole = speech(name)
    half = speech(name, half=True)
    parts = (half, silence(1200), whole[len(half) :], silence(5000))
    semantic = turns(SemanticVadConfig(), *parts)
    server = turns(None, *parts)
    assert [e["type"] for e in semantic].count("input_audio_buffer.speech_started") == 1
    assert len(stop_ms(server)) >= 2  # server_vad cut the speaker off (in the pause, at least)
