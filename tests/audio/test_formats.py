from __future__ import annotations

import numpy as np
import pytest

from openapiopenai.audio import formats, g711
from openapiopenai.audio.formats import PCM16_24K, PCMA, PCMU, AudioFormat, decode, from_beta, from_ga
from openapiopenai.exceptions import AudioFormatError, OpenapiopenaiError


@pytest.mark.parametrize(
    ("fmt", "ga", "beta", "rate", "width", "per_ms"),
    [
        (PCM16_24K, "audio/pcm", "pcm16", 24_000, 2, 48),
        (PCMU, "audio/pcmu", "g711_ulaw", 8_000, 1, 8),
        (PCMA, "audio/pcma", "g711_alaw", 8_000, 1, 8),
    ],
)
def test_constants_describe_the_wire_formats(
    fmt: AudioFormat, ga: str, beta: str, rate: int, width: int, per_ms: int
) -> None:
    assert (fmt.ga_type, fmt.beta_name, fmt.sample_rate, fmt.bytes_per_sample) == (ga, beta, rate, width)
    assert fmt.bytes_per_ms == per_ms
    assert from_ga(ga, None) is fmt
    assert from_ga(ga, rate) is fmt
    assert from_beta(beta) is fmt


def test_formats_are_frozen_and_compare_by_value() -> None:
    with pytest.raises(AttributeError):
        PCMU.sample_rate = 16_000  # type: ignore[misc]
    assert AudioFormat("audio/pcmu", "g711_ulaw", 8_000, 1) == PCMU
    assert formats.FORMATS == (PCM16_24K, PCMU, PCMA)


@pytest.mark.parametrize(
    ("kind", "rate"), [("audio/pcm", 16_000), ("audio/pcmu", 24_000), ("audio/pcm", True)]
)
def test_a_rate_other_than_the_formats_own_is_refused(kind: str, rate: int) -> None:
    with pytest.raises(AudioFormatError, match="rate"):
        from_ga(kind, rate)


def test_unknown_names_raise_audio_format_error_listing_the_choices() -> None:
    with pytest.raises(AudioFormatError, match="audio/pcmu") as ga:
        from_ga("audio/opus", None)
    with pytest.raises(AudioFormatError, match="g711_alaw") as beta:
        from_beta("opus")
    assert isinstance(ga.value, OpenapiopenaiError) and isinstance(beta.value, ValueError)


def test_pcm16_decodes_little_endian_scaled_by_32768() -> None:
    data = np.array([0, 1, -1, 16384, -32768, 32767], dtype="<i2").tobytes()
    out = decode(PCM16_24K, data)
    assert out.dtype == np.float32
    assert out.tolist() == [0.0, 1 / 32768, -1 / 32768, 0.5, -1.0, 32767 / 32768]


@pytest.mark.parametrize(("fmt", "table"), [(PCMU, g711.ULAW_TO_PCM16), (PCMA, g711.ALAW_TO_PCM16)])
def test_g711_decodes_through_the_tables(fmt: AudioFormat, table: np.ndarray) -> None:
    out = decode(fmt, bytes(range(256)))
    assert np.array_equal(out, table.astype(np.float32) / 32768)
    assert out.min() >= -1.0 and out.max() < 1.0


def test_decode_refuses_a_partial_sample() -> None:
    with pytest.raises(AudioFormatError, match="whole number"):
        decode(PCM16_24K, b"\x00\x01\x02")
    assert decode(PCM16_24K, b"").shape == (0,)


@pytest.mark.parametrize("fmt", [formats.PCM16_24K, formats.PCMU, formats.PCMA])
def test_encode_is_the_inverse_of_decode_within_the_formats_precision(fmt: formats.AudioFormat) -> None:
    samples = (0.5 * np.sin(np.arange(2400) / 7)).astype(np.float32)
    back = formats.decode(fmt, formats.encode(fmt, samples))
    tolerance = 1 / 32768 if fmt is formats.PCM16_24K else 0.02  # G.711 is 8-bit companded
    np.testing.assert_allclose(back, samples, atol=tolerance)
