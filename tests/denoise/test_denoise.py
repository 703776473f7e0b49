"""The denoisers: a fixed, stated delay; chunking-invariant; per-stream state; real attenuation."""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import numpy.typing as npt
import pytest

from openapiopenai.audio.formats import PCM16_24K
from openapiopenai.audio.pipeline import AudioPipeline
from openapiopenai.denoise import (
    DEFAULT_DENOISER,
    DENOISERS,
    Denoiser,
    DenoiseStream,
    analysis_denoise,
    denoise_audio,
    load_denoiser,
    server_denoiser,
)
from tests.audio._data import NOISE, TWO_TURNS, fixture_at, speech_segments

Float = npt.NDArray[np.float32]
#: seconds of the fixtures the tests use (the noise fixture is 6 s)
SECONDS = 4.0


@cache
def denoiser(name: str) -> Denoiser:
    return load_denoiser(name)


def speech(rate: int) -> Float:
    """Two espeak-ng utterances (the first from 0.3 s), 4 s."""
    return fixture_at(TWO_TURNS, rate)[: int(SECONDS * rate)]


def noise(rate: int) -> Float:
    """The seeded noise fixture (pink noise, hum, reversed-speech babble), 4 s."""
    return fixture_at(NOISE, rate)[: int(SECONDS * rate)]


def with_lead_in(x: Float, rate: int, seconds: float = 1.0) -> Float:
    """``x`` after ``seconds`` of silence: noise mixed over it is heard alone before the speech."""
    return np.concatenate((np.zeros(int(seconds * rate), np.float32), x))[: len(x)]


def lag_of_best_match(out: Float, reference: Float, max_lag: int) -> int:
    """The shift ``d`` that makes ``out[d:]`` most like ``reference`` (normalised correlation)."""
    n = len(reference) - max_lag
    scores = [
        float(np.dot(out[d : d + n], reference[:n])) / (np.linalg.norm(out[d : d + n]) + 1e-9)
        for d in range(max_lag)
    ]
    return int(np.argmax(scores))


def rms_db(x: Float) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


@pytest.mark.parametrize("name", DENOISERS)
@pytest.mark.parametrize("rate", [16_000, 8_000])
def test_output_is_the_input_delayed_by_exactly_the_stated_delay(name: str, rate: int) -> None:
    stream = DenoiseStream(denoiser(name), rate, "near_field")
    x = speech(rate)
    out = stream.process(x)
    assert len(out) == len(x)
    assert lag_of_best_match(out, x, 2 * stream.delay) == stream.delay


@pytest.mark.parametrize("name", DENOISERS)
def test_output_does_not_depend_on_how_the_input_is_chunked(name: str) -> None:
    x = speech(16_000)[:32_000] + 0.3 * noise(16_000)[:32_000]
    whole = DenoiseStream(denoiser(name), 16_000, "near_field").process(x)
    stream = DenoiseStream(denoiser(name), 16_000, "near_field")
    cuts = [0, 1, 7, 160, 161, 999, 5_000, 5_001, 20_480, len(x)]
    pieces = np.concatenate([stream.process(x[a:b]) for a, b in itertools.pairwise(cuts)])
    np.testing.assert_allclose(pieces, whole, atol=1e-4)


@pytest.mark.parametrize("name", DENOISERS)
def test_near_field_removes_most_of_a_noise_and_far_field_is_held_to_its_limit(name: str) -> None:
    d = denoiser(name)
    x = noise(16_000)
    near = DenoiseStream(d, 16_000, "near_field")
    far = DenoiseStream(d, 16_000, "far_field")
    near_drop = rms_db(x) - rms_db(near.process(x)[near.delay :])
    far_drop = rms_db(x) - rms_db(far.process(x)[far.delay :])
    assert near_drop > 10.0
    limit = d.limits_db["far_field"]  # type: ignore[attr-defined]
    assert far_drop < limit + 1.0
    assert near_drop > far_drop


@pytest.mark.parametrize("name", DENOISERS)
def test_speech_keeps_its_level(name: str) -> None:
    x = speech(16_000)
    out = denoise_audio(denoiser(name), x, 16_000, "near_field")
    assert len(out) == len(x)
    assert abs(rms_db(out) - rms_db(x)) < 3.0


@pytest.mark.parametrize("name", DENOISERS)
def test_two_streams_interleaved_give_what_each_gives_alone(name: str) -> None:
    a, b = speech(16_000) + 0.2 * noise(16_000), noise(16_000)
    alone_a = DenoiseStream(denoiser(name), 16_000, "near_field").process(a)
    alone_b = DenoiseStream(denoiser(name), 16_000, "far_field").process(b)
    sa = DenoiseStream(denoiser(name), 16_000, "near_field")
    sb = DenoiseStream(denoiser(name), 16_000, "far_field")
    out_a, out_b = [], []
    for i in range(0, len(a), 3_200):
        out_a.append(sa.process(a[i : i + 3_200]))
        out_b.append(sb.process(b[i : i + 3_200]))
    np.testing.assert_allclose(np.concatenate(out_a), alone_a, atol=1e-4)
    np.testing.assert_allclose(np.concatenate(out_b), alone_b, atol=1e-4)


@pytest.mark.parametrize("name", DENOISERS)
def test_reset_forgets_the_stream(name: str) -> None:
    x = speech(16_000)[:16_000] + 0.2 * noise(16_000)[:16_000]
    fresh = DenoiseStream(denoiser(name), 16_000, "near_field").process(x)
    used = DenoiseStream(denoiser(name), 16_000, "near_field")
    used.process(noise(16_000))
    used.reset()
    np.testing.assert_allclose(used.process(x), fresh, atol=1e-4)


