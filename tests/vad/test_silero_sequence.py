"""The block graph derived from Silero's frame model scores exactly like the frame model.

The audio is a minute of the repository's speech fixtures strung together (``conversation``):
bit-exactness has to hold across speech, pauses and the model's state carried through hundreds
of frames, so a few seconds of one utterance would prove little.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soxr

from openapiopenai.vad.base import score_stream
from openapiopenai.vad.silero import SileroModel, default_model_path
from openapiopenai.vad.silero_sequence import LAYOUTS, build_sequence_model, self_check, sequence_model
from tests.audio._data import SPEECH, SPEECH_8K, SPEECH_THEN_SILENCE, TWO_TURNS, fixture_at

#: length of the scored audio (the frame model's state runs through all of it)
CONVERSATION_S = 60.0


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> object:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAPIOPENAI_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


def conversation(rate: int) -> npt.NDArray[np.float32]:
    """About ``CONVERSATION_S`` of speech and pauses at ``rate``, from the fixtures only.

    Each take is a fixture at a random gain (-16 to 0 dB) and speed (0.85x to 1.15x, which moves
    the pitch with it: other "speakers"), followed by a pause of 0.1-2.5 s; a -60 dBFS noise floor
    runs under everything, so the pauses are not digital silence. Seeded: the same on every run.
    """
    rng = np.random.default_rng(2026)
    names = [TWO_TURNS, SPEECH_THEN_SILENCE, SPEECH, SPEECH_8K]
    takes: list[npt.NDArray[np.float32]] = []
    total = 0
    while total < CONVERSATION_S * rate:
        samples = fixture_at(names[len(takes) // 2 % len(names)], rate)
        speed = float(rng.uniform(0.85, 1.15))
        take = soxr.resample(samples, rate * speed, rate) * (10 ** (rng.uniform(-16.0, 0.0) / 20))
        takes += [take.astype(np.float32), np.zeros(round(rng.uniform(0.1, 2.5) * rate), np.float32)]
        total += len(takes[-2]) + len(takes[-1])
    audio = np.concatenate(takes)
    return (audio + rng.normal(0.0, 1e-3, len(audio))).astype(np.float32)


def dev_frames(rate: int, frame: int) -> np.ndarray:
    """``conversation(rate)`` cut into the model's frames."""
    audio = conversation(rate)
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
    assert model.block_layout[rate] == "gemm"  # the fast layout passed its own check here
    assert expected.max() > 0.9 and expected.min() < 0.1  # speech and pauses
    block_ends = expected[99::100]  # the last frame of each block of 100
    assert (block_ends > 0.5).any() and (block_ends < 0.5).any()  # blocks end mid-speech and mid-pause
    assert np.abs(got - expected).max() == 0.0
    assert np.array_equal(blocks.state, one.state) and np.array_equal(blocks.context, one.context)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_is_bit_identical_on_real_speech(layout: str) -> None:
    """Each layout on its own (the model picks the first that passes), 16 kHz, blocks of 256."""
    import onnxruntime as ort

    model = SileroModel()
    graph = build_sequence_model(default_model_path(), 16_000, layout)  # type: ignore[arg-type]
    session = ort.InferenceSession(graph, sess_options=model._options, providers=["CPUExecutionProvider"])
    frames = dev_frames(16_000, 512)
    one = model.new_state(16_000)
    expected = np.concatenate([model.score(f[None], [one], 16_000) for f in frames])
    windows = np.concatenate([np.zeros((len(frames), 64), np.float32), frames], axis=1)
    windows[1:, :64] = frames[:-1, -64:]
    state = np.zeros((2, 1, 128), np.float32)
    got = []
    for start in range(0, len(frames), 256):
        probs, state = session.run(None, {"input": windows[start : start + 256], "state": state})
        got.append(probs)
    assert np.array_equal(np.concatenate(got), expected)
    assert np.array_equal(state, one.state)


def test_the_self_check_rejects_a_graph_one_ulp_off() -> None:
    model = SileroModel()
    session = model.block_session(16_000)
    assert session is not None
    sr = np.array(16_000, dtype=np.int64)

    def frame(window: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs, new_state = model._session.run(None, {"input": window, "state": state, "sr": sr})
        return probs, new_state

    def exact(window: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs, new_state = session.run(None, {"input": window, "state": state})
        return probs, new_state

    def off(window: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs, new_state = exact(window, state)
        probs[7] = np.nextafter(probs[7], np.float32(1.0))
        return probs, new_state

    assert self_check(exact, frame, 16_000)
    assert not self_check(off, frame, 16_000)


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
    cached = list(tmp_path.glob("silero_sequence_16000_gemm_*.onnx"))
    assert len(cached) == 1 and cached[0].read_bytes() == first
    cached[0].write_bytes(first + b"")  # the next load reads the file, not a rebuild
    assert sequence_model(default_model_path(), 16_000) == first
    assert not list(tmp_path.glob("*.tmp"))


def test_an_unwritable_cache_still_gives_the_graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("OPENAPIOPENAI_CACHE", str(blocker / "cache"))
    assert sequence_model(default_model_path(), 8_000) == build_sequence_model(default_model_path(), 8_000)


@pytest.mark.parametrize(("rate", "frame"), [(16_000, 512), (8_000, 256)])
def test_batched_scoring_across_streams_equals_the_frame_model(rate: int, frame: int) -> None:
    """The server's ``score`` (one frame of each of many streams) through the batch graph."""
    frames = dev_frames(rate, frame)
    fast, reference = SileroModel(), SileroModel(batch_graph=False)
    streams = 9
    fast_states = [fast.new_state(rate) for _ in range(streams)]
    ref_states = [reference.new_state(rate) for _ in range(streams)]
    rng = np.random.default_rng(5)
    got, want = [], []
    for step in range(120):
        # a changing subset of streams, each at its own place in the recording
        chosen = [i for i in range(streams) if rng.random() < 0.7] or [0]
        batch = np.stack([frames[(step + 97 * i) % len(frames)] for i in chosen])
        got.append(fast.score(batch, [fast_states[i] for i in chosen], rate))
        want.append(reference.score(batch, [ref_states[i] for i in chosen], rate))
    assert fast.batch_session(rate) is not None and reference.batch_session(rate) is None
    assert np.array_equal(np.concatenate(got), np.concatenate(want))
    assert np.concatenate(want).max() > 0.9  # speech among the frames: the comparison can fail
    for a, b in zip(fast_states, ref_states, strict=True):
        assert np.array_equal(a.state, b.state) and np.array_equal(a.context, b.context)


def test_the_batch_check_rejects_a_graph_one_ulp_off() -> None:
    from openapiopenai.vad.silero_sequence import batch_self_check

    model = SileroModel()
    session = model.batch_session(16_000)
    assert session is not None
    sr = np.array(16_000, dtype=np.int64)

    def frame(window: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs, new_state = model._session.run(None, {"input": window, "state": state, "sr": sr})
        return probs, new_state

    def exact(window: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs, new_state = session.run(None, {"input": window, "state": state})
        return probs, new_state

    def off(window: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs, new_state = exact(window, state)
        new_state[0, -1, 3] = np.nextafter(new_state[0, -1, 3], np.float32(2.0))
        return probs, new_state

    assert batch_self_check(exact, frame, 16_000)
    assert not batch_self_check(off, frame, 16_000)
