"""The block graph derived from Silero's frame model scores exactly like the frame model."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import soxr

from openapiopenai.vad.base import score_stream
from openapiopenai.vad.silero import SileroModel, default_model_path
from openapiopenai.vad.silero_sequence import build_sequence_model, sequence_model
from tests.audio._data import AMI, TEN_VAD, read_audio


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> object:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAPIOPENAI_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


def dev_frames(rate: int, frame: int) -> np.ndarray:
    """Two real recordings back to back (speech, pauses, a speaker change), at ``rate``."""
    parts = []
    for folder, name in [(TEN_VAD, "testset-audio-03.wav"), (AMI, "trn00.wav")]:
        samples, source = read_audio(folder, name)
        samples = samples[: 60 * source]
        parts.append(soxr.resample(samples, source, rate).astype(np.float32))
    audio = np.concatenate(parts)
    n = len(audio) // frame
    return np.ascontiguousarray(audio[: n * frame].reshape(n, frame))


@pytest.mark.parametrize(("rate", "frame"), [(16_000, 512), (8_000, 256)])
def test_block_graph_is_bit_identical_to_the_frame_model(rate: int, frame: int) -> None:
    frames = dev_frames(rate, frame)
    model = SileroModel(block_frames=100)  # blocks that end mid-speech and mid-pause
    one = model.new_state(rate)
    expected = np.concatenate([model.score(f[None], [one], rate) for f in frames])
    blocks = model.new_state(rate)
    got = score_stream(model, frames, blocks, rate)
    assert expected.max() > 0.9 and expected.min() < 0.1  # speech and pauses
    assert np.abs(got - expected).max() == 0.0
    assert np.array_equal(blocks.state, one.state) and np.array_equal(blocks.context, one.context)


def test_block_calls_mixed_with_frame_calls_stay_exact() -> None:
    frames = dev_frames(16_000, 512)[:700]
    model = SileroModel(block_frames=64)
    one, mixed = model.new_state(16_000), model.new_state(16_000)
    expected = np.concatenate([model.score(f[None], [one], 16_000) for f in frames])
    cuts = [0, 2, 130, 131, 400, 403, 700]  # short runs take the frame loop, long ones the blocks
    got = np.concatenate(
        [score_stream(model, frames[a:b], mixed, 16_000) for a, b in itertools.pairwise(cuts)]
    )
    assert np.array_equal(got, expected)


def test_the_built_graph_is_cached_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAPIOPENAI_CACHE", str(tmp_path))
    first = sequence_model(default_model_path(), 16_000)
    cached = list(tmp_path.glob("silero_sequence_16000_*.onnx"))
    assert len(cached) == 1 and cached[0].read_bytes() == first
    cached[0].write_bytes(first + b"")  # the next load reads the file, not a rebuild
    assert sequence_model(default_model_path(), 16_000) == first
    assert not list(tmp_path.glob("*.tmp"))


def test_an_unwritable_cache_still_gives_the_graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("OPENAPIOPENAI_CACHE", str(blocker / "cache"))
    assert sequence_model(default_model_path(), 8_000) == build_sequence_model(default_model_path(), 8_000)
