"""Smart Turn v3.2 on real speech: clear-cut cases only (the int8 model is touchy near 0.5)."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest

from openapiopenai.exceptions import ModelLoadError
from openapiopenai.turns.semantic import EAGERNESS_THRESHOLD
from openapiopenai.vad import smart_turn
from openapiopenai.vad.smart_turn import INSTALL_HINT, SmartTurnModel, default_model_path
from tests._librispeech import libri_audio, libri_span


@pytest.fixture(scope="module")
def model() -> SmartTurnModel:
    return SmartTurnModel()


def sentence(name: str) -> np.ndarray:
    """The file's audio up to its last speech (16 kHz)."""
    audio, rate = libri_audio(name)
    assert rate == 16_000
    _, end_s = libri_span(name)
    return audio[: int(end_s * rate)]


def half_sentence(name: str = "1688-142285-0000.flac") -> np.ndarray:
    """Cut half-way through the speech (the middle of a clause in this file)."""
    audio, rate = libri_audio(name)
    start_s, end_s = libri_span(name)
    return audio[: int((start_s + end_s) / 2 * rate)]


def with_silence(audio: np.ndarray, ms: int) -> np.ndarray:
    return np.concatenate([audio, np.zeros(ms * 16, dtype=np.float32)])


def test_a_complete_sentence_followed_by_silence_is_complete(model: SmartTurnModel) -> None:
    audio = sentence("19-198-0002.flac")
    assert model.predict(with_silence(audio, 500)) >= EAGERNESS_THRESHOLD["auto"]


def test_a_sentence_cut_mid_way_is_incomplete(model: SmartTurnModel) -> None:
    assert model.predict(with_silence(half_sentence(), 500)) < 0.2


def test_a_batch_scores_each_turn_as_alone(model: SmartTurnModel) -> None:
    turns = [with_silence(sentence("19-198-0002.flac"), 300), with_silence(half_sentence(), 300)]
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

    monkeypatch.setattr(smart_turn.importlib.metadata, "distribution", missing)
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