def test_a_denoised_pipeline_keeps_frames_on_the_input_timeline() -> None:
    """Frame k of the denoised pipeline holds the same stretch of input as frame k without it."""
    x = speech(24_000)
    wire = np.clip(np.round(x * 32768), -32768, 32767).astype("<i2").tobytes()
    plain = AudioPipeline(PCM16_24K, 16_000, 512)
    denoised = AudioPipeline(
        PCM16_24K, 16_000, 512, denoise=DenoiseStream(denoiser("rnnoise"), 16_000, "near_field")
    )
    a = np.concatenate([plain.push(wire[i : i + 1_920]) for i in range(0, len(wire), 1_920)]).reshape(-1)
    b = np.concatenate([denoised.push(wire[i : i + 1_920]) for i in range(0, len(wire), 1_920)]).reshape(-1)
    assert denoised.frames_emitted < plain.frames_emitted  # the delay holds the last frames back
    assert lag_of_best_match(np.concatenate((np.zeros(400, np.float32), b)), a[: len(b)], 800) == 400


@pytest.mark.parametrize("chunk", [1_920, 1_001, 12_000])
def test_a_denoised_pipeline_hands_back_the_raw_frames_of_the_same_times(chunk: int) -> None:
    """The second opinion's frames: exactly what a pipeline without the stage gives, frame for
    frame beside the denoised ones, however the bytes are chunked, and again after a reset."""
    mix = speech(24_000) + 0.5 * noise(24_000)
    wire = np.clip(np.round(mix * 32768), -32768, 32767).astype("<i2").tobytes()
    plain = AudioPipeline(PCM16_24K, 16_000, 512).push(wire)
    denoised = AudioPipeline(
        PCM16_24K, 16_000, 512, denoise=DenoiseStream(denoiser("rnnoise"), 16_000, "near_field")
    )
    alone = AudioPipeline(
        PCM16_24K, 16_000, 512, denoise=DenoiseStream(denoiser("rnnoise"), 16_000, "near_field")
    ).push(wire)
    for _ in range(2):
        pairs = [denoised.push_with_raw(wire[i : i + chunk]) for i in range(0, len(wire), chunk)]
        cleaned = np.concatenate([c for c, _ in pairs])
        raw = np.concatenate([r for _, r in pairs])
        assert raw.shape == cleaned.shape and len(raw) < len(plain)
        np.testing.assert_array_equal(raw, plain[: len(raw)])
        np.testing.assert_allclose(cleaned, alone, atol=1e-4)
        assert np.abs(cleaned - raw).max() > 0.05  # the two streams do differ
        denoised.reset()


def test_a_pipeline_reset_restarts_the_denoiser_and_its_delay() -> None:
    x = speech(24_000)
    wire = np.clip(np.round(x * 32768), -32768, 32767).astype("<i2").tobytes()
    stage = DenoiseStream(denoiser("rnnoise"), 16_000, "near_field")
    pipeline = AudioPipeline(PCM16_24K, 16_000, 512, denoise=stage)
    first = pipeline.push(wire)
    pipeline.push(wire[: len(wire) // 3])
    pipeline.reset()
    np.testing.assert_allclose(pipeline.push(wire), first, atol=1e-4)


def test_the_analysis_hook_cleans_a_whole_clip_in_place() -> None:
    """Work requests: a clip at 16 kHz in, the same length out, aligned (no delay), noise down."""
    clean = analysis_denoise(denoiser("rnnoise"))
    x = with_lead_in(speech(16_000), 16_000)
    mixed = x + noise(16_000)
    out = clean(mixed, "near_field")
    assert len(out) == len(mixed)
    assert lag_of_best_match(np.concatenate((np.zeros(200, np.float32), out)), x, 400) == 200
    first_word = 1.0 + speech_segments(TWO_TURNS)[0][0]
    lead_in = slice(0, int(first_word * 16_000))  # the noise alone, before the first word
    assert rms_db(out[lead_in]) < rms_db(mixed[lead_in]) - 6.0
    with pytest.raises(ValueError, match="noise_reduction"):
        clean(mixed, "studio")


def test_the_server_setting_loads_the_default_or_says_why_not() -> None:
    loaded, hint = server_denoiser("auto")
    assert loaded is not None and loaded.name == DEFAULT_DENOISER and hint == ""
    off, why = server_denoiser("off")
    assert off is None and "--denoiser" in why
    with pytest.raises(ValueError, match="unknown denoiser"):
        server_denoiser("studio")


def test_work_request_audio_is_cleaned_only_when_its_slice_asks() -> None:
    """The shared prep function of work requests: decode, 16 kHz, then the hook if asked."""
    from openapiopenai.audio.analysis import analysis_audio
    from openapiopenai.protocol.work import AudioSlice

    x = with_lead_in(speech(24_000), 24_000) + noise(24_000)
    wire = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2").tobytes()
    hook = analysis_denoise(denoiser("rnnoise"))
    plain = analysis_audio(AudioSlice(wire, PCM16_24K, None), denoise=hook)
    np.testing.assert_array_equal(plain, analysis_audio(AudioSlice(wire, PCM16_24K, None)))
    cleaned = analysis_audio(AudioSlice(wire, PCM16_24K, "near_field"), denoise=hook)
    np.testing.assert_allclose(cleaned, hook(plain, "near_field"), atol=1e-6)
    lead_in = int((1.0 + speech_segments(TWO_TURNS)[0][0]) * 16_000)
    assert rms_db(cleaned[:lead_in]) < rms_db(plain[:lead_in]) - 6.0  # the noise before the first word
