"""Every registered backend keeps the SpeechModel contract (one test, all models)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from openapiopenai.vad import SpeechModel, StreamState, available_models, load_model
from tests.audio._data import TWO_TURNS, fixture_audio, speech_mask

RATE = 16_000
SPEECH_FILE = TWO_TURNS  # two utterances and the pauses around them


@pytest.fixture(scope="module", params=available_models())
def model(request: pytest.FixtureRequest) -> SpeechModel:
    return load_model(request.param)


@pytest.fixture(scope="module")
def audio() -> npt.NDArray[np.float32]:
    samples, rate = fixture_audio(SPEECH_FILE)
    assert rate == RATE
    return samples


def frames_of(samples: np.ndarray, frame: int) -> np.ndarray:
    n = len(samples) // frame
    return np.ascontiguousarray(samples[: n * frame].reshape(n, frame))


def sequential(model: SpeechModel, frames: np.ndarray, state: StreamState | None = None) -> np.ndarray:
    state = state if state is not None else model.new_state(RATE)
    return np.concatenate([model.score(frames[i : i + 1], [state], RATE) for i in range(len(frames))])


def test_model_implements_the_protocol(model: SpeechModel) -> None:
    assert isinstance(model, SpeechModel)
    assert model.name in available_models()
    assert RATE in model.supported_rates()
    for rate in model.supported_rates():
        assert model.frame_samples(rate) > 0
        assert isinstance(model.new_state(rate), StreamState)


def test_scores_are_probabilities_one_per_row(model: SpeechModel, audio: np.ndarray) -> None:
    frames = frames_of(audio, model.frame_samples(RATE))[:8]
    states = [model.new_state(RATE) for _ in range(len(frames))]
    scores = model.score(frames, states, RATE)
    assert scores.shape == (8,) and scores.dtype == np.float32
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    assert model.score(frames[:0], [], RATE).shape == (0,)


def test_batched_scores_equal_per_stream_sequential_scores(model: SpeechModel, audio: np.ndarray) -> None:
    frame = model.frame_samples(RATE)
    streams = [frames_of(audio[offset:], frame)[:40] for offset in (0, 16_000, 48_000)]
    streams.append(np.zeros_like(streams[0]))
    expected = np.stack([sequential(model, frames) for frames in streams], axis=1)
    states = [model.new_state(RATE) for _ in streams]
    batched = np.stack([model.score(np.stack([f[i] for f in streams]), states, RATE) for i in range(40)])
    np.testing.assert_allclose(batched, expected, atol=1e-5, rtol=0)


def test_streams_do_not_share_state(model: SpeechModel, audio: np.ndarray) -> None:
    frames = frames_of(audio, model.frame_samples(RATE))[:40]
    neighbours = (frames[::-1], np.zeros_like(frames))
    results = []
    for other in neighbours:
        states = [model.new_state(RATE), model.new_state(RATE)]
        results.append(
            np.array([model.score(np.stack([frames[i], other[i]]), states, RATE)[0] for i in range(40)])
        )
    np.testing.assert_allclose(results[0], results[1], atol=1e-5, rtol=0)


def test_reset_returns_a_state_to_new(model: SpeechModel, audio: np.ndarray) -> None:
    frames = frames_of(audio, model.frame_samples(RATE))[:30]
    state = model.new_state(RATE)
    sequential(model, frames[::-1], state)
    state.reset()
    np.testing.assert_allclose(sequential(model, frames, state), sequential(model, frames), atol=1e-6, rtol=0)


def test_speech_scores_clearly_higher_than_non_speech(model: SpeechModel, audio: np.ndarray) -> None:
    frame = model.frame_samples(RATE)
    frames = frames_of(audio, frame)
    scores = sequential(model, frames)
    speech = speech_mask(SPEECH_FILE, len(frames), frame, RATE)
    assert speech.any() and (~speech).any()
    assert scores[speech].mean() - scores[~speech].mean() > 0.3


def test_digital_silence_is_not_speech(model: SpeechModel) -> None:
    frames = np.zeros((20, model.frame_samples(RATE)), dtype=np.float32)
    assert sequential(model, frames).max() < 0.5


def test_mismatched_states_or_shapes_are_refused(model: SpeechModel) -> None:
    frame = model.frame_samples(RATE)
    with pytest.raises(ValueError):
        model.score(np.zeros((2, frame), np.float32), [model.new_state(RATE)], RATE)
    with pytest.raises(ValueError):
        model.score(np.zeros((1, frame + 1), np.float32), [model.new_state(RATE)], RATE)
