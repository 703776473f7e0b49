from __future__ import annotations

import numpy as np
import pytest

from openapiopenai.vad.energy import EnergyModel, EnergyState
from openapiopenai.vad.webrtc import WebRtcModel
from tests.audio._data import SPEECH_8K, fixture_audio, speech_mask


def tone_frames(n: int, frame: int, amplitude: float, rate: int = 16_000) -> np.ndarray:
    t = np.arange(n * frame) / rate
    return (amplitude * np.sin(2 * np.pi * 300 * t)).astype(np.float32).reshape(n, frame)


def test_energy_scores_half_exactly_margin_above_the_floor() -> None:
    model = EnergyModel(margin_db=10.0, initial_floor_dbfs=-60.0)
    state = model.new_state(16_000)
    square = np.tile(np.array([1.0, -1.0], np.float32), 80) * 10 ** (-50 / 20)  # -50 dBFS
    assert model.score(square[None], [state], 16_000)[0] == pytest.approx(0.5)


def test_energy_floor_falls_at_once_and_rises_slowly() -> None:
    model = EnergyModel(rise_db_per_s=3.0)
    state = model.new_state(16_000)
    assert isinstance(state, EnergyState)
    model.score(tone_frames(1, 160, 10 ** (-65 / 20) * np.sqrt(2)), [state], 16_000)
    assert state.floor_dbfs == pytest.approx(-65.0, abs=0.1)
    loud = tone_frames(100, 160, 0.3)  # one second of a loud tone
    scores = np.concatenate([model.score(f[None], [state], 16_000) for f in loud])
    assert state.floor_dbfs == pytest.approx(-62.0, abs=0.1)
    assert scores.min() > 0.99
    state.reset()
    assert state.floor_dbfs == -60.0


def test_energy_floor_never_drops_below_its_minimum() -> None:
    model = EnergyModel(min_floor_dbfs=-70.0)
    state = model.new_state(8_000)
    for _ in range(5):
        model.score(np.zeros((1, 80), np.float32), [state], 8_000)
    assert state.floor_dbfs == -70.0


def test_energy_supports_the_wire_rate_natively() -> None:
    assert EnergyModel().frame_samples(24_000) == 240
    assert EnergyModel(frame_ms=20).frame_samples(8_000) == 160


def test_webrtc_frames_are_30_ms_and_scores_binary() -> None:
    model = WebRtcModel(mode=0)
    assert [model.frame_samples(r) for r in (16_000, 8_000)] == [480, 240]
    samples, rate = fixture_audio(SPEECH_8K)
    frame = model.frame_samples(rate)
    frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
    state = model.new_state(rate)
    scores = np.concatenate([model.score(f[None], [state], rate) for f in frames])
    speech = speech_mask(SPEECH_8K, len(frames), frame, rate)
    assert set(np.unique(scores).tolist()) == {0.0, 1.0}  # a verdict, never a probability
    assert scores[~speech].max() == 0.0  # the silence before the utterance
    assert scores[speech].mean() > 0.8
    with pytest.raises(ValueError):
        WebRtcModel(mode=4)
    with pytest.raises(ValueError):
        model.frame_samples(24_000)
