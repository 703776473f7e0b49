from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openapiopenai.audio.resample import StreamingResampler

RNG = np.random.default_rng(7)
NOISE_24K = RNG.uniform(-0.5, 0.5, 24_000 // 4).astype(np.float32)  # 250 ms


def push_in_pieces(resampler: StreamingResampler, audio: np.ndarray, cuts: list[int]) -> np.ndarray:
    edges = [0, *sorted(set(cuts)), len(audio)]
    return np.concatenate([resampler.push(audio[a:b]) for a, b in itertools.pairwise(edges)])


@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(0, len(NOISE_24K)), max_size=30),
    rates=st.sampled_from([(24_000, 16_000), (8_000, 16_000), (24_000, 8_000), (16_000, 8_000)]),
)
def test_output_is_bit_identical_however_the_input_is_chunked(
    cuts: list[int], rates: tuple[int, int]
) -> None:
    audio = NOISE_24K
    whole = StreamingResampler(*rates).push(audio)
    pieces = push_in_pieces(StreamingResampler(*rates), audio, cuts)
    assert pieces.dtype == np.float32
    assert np.array_equal(whole, pieces)


def test_equal_rates_pass_samples_through() -> None:
    resampler = StreamingResampler(16_000, 16_000)
    assert resampler.identity
    assert np.array_equal(resampler.push(NOISE_24K[:123]), NOISE_24K[:123])
    assert resampler.flush().shape == (0,)


def test_output_is_delay_compensated_and_flush_returns_the_rest() -> None:
    click = np.zeros(24_000, dtype=np.float32)
    click[3_000] = 1.0
    resampler = StreamingResampler(24_000, 16_000)
    out = np.concatenate([resampler.push(click), resampler.flush()])
    assert len(out) == 16_000
    assert int(np.argmax(out)) == 2_000  # input sample 3000 at 24 kHz is sample 2000 at 16 kHz


def test_reset_forgets_history_and_carried_input() -> None:
    resampler = StreamingResampler(24_000, 16_000)
    resampler.push(RNG.uniform(-1, 1, 1_001).astype(np.float32))
    resampler.reset()
    assert np.array_equal(resampler.push(NOISE_24K), StreamingResampler(24_000, 16_000).push(NOISE_24K))


@pytest.mark.parametrize(("in_rate", "out_rate"), [(24_000, 16_000), (8_000, 16_000), (44_100, 16_000)])
def test_soxr_gives_the_same_for_many_blocks_in_one_call_as_for_one_block_per_call(
    in_rate: int, out_rate: int
) -> None:
    """The property StreamingResampler relies on to pass whole blocks to soxr at once."""
    import soxr

    block = in_rate // 100
    x = (np.random.default_rng(4).standard_normal(block * 420) * 0.1).astype(np.float32)

    def run(blocks_per_call: int) -> tuple[np.ndarray, list[int]]:
        stream = soxr.ResampleStream(in_rate, out_rate, 1, "float32", "HQ")
        outs, lengths = [], []
        for start in range(0, len(x), block * blocks_per_call):
            outs.append(stream.resample_chunk(x[start : start + block * blocks_per_call]))
            lengths.append(sum(map(len, outs)))
        return np.concatenate(outs), lengths

    one, one_lengths = run(1)
    for k in (3, 7, 20):
        many, many_lengths = run(k)
        np.testing.assert_array_equal(many, one[: len(many)])
        assert many_lengths == one_lengths[k - 1 :: k]
