"""Smart Turn v3.2 with the real model on the repository's synthetic speech: clear-cut cases only
(the int8 model is touchy near 0.5). The real-speech versions are in
``tests/evaluation/test_semantic_real_speech.py`` (they need the shared recordings).

The fixtures (``tools/make_semantic_fixtures.py``, espeak-ng) were picked with this model from
7 sentences x 4 voices x 2 speeds; cutting an espeak sentence's waveform mid-way scores ~0.99
(complete), so the unfinished clip is a phrase that stops on a function word. Scores measured
(after 0.2 / 0.5 / 0.7 / 1.2 / 1.7 / 2.2 / 2.7 / 3.7 s of silence):

- ``complete_sentence_16k.wav`` "Please turn on the kitchen lights." (en-us+f3, 160 wpm):
  0.988 0.989 0.990 0.990 0.990 0.986 0.988 0.980 -- at least the auto threshold 0.975 everywhere
- ``unfinished_sentence_16k.wav`` "So what I was thinking is that" (en-us, 160 wpm):
  0.017 0.010 0.046 0.009 0.010 0.008 0.023 0.067 -- below 0.1 everywhere
"""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest

from openapiopenai.exceptions import ModelLoadError
from openapiopenai.turns.semantic import EAGERNESS_THRESHOLD
from openapiopenai.vad.smart_turn import INSTALL_HINT, LazySmartTurnModel, SmartTurnModel, default_model_path
from tests.audio._data import COMPLETE_SENTENCE, UNFINISHED_SENTENCE, fixture_audio


@pytest.fixture(scope="module")
def model() -> SmartTurnModel:
    return SmartTurnModel()


def sentence() -> np.ndarray:
    """A complete sentence up to its last speech (16 kHz)."""
    audio, rate = fixture_audio(COMPLETE_SENTENCE)
    assert rate == 16_000
    return audio


def half_sentence() -> np.ndarray:
    """An unfinished thought, up to its last speech (16 kHz)."""
    audio, rate = fixture_audio(UNFINISHED_SENTENCE)
    assert rate == 16_000
    return audio


def with_silence(audio: np.ndarray, ms: int) -> np.ndarray:
    return np.concatenate([audio, np.zeros(ms * 16, dtype=np.float32)])


def test_a_complete_sentence_followed_by_silence_is_complete(model: SmartTurnModel) -> None:
    for ms in (200, 500, 1200):
        assert model.predict(with_silence(sentence(), ms)) >= EAGERNESS_THRESHOLD["auto"]


def test_a_sentence_cut_mid_way_is_incomplete(model: SmartTurnModel) -> None:
    for ms in (200, 500, 1200):
        assert model.predict(with_silence(half_sentence(), ms)) < 0.2


def test_a_batch_scores_each_turn_as_alone(model: SmartTurnModel) -> None:
    turns = [with_silence(sentence(), 300), with_silence(half_sentence(), 300)]
    batch = model.predict_many(turns)
    assert batch == pytest.approx([model.predict(t) for t in turns], abs=1e-5)
    assert batch[0] > 0.9 > 0.1 > batch[1]
    assert model.predict_many([]) == []


def test_the_model_file_comes_from_the_installed_pipecat_distribution() -> None:
    path = default_model_path()
    assert path.name == "smart-turn-v3.2-cpu.onnx" and path.stat().st_size > 8_000_000
    assert "pipecat" in path.parts


def test_without_the_extra_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> importlib.metadata.Distribution:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ModelLoadError, match=r"openapiopenai\[semantic\]") as info:
        SmartTurnModel()
    assert str(info.value) == INSTALL_HINT


def test_a_bad_model_file_is_a_model_load_error(tmp_path: object) -> None:
    from pathlib import Path

    bogus = Path(str(tmp_path)) / "bogus.onnx"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError):
        SmartTurnModel(model_path=bogus)
    with pytest.raises(ModelLoadError):
        SmartTurnModel(model_path=bogus.with_name("absent.onnx"))
    with pytest.raises(ValueError):
        SmartTurnModel(threads=0)


def test_the_lazy_model_loads_on_the_first_question_and_answers_the_same(model: SmartTurnModel) -> None:
    lazy = LazySmartTurnModel()
    assert lazy._model is None and lazy.model_path == default_model_path()
    turn = with_silence(sentence(), 300)
    assert lazy.predict(turn) == pytest.approx(model.predict(turn), abs=1e-6)
    assert lazy._model is not None
