from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from openapiopenai.audio import g711

Encoder = Callable[[npt.ArrayLike], bytes]
Decoder = Callable[[bytes], npt.NDArray[np.int16]]
ALL_PCM16 = np.arange(-32768, 32768, dtype=np.int16)


@pytest.mark.parametrize(
    ("table", "code", "value"),
    [
        (g711.ULAW_TO_PCM16, 0xFF, 0),
        (g711.ULAW_TO_PCM16, 0x7F, 0),
        (g711.ULAW_TO_PCM16, 0x00, -32124),
        (g711.ULAW_TO_PCM16, 0x80, 32124),
        (g711.ALAW_TO_PCM16, 0xD5, 8),
        (g711.ALAW_TO_PCM16, 0x55, -8),
        (g711.ALAW_TO_PCM16, 0xAA, 32256),
        (g711.ALAW_TO_PCM16, 0x2A, -32256),
    ],
)
def test_decode_tables_match_reference_values(table: np.ndarray, code: int, value: int) -> None:
    assert table[code] == value


def test_decode_tables_are_sign_symmetric() -> None:
    assert np.array_equal(g711.ULAW_TO_PCM16[:128], -g711.ULAW_TO_PCM16[128:])
    assert np.array_equal(g711.ALAW_TO_PCM16[:128], -g711.ALAW_TO_PCM16[128:])


def test_decode_of_bytes_uses_the_tables() -> None:
    data = bytes(range(256))
    assert np.array_equal(g711.ulaw_decode(data), g711.ULAW_TO_PCM16)
    assert np.array_equal(g711.alaw_decode(data), g711.ALAW_TO_PCM16)


@pytest.mark.parametrize(
    ("encode", "decode"),
    [(g711.ulaw_encode_pcm16, g711.ulaw_decode), (g711.alaw_encode_pcm16, g711.alaw_decode)],
)
def test_every_code_survives_decode_then_encode(encode: Encoder, decode: Decoder) -> None:
    codes = bytes(range(256))
    decoded = decode(codes)
    # 0x7F/0xFF (mu-law) both decode to 0; encode picks the positive code
    assert np.array_equal(decode(encode(decoded)), decoded)


@pytest.mark.parametrize(
    ("encode", "decode"),
    [(g711.ulaw_encode_pcm16, g711.ulaw_decode), (g711.alaw_encode_pcm16, g711.alaw_decode)],
)
def test_round_trip_error_is_within_half_a_quantisation_step(encode: Encoder, decode: Decoder) -> None:
    restored = decode(encode(ALL_PCM16)).astype(np.int32)
    error = np.abs(restored - ALL_PCM16.astype(np.int32))
    magnitude = np.abs(ALL_PCM16.astype(np.int32))
    # steps double per segment: absolute error <= 16 near zero, <= ~1/16 of the value above;
    # the clipped top of the mu-law range (above 32124) is the only exception
    bound = np.maximum(16, magnitude / 16)
    in_range = magnitude <= 32124
    assert np.all(error[in_range] <= bound[in_range])
    assert error.max() <= 32767 - 32124 + 1


def test_float_encoders_scale_by_32768_and_clip() -> None:
    samples = np.array([0.0, 0.5, -0.5, 1.5, -1.5], dtype=np.float32)
    pcm = np.array([0, 16384, -16384, 32767, -32768], dtype=np.int16)
    assert g711.ulaw_encode(samples) == g711.ulaw_encode_pcm16(pcm)
    assert g711.alaw_encode(samples) == g711.alaw_encode_pcm16(pcm)


def test_encoders_are_bit_exact_with_audioop_where_it_still_exists() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")  # removed in Python 3.13
    data = ALL_PCM16.astype("<i2").tobytes()
    assert g711.ulaw_encode_pcm16(ALL_PCM16) == audioop.lin2ulaw(data, 2)
    assert g711.alaw_encode_pcm16(ALL_PCM16) == audioop.lin2alaw(data, 2)
    codes = bytes(range(256))
    assert np.array_equal(g711.ulaw_decode(codes), np.frombuffer(audioop.ulaw2lin(codes, 2), "<i2"))
    assert np.array_equal(g711.alaw_decode(codes), np.frombuffer(audioop.alaw2lin(codes, 2), "<i2"))
