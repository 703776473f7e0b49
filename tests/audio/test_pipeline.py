from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openapiopenai.audio import g711
from openapiopenai.audio.formats import PCM16_24K, PCMA, PCMU, AudioFormat
from openapiopenai.audio.pipeline import AudioPipeline, frame_levels_dbfs

RNG = np.random.default_rng(11)
PCM16_AUDIO = RNG.integers(-8000, 8000, 24_000 // 3, dtype=np.int16).astype("<i2").tobytes()  # 333 ms
G711_AUDIO = bytes(RNG.integers(0, 256, 8_000 // 3, dtype=np.uint8))
CASES = [
    (PCM16_24K, 16_000, 512, PCM16_AUDIO),
    (PCMU, 8_000, 256, G711_AUDIO),
    (PCMA, 16_000, 512, G711_AUDIO),
]


def pcm16_bytes(samples: np.ndarray) -> bytes:
    return np.clip(np.round(samples * 32768), -32768, 32767).astype("<i2").tobytes()


def push_all(pipeline: AudioPipeline, data: bytes, cuts: list[int]) -> np.ndarray:
    edges = [0, *sorted(set(cuts)), len(data)]
    out = [pipeline.push(data[a:b]) for a, b in itertools.pairwise(edges)]
    return np.concatenate(out)


@settings(max_examples=40, deadline=None)
@given(case=st.sampled_from(CASES), cuts=st.lists(st.integers(0, len(PCM16_AUDIO)), max_size=40))
def test_frames_are_bit_identical_however_the_bytes_are_chunked(
    case: tuple[AudioFormat, int, int, bytes], cuts: list[int]
) -> None:
    fmt, rate, frame, data = case
    whole = AudioPipeline(fmt, rate, frame).push(data)
    chunked = push_all(AudioPipeline(fmt, rate, frame), data, [c for c in cuts if c <= len(data)])
    assert chunked.dtype == np.float32 and chunked.shape[1] == frame
    assert np.array_equal(whole, chunked)


def test_odd_bytes_carry_over_between_pushes() -> None:
    samples = (np.arange(1_536) % 200 - 100).astype("<i2")
    data = samples.tobytes()
    pipeline = AudioPipeline(PCM16_24K, 24_000, 512)
    frames = [pipeline.push(data[i : i + 1]) for i in range(len(data))]
    assert pipeline.held_back_bytes == 0
    assert [len(f) for f in frames].count(1) == 3
    assert np.array_equal(np.concatenate(frames).ravel(), samples.astype(np.float32) / 32768)
    assert pipeline.push(b"\x01").shape == (0, 512)
    assert pipeline.held_back_bytes == 1


def test_nothing_is_dropped_without_resampling() -> None:
    pipeline = AudioPipeline(PCMU, 8_000, 256)
    total = sum(len(pipeline.push(G711_AUDIO[i : i + 100])) for i in range(0, len(G711_AUDIO), 100))
    assert total == pipeline.frames_emitted == len(G711_AUDIO) // 256


def test_a_click_lands_in_the_frame_of_its_input_time() -> None:
    # model frame k covers input samples [k * 768, (k + 1) * 768) at 24 kHz -> 16 kHz
    audio = np.zeros(24_000, dtype=np.float32)
    position = 7 * 768 + 300
    audio[position] = 0.9
    frames = AudioPipeline(PCM16_24K, 16_000, 512).push(pcm16_bytes(audio))
    k, offset = np.unravel_index(int(np.argmax(np.abs(frames))), frames.shape)
    assert (int(k), int(offset)) == (7, 200)


@pytest.mark.parametrize(
    ("fmt", "rate", "frame", "in_per_frame"), [(PCM16_24K, 16_000, 512, 768), (PCMU, 16_000, 512, 256)]
)
def test_a_tone_starting_on_a_frame_boundary_starts_in_that_frame(
    fmt: AudioFormat, rate: int, frame: int, in_per_frame: int
) -> None:
    onset_frame = 6
    t = np.arange(in_per_frame * 6) / fmt.sample_rate
    tone = (0.5 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
    audio = np.concatenate([np.zeros(in_per_frame * onset_frame, np.float32), tone])
    data = pcm16_bytes(audio) if fmt is PCM16_24K else g711.ulaw_encode(audio)
    levels = frame_levels_dbfs(AudioPipeline(fmt, rate, frame).push(data))
    assert np.all(levels[: onset_frame - 1] < -60)
    assert levels[onset_frame - 1] < -40  # only the filter's pre-echo reaches back
    assert levels[onset_frame] > -10


def test_reset_forgets_partial_input_and_restarts_frame_count() -> None:
    fresh = AudioPipeline(PCM16_24K, 16_000, 512).push(PCM16_AUDIO)
    pipeline = AudioPipeline(PCM16_24K, 16_000, 512)
    pipeline.push(PCM16_AUDIO[:1001])
    pipeline.reset()
    assert pipeline.frames_emitted == 0 and pipeline.held_back_bytes == 0
    assert np.array_equal(pipeline.push(PCM16_AUDIO), fresh)
    assert pipeline.frames_emitted == len(fresh)


def test_frames_handed_out_are_the_callers_to_keep() -> None:
    """The frames a push returns share no memory with what the pipeline carries: a caller that
    keeps (or scribbles on) them changes nothing that follows."""
    expected = AudioPipeline(PCM16_24K, 16_000, 512).push(PCM16_AUDIO)
    pipeline = AudioPipeline(PCM16_24K, 16_000, 512)
    step = 4_800  # 100 ms appends, each leaving a partial frame behind
    kept = []
    for start in range(0, len(PCM16_AUDIO), step):
        frames = pipeline.push(PCM16_AUDIO[start : start + step])
        kept.append(frames.copy())
        frames[:] = 7.0
    assert np.array_equal(np.concatenate(kept), expected)


def test_attributes_describe_the_path() -> None:
    pipeline = AudioPipeline(PCMU, 16_000, 512)
    assert (pipeline.input_rate, pipeline.model_rate, pipeline.frame_samples) == (8_000, 16_000, 512)
    assert pipeline.push(b"").shape == (0, 512)


def test_frame_levels_in_dbfs_with_a_floor() -> None:
    square = np.tile(np.array([1.0, -1.0], np.float32), 256)
    frames = np.stack([square, square * 0.5, np.zeros(512, np.float32), square * 1e-9])
    levels = frame_levels_dbfs(frames)
    assert levels[0] == pytest.approx(0.0)
    assert levels[1] == pytest.approx(-6.0206, abs=1e-3)
    assert levels[2] == levels[3] == -100.0
    assert frame_levels_dbfs(np.zeros((0, 512), np.float32)).shape == (0,)
